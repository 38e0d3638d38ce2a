// Queries for one-time SCEP challenges (scep_challenges): stored hashed, spent once, tied to an enrollment
// profile (enrollment) and/or a device (identity renewal).
import type { Kysely, Selectable } from "kysely";
import type { Executor } from "./db.ts";
import type { Database, ScepChallengesTable } from "./schema.ts";

export type ScepChallengeRow = Selectable<ScepChallengesTable>;

export async function insertScepChallenge(store: Executor, row: ScepChallengeRow): Promise<void> {
  await store.db.insertInto("scep_challenges").values(row).execute();
}

export async function scepChallengeByHash(store: Executor, challengeHash: string): Promise<ScepChallengeRow | undefined> {
  return oneTimeChallengeQuery(store.db, challengeHash).executeTakeFirst();
}

/** Spends a challenge if it is still unspent; false when another request spent it first. */
export async function spendScepChallenge(store: Executor, id: string, now: number): Promise<boolean> {
  const r = await store.db.updateTable("scep_challenges").set({ used_at: now }).where("id", "=", id).where("used_at", "is", null).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Whether a device has an unspent, unexpired challenge (a renewal on its way). */
export async function hasOpenScepChallengeFor(store: Executor, enrollmentId: string, now: number): Promise<boolean> {
  const open = await store.db
    .selectFrom("scep_challenges")
    .select("id")
    .where("enrollment_id", "=", enrollmentId)
    .where("used_at", "is", null)
    .where("expires_at", ">", now)
    .executeTakeFirst();
  return open !== undefined;
}

/** Exported so the query-plan test explains the statement that runs. */
export function oneTimeChallengeQuery(db: Kysely<Database>, challengeHash: string) {
  return db.selectFrom("scep_challenges").selectAll().where("challenge_hash", "=", challengeHash);
}
