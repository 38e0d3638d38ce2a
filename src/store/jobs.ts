// The jobs table: background work that survives restarts and runs once across replicas. A job is
// claimed by setting a lease (locked_by/locked_until); on PostgreSQL the claim skips rows other replicas
// hold (FOR UPDATE SKIP LOCKED), on SQLite the single writer serialises claims.
import { randomUUID } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import type { Dialect, Executor, Tx } from "./db.ts";
import type { Database, JobsTable } from "./schema.ts";

export type JobRow = Selectable<JobsTable>;

/** run_at of a job that gave up: kept for inspection, never claimed again. */
export const DEAD_JOB_RUN_AT = 8_000_000_000_000_000;

export interface NewJob {
  kind: string;
  payload: unknown;
  runAt?: number;
  maxAttempts?: number;
  /** At most one pending job per key: a second enqueue with the same key is a no-op. */
  singletonKey?: string;
}

export async function enqueueJob(store: Executor, job: NewJob): Promise<boolean> {
  const r = await store.db
    .insertInto("jobs")
    .values({
      id: randomUUID(),
      kind: job.kind,
      payload: JSON.stringify(job.payload),
      run_at: job.runAt ?? Date.now(),
      attempts: 0,
      max_attempts: job.maxAttempts ?? 5,
      locked_by: null,
      locked_until: null,
      last_error: null,
      created_at: Date.now(),
      singleton_key: job.singletonKey ?? null,
    })
    .onConflict((oc) => oc.column("singleton_key").doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Claims due jobs: the pick and the lease are one transaction, so two replicas never lease one job. */
export async function claimJobs(tx: Tx, worker: string, now: number, leaseMs: number, limit: number): Promise<JobRow[]> {
  const ids = (await claimableJobsQuery(tx.db, tx.dialect, now, limit).execute()).map((r) => r.id);
  if (ids.length === 0) return [];
  return tx.db
    .updateTable("jobs")
    .set((eb) => ({ locked_by: worker, locked_until: now + leaseMs, attempts: eb("attempts", "+", 1) }))
    .where("id", "in", ids)
    .returningAll()
    .execute();
}

/** The due, unleased jobs a worker claims (exported so the query-plan test explains this very statement). */
export function claimableJobsQuery(db: Kysely<Database>, dialect: Dialect, now: number, limit: number) {
  const pick = db
    .selectFrom("jobs")
    .select("id")
    .where("run_at", "<=", now)
    .where((eb) => eb.or([eb("locked_until", "is", null), eb("locked_until", "<", now)]))
    .orderBy("run_at")
    .limit(limit);
  return dialect === "postgres" ? pick.forUpdate().skipLocked() : pick;
}

export async function finishJob(store: Executor, id: string): Promise<void> {
  await store.db.deleteFrom("jobs").where("id", "=", id).execute();
}

/** Schedules another attempt, or parks the job as dead when it has used its attempts. */
export async function failJob(store: Executor, job: JobRow, error: string, retryAt: number): Promise<"retry" | "dead"> {
  const dead = job.attempts >= job.max_attempts;
  await store.db
    .updateTable("jobs")
    .set({ locked_by: null, locked_until: null, last_error: error.slice(0, 2000), run_at: dead ? DEAD_JOB_RUN_AT : retryAt, singleton_key: dead ? null : job.singleton_key })
    .where("id", "=", job.id)
    .execute();
  return dead ? "dead" : "retry";
}
