// Queries for the command queue: one row per (enrollment, command) still to be done, and the results
// table that receives each row's outcome. Delivery claims a row with a compare-and-set on its delivery
// counter, so two simultaneous connects from one enrollment never receive the same command.
import type { Kysely } from "kysely";
import type { Database, QueueStatus, ResultStatus } from "./schema.ts";
import type { Executor, Tx } from "./db.ts";
import { hotPath } from "./hot-path.ts";

export interface NewCommand {
  uuid: string;
  requestType: string;
  /** The plist, or "" when bodySealed holds it. */
  body: string;
  bodySealed?: Uint8Array | null;
  priority: number;
  expiresAt: number | null;
  createdBy: string;
}

const INSERT_CHUNK = 500;

/** Inserts a command and its queue rows; a Tx, so the pushes and events it owes commit with it. */
export async function insertCommand(tx: Tx, cmd: NewCommand, targets: string[], now: number): Promise<void> {
  await tx.db
      .insertInto("commands")
      .values({
        uuid: cmd.uuid,
        request_type: cmd.requestType,
        body: cmd.body,
        body_sealed: cmd.bodySealed ?? null,
        priority: cmd.priority,
        expires_at: cmd.expiresAt,
        created_by: cmd.createdBy,
        target_count: targets.length,
        created_at: now,
      })
      .execute();
    for (let i = 0; i < targets.length; i += INSERT_CHUNK) {
      await tx.db
        .insertInto("command_queue")
        .values(
          targets.slice(i, i + INSERT_CHUNK).map((enrollment_id) => ({
            enrollment_id,
            command_uuid: cmd.uuid,
            status: "pending" as const,
            priority: cmd.priority,
            queued_at: now,
            expires_at: cmd.expiresAt,
            sent_at: null,
            deliveries: 0,
            notnow_at: null,
          })),
        )
        .execute();
  }
}

export interface Delivery {
  commandUuid: string;
  requestType: string;
  body: string;
  /** Present for commands that carry secrets: the body to open (and `body` is empty). */
  bodySealed: Uint8Array | null;
}

/**
 * Claims the next command for an enrollment. After an Idle every outstanding command is eligible again
 * (NotNow'd ones, and ones sent on a connection that broke); after a result only never-sent ones are,
 * so that NotNow'd commands wait for the next Idle as Apple specifies.
 */
export async function claimNext(store: Executor, enrollmentId: string, afterIdle: boolean, now: number): Promise<Delivery | undefined> {
  const hp = hotPath(store);
  for (let attempt = 0; attempt < 8; attempt++) {
    const row = await hp.nextCandidate(enrollmentId, afterIdle, now);
    if (!row) return undefined;
    if (await hp.claim(enrollmentId, row.command_uuid, row.deliveries, now)) return { commandUuid: row.command_uuid, requestType: row.request_type, body: row.body, bodySealed: row.body_sealed };
  }
  return undefined;
}

/** recorded: the report changed the command's state; repeated: a NotNow for a command already NotNow'd. */
export type ReportOutcome = "recorded" | "repeated" | "duplicate" | "unknown";

/** Stores a final result (Acknowledged, Error, CommandFormatError) and removes the row from the queue. */
export async function completeDelivery(
  tx: Tx,
  enrollmentId: string,
  commandUuid: string,
  status: Extract<ResultStatus, "acknowledged" | "error" | "commandformaterror">,
  raw: Uint8Array,
  errorChain: string | null,
  now: number,
): Promise<ReportOutcome> {
  const removed = await completeDeleteQuery(tx.db, enrollmentId, commandUuid).executeTakeFirst();
  if (Number(removed.numDeletedRows) === 0) return (await hasResult(tx.db, enrollmentId, commandUuid)) ? "duplicate" : "unknown";
  await tx.db
    .insertInto("command_results")
    .values({ command_uuid: commandUuid, enrollment_id: enrollmentId, status, raw, error_chain: errorChain, completed_at: now })
    .execute();
  return "recorded";
}

/** The delete that completes a delivery (exported so the query-plan test explains the statement that runs). */
export function completeDeleteQuery(db: Kysely<Database>, enrollmentId: string, commandUuid: string) {
  return db.deleteFrom("command_queue").where("enrollment_id", "=", enrollmentId).where("command_uuid", "=", commandUuid).where("status", "=", "sent");
}

/**
 * NotNow: the command stays queued, skipped until the next Idle. "recorded" the first time the command is
 * NotNow'd (worth an event); "repeated" when it was NotNow'd before (a locked device answers NotNow to the same
 * command on every connect: one event per command, not one per connect).
 */
export async function markNotNow(store: Executor, enrollmentId: string, commandUuid: string, now: number): Promise<ReportOutcome> {
  const row = store.db.updateTable("command_queue").where("enrollment_id", "=", enrollmentId).where("command_uuid", "=", commandUuid).where("status", "in", ["sent", "notnow"]);
  const first = await row.set({ status: "notnow", notnow_at: now }).where("notnow_at", "is", null).executeTakeFirst();
  if (Number(first.numUpdatedRows) === 1) return "recorded";
  const again = await row.set({ status: "notnow" }).executeTakeFirst();
  if (Number(again.numUpdatedRows) === 1) return "repeated";
  return (await hasResult(store.db, enrollmentId, commandUuid)) ? "duplicate" : "unknown";
}

async function hasResult(db: Kysely<Database>, enrollmentId: string, commandUuid: string): Promise<boolean> {
  return (await resultOfQuery(db, enrollmentId, commandUuid).executeTakeFirst()) !== undefined;
}

/** Whether a result is already stored (a duplicate report). Exported for the query-plan test. */
export function resultOfQuery(db: Kysely<Database>, enrollmentId: string, commandUuid: string) {
  return db.selectFrom("command_results").select("status").where("enrollment_id", "=", enrollmentId).where("command_uuid", "=", commandUuid);
}

/** Moves queue rows to a terminal result (expired or cancelled); returns the enrollment ids affected. */
async function retire(
  tx: Tx,
  rows: Array<{ enrollment_id: string; command_uuid: string }>,
  status: "expired" | "cancelled",
  now: number,
): Promise<void> {
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    const chunk = rows.slice(i, i + INSERT_CHUNK);
    await tx.db
      .insertInto("command_results")
      .values(chunk.map((r) => ({ command_uuid: r.command_uuid, enrollment_id: r.enrollment_id, status, raw: null, error_chain: null, completed_at: now })))
      .onConflict((oc) => oc.columns(["command_uuid", "enrollment_id"]).doNothing())
      .execute();
    for (const r of chunk) {
      await tx.db.deleteFrom("command_queue").where("enrollment_id", "=", r.enrollment_id).where("command_uuid", "=", r.command_uuid).execute();
    }
  }
}

export interface CancelOutcome {
  cancelled: number;
  /** Targets the command stays with (at most CANCEL_LIST_LIMIT): delivered and unanswered unless forced, or finished. */
  notCancelled: Array<{ enrollmentId: string; reason: string }>;
  /** How many targets the command stays with, listed or not. */
  notCancelledTotal: number;
}

/** How many targets a cancel names; the rest are counted (a command may have 100,000 targets). */
export const CANCEL_LIST_LIMIT = 1000;
export const DELIVERED_REASON = "already delivered; the device has not answered yet (force=true drops it)";

/**
 * Cancels a command for the targets that have not been sent it yet. A delivered command the device has not
 * answered stays (the device may be executing it) unless `force`: then its row moves to the terminal
 * `cancelled` result, so it is not resent at the next Idle, and a late report from the device is a duplicate.
 */
export async function cancelOutstanding(tx: Tx, commandUuid: string, now: number, force: boolean): Promise<CancelOutcome> {
  const rows = await tx.db.selectFrom("command_queue").select(["enrollment_id", "command_uuid", "status"]).where("command_uuid", "=", commandUuid).execute();
  // Read the finished targets before this cancel adds its own results.
  const finished = await tx.db
    .selectFrom("command_results")
    .select(["enrollment_id", "status"])
    .where("command_uuid", "=", commandUuid)
    .orderBy("enrollment_id")
    .limit(CANCEL_LIST_LIMIT)
    .execute();
  const finishedTotal = finished.length < CANCEL_LIST_LIMIT ? finished.length : Number((await tx.db.selectFrom("command_results").select((eb) => eb.fn.countAll<number>().as("n")).where("command_uuid", "=", commandUuid).executeTakeFirst())?.n ?? 0);
  const retired = rows.filter((r) => force || r.status !== "sent");
  await retire(tx, retired, "cancelled", now);
  const delivered = rows.filter((r) => !force && r.status === "sent").map((r) => ({ enrollmentId: r.enrollment_id, reason: DELIVERED_REASON }));
  const done = finished.map((d) => ({ enrollmentId: d.enrollment_id, reason: `already finished (${d.status})` }));
  return { cancelled: retired.length, notCancelled: [...delivered, ...done].slice(0, CANCEL_LIST_LIMIT), notCancelledTotal: delivered.length + finishedTotal };
}

/** Cancels a command for the targets that have not been sent it yet; returns how many were cancelled. */
export async function cancelPending(tx: Tx, commandUuid: string, now: number): Promise<number> {
  return (await cancelOutstanding(tx, commandUuid, now, false)).cancelled;
}

/** Expires queue rows past their expiry, in batches; returns how many expired. */
export async function expireDue(tx: Tx, now: number, batch = 1000): Promise<number> {
  const rows = await expiredRowsQuery(tx.db, now, batch).execute();
  await retire(tx, rows, "expired", now);
  return rows.length;
}

/** Queue rows past their expiry (exported for the query-plan test). */
export function expiredRowsQuery(db: Kysely<Database>, now: number, batch: number) {
  return db.selectFrom("command_queue").select(["enrollment_id", "command_uuid"]).where("expires_at", "is not", null).where("expires_at", "<=", now).limit(batch);
}

/** Deletes results (and commands with nothing left queued) older than the retention horizon. */
export async function pruneResults(store: Executor, olderThan: number): Promise<{ results: number; commands: number }> {
  const r = await pruneResultsQuery(store.db, olderThan).executeTakeFirst();
  const c = await store.db
    .deleteFrom("commands")
    .where("created_at", "<", olderThan)
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom("command_queue").select("command_uuid").whereRef("command_queue.command_uuid", "=", "commands.uuid"))))
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom("command_results").select("command_uuid").whereRef("command_results.command_uuid", "=", "commands.uuid"))))
    .executeTakeFirst();
  return { results: Number(r.numDeletedRows), commands: Number(c.numDeletedRows) };
}

/** The results older than the retention horizon (exported for the query-plan test). */
export function pruneResultsQuery(db: Kysely<Database>, olderThan: number) {
  return db.deleteFrom("command_results").where("completed_at", "<", olderThan);
}

/** A command's own row (what GET /commands/{uuid} shows above its targets). */
export async function getCommand(store: Executor, uuid: string) {
  return store.db.selectFrom("commands").select(["uuid", "request_type", "created_at", "expires_at", "created_by"]).where("uuid", "=", uuid).executeTakeFirst();
}

/** A command's plist as queued ("" when it carries secrets and is sealed), for a processor that needs its parameters. */
export async function commandBody(store: Executor, uuid: string): Promise<string | undefined> {
  return (await store.db.selectFrom("commands").select("body").where("uuid", "=", uuid).executeTakeFirst())?.body;
}

export interface TargetState {
  enrollmentId: string;
  status: QueueStatus | ResultStatus;
  raw: Uint8Array | null;
  errorChain: string | null;
  updatedAt: number | null;
}

/**
 * One page of a command's targets, in enrollment-id order after `after`: the queue's and the results' rows
 * are both read as index ranges and merged.
 */
export async function commandTargets(store: Executor, commandUuid: string, limit: number, after?: string): Promise<TargetState[]> {
  const { queued, done } = commandTargetsQueries(store.db, commandUuid, limit, after);
  const [q, d] = await Promise.all([queued.execute(), done.execute()]);
  return [
    ...q.map((r) => ({ enrollmentId: r.enrollment_id, status: r.status, raw: null, errorChain: null, updatedAt: r.sent_at ?? r.queued_at })),
    ...d.map((r) => ({ enrollmentId: r.enrollment_id, status: r.status, raw: r.raw, errorChain: r.error_chain, updatedAt: r.completed_at })),
  ]
    .sort((a, b) => (a.enrollmentId < b.enrollmentId ? -1 : a.enrollmentId > b.enrollmentId ? 1 : 0))
    .slice(0, limit);
}

/** The two index ranges commandTargets merges (exported for the query-plan test). */
export function commandTargetsQueries(db: Kysely<Database>, commandUuid: string, limit: number, after?: string) {
  let queued = db.selectFrom("command_queue").select(["enrollment_id", "status", "sent_at", "queued_at"]).where("command_uuid", "=", commandUuid);
  let done = db.selectFrom("command_results").select(["enrollment_id", "status", "raw", "error_chain", "completed_at"]).where("command_uuid", "=", commandUuid);
  if (after !== undefined) {
    queued = queued.where("enrollment_id", ">", after);
    done = done.where("enrollment_id", ">", after);
  }
  return { queued: queued.orderBy("enrollment_id").limit(limit), done: done.orderBy("enrollment_id").limit(limit) };
}

/** How many of a command's targets are in each state. */
export async function commandCounts(store: Executor, commandUuid: string): Promise<Record<string, number>> {
  const [q, d] = await Promise.all([
    store.db.selectFrom("command_queue").select(["status", (eb) => eb.fn.countAll<number>().as("n")]).where("command_uuid", "=", commandUuid).groupBy("status").execute(),
    store.db.selectFrom("command_results").select(["status", (eb) => eb.fn.countAll<number>().as("n")]).where("command_uuid", "=", commandUuid).groupBy("status").execute(),
  ]);
  const out: Record<string, number> = {};
  for (const r of [...q, ...d]) out[r.status] = (out[r.status] ?? 0) + Number(r.n);
  return out;
}

export interface EnrollmentCommandRow {
  commandUuid: string;
  requestType: string;
  status: QueueStatus | ResultStatus;
  queuedAt: number;
  updatedAt: number | null;
}

/** An enrollment's outstanding commands and its most recent results, newest first. */
export async function enrollmentCommands(store: Executor, enrollmentId: string, limit: number): Promise<{ queue: EnrollmentCommandRow[]; history: EnrollmentCommandRow[] }> {
  const { queue: queueQuery, history: historyQuery } = enrollmentCommandsQueries(store.db, enrollmentId, limit);
  const queue = await queueQuery.execute();
  const history = await historyQuery.execute();
  return {
    queue: queue.map((q) => ({ commandUuid: q.command_uuid, requestType: q.request_type, status: q.status, queuedAt: q.queued_at, updatedAt: q.sent_at })),
    history: history.map((h) => ({ commandUuid: h.command_uuid, requestType: h.request_type ?? "?", status: h.status, queuedAt: h.created_at ?? h.completed_at, updatedAt: h.completed_at })),
  };
}

/** The two reads behind enrollmentCommands (exported for the query-plan test). */
export function enrollmentCommandsQueries(db: Kysely<Database>, enrollmentId: string, limit: number) {
  return {
    queue: db
      .selectFrom("command_queue as q")
      .innerJoin("commands as c", "c.uuid", "q.command_uuid")
      .select(["q.command_uuid", "c.request_type", "q.status", "q.queued_at", "q.sent_at"])
      .where("q.enrollment_id", "=", enrollmentId)
      .orderBy("q.priority", "desc")
      .orderBy("q.queued_at")
      .limit(limit),
    history: db
      .selectFrom("command_results as r")
      .leftJoin("commands as c", "c.uuid", "r.command_uuid")
      .select(["r.command_uuid", "c.request_type", "c.created_at", "r.status", "r.completed_at"])
      .where("r.enrollment_id", "=", enrollmentId)
      .orderBy("r.completed_at", "desc")
      .limit(limit),
  };
}
