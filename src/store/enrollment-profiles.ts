// Queries for enrollment profiles (enrollment_profiles). Deleting a profile only marks it (deleted_at): devices
// enrolled through it still renew their identity with it, so "live" below means not marked.
import type { Kysely, Selectable, Updateable } from "kysely";
import type { Executor } from "./db.ts";
import type { Database, EnrollmentProfilesTable } from "./schema.ts";

export type ProfileRow = Selectable<EnrollmentProfilesTable>;

/** Whether any enrollment profile was ever made (deleted ones count): the first start makes a default one. */
export async function anyProfileEverMade(store: Executor): Promise<boolean> {
  return (await store.db.selectFrom("enrollment_profiles").select("id").limit(1).executeTakeFirst()) !== undefined;
}

/** The id of a live profile with this name other than `exceptId`, if any: names are unique among live profiles. */
export async function liveProfileIdByName(store: Executor, name: string, exceptId?: string): Promise<string | undefined> {
  let q = store.db.selectFrom("enrollment_profiles").select("id").where("name", "=", name).where("deleted_at", "is", null);
  if (exceptId !== undefined) q = q.where("id", "!=", exceptId);
  return (await q.executeTakeFirst())?.id;
}

/** Inserts a profile; throws the database's unique-violation error when a live profile has the name. */
export async function insertProfile(store: Executor, row: ProfileRow): Promise<void> {
  await store.db.insertInto("enrollment_profiles").values(row).execute();
}

export async function listLiveProfiles(store: Executor): Promise<ProfileRow[]> {
  return store.db.selectFrom("enrollment_profiles").selectAll().where("deleted_at", "is", null).orderBy("name").execute();
}

/** A profile by id, deleted or not. */
export async function profileById(store: Executor, id: string): Promise<ProfileRow | undefined> {
  return store.db.selectFrom("enrollment_profiles").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Live profiles whose id or name is `idOrName` (two when a name is another profile's id). */
export async function liveProfilesByIdOrName(store: Executor, idOrName: string): Promise<ProfileRow[]> {
  return store.db
    .selectFrom("enrollment_profiles")
    .selectAll()
    .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
    .where("deleted_at", "is", null)
    .execute();
}

export async function updateProfile(store: Executor, id: string, patch: Updateable<EnrollmentProfilesTable>): Promise<void> {
  await store.db.updateTable("enrollment_profiles").set(patch).where("id", "=", id).execute();
}

export async function markProfileDeleted(store: Executor, id: string, now: number): Promise<void> {
  await store.db.updateTable("enrollment_profiles").set({ deleted_at: now }).where("id", "=", id).execute();
}

export async function profileAccessRights(store: Executor, id: string): Promise<number | undefined> {
  return (await store.db.selectFrom("enrollment_profiles").select("access_rights").where("id", "=", id).executeTakeFirst())?.access_rights;
}

/** The profile a download link's token (hashed) points to, deleted or not. */
export async function profileByLinkTokenHash(store: Executor, tokenHash: string): Promise<ProfileRow | undefined> {
  return linkTokenQuery(store.db, tokenHash).executeTakeFirst();
}

/** The profile whose static SCEP challenge (hashed) this is, deleted or not. */
export async function profileByChallengeHash(store: Executor, challengeHash: string): Promise<Pick<ProfileRow, "id" | "expires_at" | "deleted_at"> | undefined> {
  return profileChallengeQuery(store.db, challengeHash).executeTakeFirst();
}

// The lookups a device's enrollment makes, by hashed secret; exported so the query-plan test explains them.
export function linkTokenQuery(db: Kysely<Database>, tokenHash: string) {
  return db.selectFrom("enrollment_profiles").selectAll().where("link_token_hash", "=", tokenHash);
}

export function profileChallengeQuery(db: Kysely<Database>, challengeHash: string) {
  return db.selectFrom("enrollment_profiles").select(["id", "expires_at", "deleted_at"]).where("challenge_hash", "=", challengeHash);
}
