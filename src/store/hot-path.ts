// The statements every device connect runs, prepared once per store instead of compiled per request
// (see DESIGN.md, "The hot path"). The SQL is written once, with `?` placeholders; PostgreSQL gets them
// numbered and runs the statements as named prepared statements. The statuses in the SQL come from the
// schema's types, so a renamed status cannot leave a stale string here.
//
// The hot path is an executor like any other store function's: on SQLite the prepared statements run on the
// one connection (inside a service's transaction when there is one); on PostgreSQL a transaction's statements
// go through the transaction's connection (compiled text, unnamed), and outside one through the pool as named
// prepared statements.
import type BetterSqlite3 from "better-sqlite3";
import { CompiledQuery } from "kysely";
import type { Executor, Store } from "./db.ts";
import type { QueueStatus } from "./schema.ts";

export interface Gate {
  status: string;
  cert_fingerprint: string | null;
  device_id: string;
  last_seen_at: number | null;
}

/** The gate after Idle, with whether anything is deliverable: nearly every Idle finds nothing, in one statement. */
export interface IdleGate extends Gate {
  queued: boolean;
}

export interface Candidate {
  command_uuid: string;
  deliveries: number;
  request_type: string;
  body: string;
  /** Null for most commands; the sealed plist for commands that carry secrets. */
  body_sealed: Uint8Array | null;
}

export interface HotPath {
  gate(enrollmentId: string): Promise<Gate | undefined>;
  /** gate() plus whether a command is deliverable after Idle (what nextCandidate would find, without it). */
  idleGate(enrollmentId: string, now: number): Promise<IdleGate | undefined>;
  /** The next deliverable command; after Idle, sent and NotNow'd ones are eligible again. */
  nextCandidate(enrollmentId: string, afterIdle: boolean, now: number): Promise<Candidate | undefined>;
  /** Marks a candidate sent if nobody else did meanwhile (compare-and-set on its delivery count). */
  claim(enrollmentId: string, commandUuid: string, deliveries: number, now: number): Promise<boolean>;
  touchLastSeen(enrollmentId: string, now: number): Promise<void>;
  requestType(commandUuid: string): Promise<string | undefined>;
  /** Writes the facts a DeviceInformation result reports; a null fact keeps the stored value. */
  updateDeviceFacts(enrollmentId: string, facts: DeviceFacts, now: number): Promise<void>;
}

/** The enrollment facts a DeviceInformation result refreshes (null: not reported, keep what is stored). */
export interface DeviceFacts {
  os_version: string | null;
  build_version: string | null;
  device_name: string | null;
  model: string | null;
  model_name: string | null;
  product_name: string | null;
  supervised: number | null;
}

const FACT_COLUMNS = ["os_version", "build_version", "device_name", "model", "model_name", "product_name", "supervised"] as const satisfies ReadonlyArray<keyof DeviceFacts>;
const factValues = (f: DeviceFacts) => FACT_COLUMNS.map((c) => f[c]);

/** Deliverable after an Idle: every outstanding command (NotNow'd ones, and ones sent on a broken connection). */
export const AFTER_IDLE_STATUSES: readonly QueueStatus[] = ["pending", "sent", "notnow"];
/** Deliverable after a result: only never-sent commands (NotNow'd ones wait for the next Idle, as Apple says). */
export const AFTER_RESULT_STATUSES: readonly QueueStatus[] = ["pending"];
const SENT: QueueStatus = "sent";

/** A SQL list of status literals; the values are the schema's own, never input. */
function statusList(statuses: readonly QueueStatus[]): string {
  return statuses.map((st) => `'${st}'`).join(", ");
}

export const AFTER_IDLE = statusList(AFTER_IDLE_STATUSES);
export const AFTER_RESULT = statusList(AFTER_RESULT_STATUSES);

export const HOT_PATH_SQL = {
  gate: "SELECT status, cert_fingerprint, device_id, last_seen_at FROM enrollments WHERE id = ?",
  idleGate:
    "SELECT e.status, e.cert_fingerprint, e.device_id, e.last_seen_at, EXISTS (SELECT 1 FROM command_queue q WHERE q.enrollment_id = e.id " +
    `AND q.status IN (${AFTER_IDLE}) AND (q.expires_at IS NULL OR q.expires_at > ?)) AS queued FROM enrollments e WHERE e.id = ?`,
  next: (statuses: string) =>
    `SELECT q.command_uuid, q.deliveries, c.request_type, c.body, c.body_sealed FROM command_queue q JOIN commands c ON c.uuid = q.command_uuid ` +
    `WHERE q.enrollment_id = ? AND q.status IN (${statuses}) AND (q.expires_at IS NULL OR q.expires_at > ?) ` +
    `ORDER BY q.priority DESC, q.queued_at, q.command_uuid LIMIT 1`,
  claim: `UPDATE command_queue SET status = '${SENT}', sent_at = ?, deliveries = deliveries + 1 WHERE enrollment_id = ? AND command_uuid = ? AND deliveries = ?`,
  touch: "UPDATE enrollments SET last_seen_at = ? WHERE id = ?",
  requestType: "SELECT request_type FROM commands WHERE uuid = ?",
  // One statement for any subset of facts (COALESCE keeps what was not reported), so it is prepared once.
  deviceFacts: `UPDATE enrollments SET ${FACT_COLUMNS.map((c) => `${c} = COALESCE(?, ${c})`).join(", ")}, updated_at = ? WHERE id = ?`,
};

const sqliteCache = new WeakMap<BetterSqlite3.Database, HotPath>();
const poolCache = new WeakMap<Store, HotPath>();

export function hotPath(ex: Executor): HotPath {
  if (ex.sqlite) {
    let hp = sqliteCache.get(ex.sqlite);
    if (!hp) sqliteCache.set(ex.sqlite, (hp = sqliteHotPath(ex.sqlite)));
    return hp;
  }
  if (ex.inTransaction) return postgresTransactionHotPath(ex);
  const store = ex as Store;
  let hp = poolCache.get(store);
  if (!hp) poolCache.set(store, (hp = postgresHotPath(store)));
  return hp;
}

/** A gate row as an array (better-sqlite3's raw mode): building a row object costs a name lookup per column. */
type GateRow = [status: string, certFingerprint: string | null, deviceId: string, lastSeenAt: number | null, queued?: number];

function sqliteHotPath(db: BetterSqlite3.Database): HotPath {
  const gate = db.prepare<[string], GateRow>(HOT_PATH_SQL.gate).raw(true);
  const idleGate = db.prepare<[number, string], GateRow>(HOT_PATH_SQL.idleGate).raw(true);
  const nextIdle = db.prepare<[string, number], Candidate>(HOT_PATH_SQL.next(AFTER_IDLE));
  const nextResult = db.prepare<[string, number], Candidate>(HOT_PATH_SQL.next(AFTER_RESULT));
  const claim = db.prepare<[number, string, string, number]>(HOT_PATH_SQL.claim);
  const touch = db.prepare<[number, string]>(HOT_PATH_SQL.touch);
  const requestType = db.prepare<[string], { request_type: string }>(HOT_PATH_SQL.requestType);
  const deviceFacts = db.prepare(HOT_PATH_SQL.deviceFacts);
  return {
    gate: async (id) => {
      const row = gate.get(id);
      return row && { status: row[0], cert_fingerprint: row[1], device_id: row[2], last_seen_at: row[3] };
    },
    idleGate: async (id, now) => {
      const row = idleGate.get(now, id);
      return row && { status: row[0], cert_fingerprint: row[1], device_id: row[2], last_seen_at: row[3], queued: row[4] === 1 };
    },
    nextCandidate: async (id, afterIdle, now) => (afterIdle ? nextIdle : nextResult).get(id, now),
    claim: async (id, uuid, deliveries, now) => claim.run(now, id, uuid, deliveries).changes === 1,
    touchLastSeen: async (id, now) => {
      touch.run(now, id);
    },
    requestType: async (uuid) => requestType.get(uuid)?.request_type,
    updateDeviceFacts: async (id, facts, now) => {
      deviceFacts.run(...factValues(facts), now, id);
    },
  };
}

function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function postgresHotPath(store: Store): HotPath {
  const pool = store.pool!;
  const q = <R>(name: string, text: string) => {
    const t = numbered(text);
    return async (values: unknown[]) => (await pool.query<R & object>({ name, text: t, values })).rows as R[];
  };
  const gate = q<Gate>("orchard_gate", HOT_PATH_SQL.gate);
  const idleGate = q<IdleGate>("orchard_idle_gate", HOT_PATH_SQL.idleGate);
  const nextIdle = q<Candidate>("orchard_next_idle", HOT_PATH_SQL.next(AFTER_IDLE));
  const nextResult = q<Candidate>("orchard_next_result", HOT_PATH_SQL.next(AFTER_RESULT));
  const claimText = numbered(HOT_PATH_SQL.claim);
  const touchText = numbered(HOT_PATH_SQL.touch);
  const requestType = q<{ request_type: string }>("orchard_request_type", HOT_PATH_SQL.requestType);
  return {
    gate: async (id) => (await gate([id]))[0],
    idleGate: async (id, now) => (await idleGate([now, id]))[0],
    nextCandidate: async (id, afterIdle, now) => (await (afterIdle ? nextIdle : nextResult)([id, now]))[0],
    claim: async (id, uuid, deliveries, now) => (await pool.query({ name: "orchard_claim", text: claimText, values: [now, id, uuid, deliveries] })).rowCount === 1,
    touchLastSeen: async (id, now) => {
      await pool.query({ name: "orchard_touch", text: touchText, values: [now, id] });
    },
    requestType: async (uuid) => (await requestType([uuid]))[0]?.request_type,
    updateDeviceFacts: async (id, facts, now) => {
      await pool.query({ name: "orchard_device_facts", text: numbered(HOT_PATH_SQL.deviceFacts), values: [...factValues(facts), now, id] });
    },
  };
}

/** The same statements on a PostgreSQL transaction's connection (a transaction is short-lived: no naming). */
function postgresTransactionHotPath(ex: Executor): HotPath {
  const run = async <R>(text: string, values: unknown[]) => (await ex.db.executeQuery<R>(CompiledQuery.raw(numbered(text), values))).rows;
  return {
    gate: async (id) => (await run<Gate>(HOT_PATH_SQL.gate, [id]))[0],
    idleGate: async (id, now) => (await run<IdleGate>(HOT_PATH_SQL.idleGate, [now, id]))[0],
    nextCandidate: async (id, afterIdle, now) => (await run<Candidate>(HOT_PATH_SQL.next(afterIdle ? AFTER_IDLE : AFTER_RESULT), [id, now]))[0],
    claim: async (id, uuid, deliveries, now) => Number((await ex.db.executeQuery(CompiledQuery.raw(numbered(HOT_PATH_SQL.claim), [now, id, uuid, deliveries]))).numAffectedRows ?? 0) === 1,
    touchLastSeen: async (id, now) => {
      await run(HOT_PATH_SQL.touch, [now, id]);
    },
    requestType: async (uuid) => (await run<{ request_type: string }>(HOT_PATH_SQL.requestType, [uuid]))[0]?.request_type,
    updateDeviceFacts: async (id, facts, now) => {
      await run(HOT_PATH_SQL.deviceFacts, [...factValues(facts), now, id]);
    },
  };
}
