// Queries behind pushing: what a push to an enrollment needs (token, magic, topic, gateway), the outcome
// written back in batches, and the push_retries rows the re-push sweep walks through by due time.
import { sql, type Kysely } from "kysely";
import type { Executor, Tx } from "./db.ts";
import type { Database } from "./schema.ts";

export interface PushTargetRow {
  id: string;
  status: string;
  topic: string | null;
  push_token: string | null;
  push_magic: string | null;
  token_invalid_at: number | null;
  last_push_at: number | null;
  last_push_result: string | null;
  /** UseDevelopmentAPNS of the enrollment profile, when known. */
  use_development_apns: number | null;
}

const CHUNK = 500;

/** The push facts of the given enrollments (unknown ids are left out). */
export async function pushTargets(store: Executor, ids: readonly string[]): Promise<PushTargetRow[]> {
  const out: PushTargetRow[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await store.db
      .selectFrom("enrollments as e")
      .leftJoin("enrollment_profiles as p", "p.id", "e.enrollment_profile_id")
      .select(["e.id", "e.status", "e.topic", "e.push_token", "e.push_magic", "e.token_invalid_at", "e.last_push_at", "e.last_push_result", "p.use_development_apns"])
      .where("e.id", "in", ids.slice(i, i + CHUNK))
      .execute();
    for (const r of rows) out.push(r);
  }
  return out;
}

/** Ids among `ids` that exist as enrollments. */
export async function existingEnrollments(store: Executor, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await store.db.selectFrom("enrollments").select("id").where("id", "in", ids.slice(i, i + CHUNK)).execute();
    for (const r of rows) found.add(r.id);
  }
  return found;
}

export interface OutcomeBatch {
  /** Stored as last_push_result: "ok", or the APNs reason / transport error. */
  result: string;
  ids: string[];
  /** The token is no longer valid (400 BadDeviceToken/DeviceTokenNotForTopic, 410 Unregistered). */
  invalidToken?: boolean;
}

/** Writes last_push_at/last_push_result (and token_invalid_at) with one statement per outcome and chunk. */
export async function recordPushOutcomes(tx: Tx, batches: readonly OutcomeBatch[], now: number): Promise<void> {
  for (const b of batches) {
    for (let i = 0; i < b.ids.length; i += CHUNK) {
      await tx.db
        .updateTable("enrollments")
        .set({ last_push_at: now, last_push_result: b.result.slice(0, 200), ...(b.invalidToken ? { token_invalid_at: now } : {}) })
        .where("id", "in", b.ids.slice(i, i + CHUNK))
        .execute();
    }
  }
}

export interface RetryPlan {
  enrollmentId: string;
  retryAt: number;
  attempts: number;
}

/** Inserts or moves push_retries rows (one statement per chunk). */
export async function scheduleRetries(store: Executor, plans: readonly RetryPlan[], pushedAt: number): Promise<void> {
  for (let i = 0; i < plans.length; i += CHUNK) {
    await store.db
      .insertInto("push_retries")
      .values(plans.slice(i, i + CHUNK).map((p) => ({ enrollment_id: p.enrollmentId, retry_at: p.retryAt, attempts: p.attempts, pushed_at: pushedAt })))
      .onConflict((oc) =>
        oc.column("enrollment_id").doUpdateSet({
          retry_at: (eb) => eb.ref("excluded.retry_at"),
          attempts: (eb) => eb.ref("excluded.attempts"),
          pushed_at: (eb) => eb.ref("excluded.pushed_at"),
        }),
      )
      .execute();
  }
}

export interface DueRetry {
  enrollment_id: string;
  attempts: number;
  pushed_at: number;
  last_seen_at: number | null;
  status: string | null;
  token_invalid_at: number | null;
}

/** The retries due now, oldest first, through the push_retries_due index. */
export async function dueRetries(store: Executor, now: number, limit: number): Promise<DueRetry[]> {
  return dueRetriesQuery(store.db, now, limit).execute();
}

/** Exported so the query-plan test explains the statement the sweep runs. */
export function dueRetriesQuery(db: Kysely<Database>, now: number, limit: number) {
  return db
    .selectFrom("push_retries as r")
    .leftJoin("enrollments as e", "e.id", "r.enrollment_id")
    .select(["r.enrollment_id", "r.attempts", "r.pushed_at", "e.last_seen_at", "e.status", "e.token_invalid_at"])
    .where("r.retry_at", "<=", now)
    .orderBy("r.retry_at")
    .limit(limit);
}

export async function deleteRetries(store: Executor, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += CHUNK) {
    await store.db.deleteFrom("push_retries").where("enrollment_id", "in", ids.slice(i, i + CHUNK)).execute();
  }
}

/** Of `ids`, those with a command not yet answered (never sent, or sent without an answer). */
export async function withOutstandingCommands(store: Executor, ids: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await store.db
      .selectFrom("command_queue")
      .select("enrollment_id")
      .distinct()
      .where("enrollment_id", "in", ids.slice(i, i + CHUNK))
      .where("status", "in", ["pending", "sent"])
      .execute();
    for (const r of rows) out.add(r.enrollment_id);
  }
  return out;
}

/** Counts of push_retries rows, for the API's overview. */
export async function retryBacklog(store: Executor, now: number): Promise<{ scheduled: number; due: number }> {
  const r = await store.db
    .selectFrom("push_retries")
    .select([(eb) => eb.fn.countAll<number>().as("scheduled"), sql<number>`sum(case when retry_at <= ${now} then 1 else 0 end)`.as("due")])
    .executeTakeFirst();
  return { scheduled: Number(r?.scheduled ?? 0), due: Number(r?.due ?? 0) };
}
