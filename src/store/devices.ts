// Queries for devices (src/manage/devices): the device row, its change history and its latest raw answers.
// The normalised inventory lists (apps, profiles, certificates) are in device-inventory.ts.
import { sql, type Insertable, type Kysely, type Selectable, type Updateable } from "kysely";
import type { Executor, Tx } from "./db.ts";
import type { Database, DeviceHistoryTable, DeviceInventoryRawTable, DevicesTable } from "./schema.ts";
import { prepared } from "./sqlite-statements.ts";

export type DeviceRow = Selectable<DevicesTable>;
export type DevicePatch = Updateable<DevicesTable>;
export type DeviceHistoryRow = Selectable<DeviceHistoryTable>;
export type NewDeviceHistory = Insertable<DeviceHistoryTable>;

// Every inventory result reads the device, updates it and keeps its raw answer: on SQLite those run as prepared
// statements (sqlite-statements.ts); on PostgreSQL through kysely on the result's transaction.

export async function getDevice(store: Executor, id: string): Promise<DeviceRow | undefined> {
  if (store.sqlite) return prepared(store.sqlite, "SELECT * FROM devices WHERE id = ?").get(id) as DeviceRow | undefined;
  return store.db.selectFrom("devices").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function insertDevice(tx: Tx, row: Insertable<DevicesTable>): Promise<void> {
  await tx.db.insertInto("devices").values(row).execute();
}

export async function updateDevice(store: Executor, id: string, patch: DevicePatch): Promise<void> {
  if (store.sqlite) {
    // One statement per set of columns (the column names are the schema's, from the typed patch, never input).
    const columns = (Object.keys(patch) as Array<keyof DevicePatch>).filter((c) => patch[c] !== undefined).sort();
    if (columns.length === 0) return;
    prepared(store.sqlite, `UPDATE devices SET ${columns.map((c) => `"${c}" = ?`).join(", ")} WHERE id = ?`).run(...columns.map((c) => patch[c] ?? null), id);
    return;
  }
  await store.db.updateTable("devices").set(patch).where("id", "=", id).execute();
}

export interface DeviceFilter {
  platform?: string;
  serialNumber?: string;
  udid?: string;
  name?: string;
  supervised?: boolean;
  enrollmentProfileId?: string;
}

/** One page of devices ordered by id, starting after `after`. */
export async function listDevices(store: Executor, filter: DeviceFilter, limit: number, after?: string): Promise<DeviceRow[]> {
  return listDevicesQuery(store.db, filter, limit, after).execute();
}

/** Exported so the query-plan test explains the statement that runs. */
export function listDevicesQuery(db: Kysely<Database>, filter: DeviceFilter, limit: number, after?: string) {
  let q = db.selectFrom("devices").selectAll();
  if (filter.platform !== undefined) q = q.where("platform", "=", filter.platform);
  if (filter.serialNumber !== undefined) q = q.where("serial_number", "=", filter.serialNumber);
  if (filter.udid !== undefined) q = q.where("udid", "=", filter.udid);
  if (filter.name !== undefined) q = q.where("device_name", "=", filter.name);
  if (filter.supervised !== undefined) q = q.where("supervised", "=", filter.supervised ? 1 : 0);
  if (filter.enrollmentProfileId !== undefined) q = q.where("enrollment_profile_id", "=", filter.enrollmentProfileId);
  if (after !== undefined) q = q.where("id", ">", after);
  return q.orderBy("id").limit(limit);
}

export interface DeviceCounts {
  apps: number;
  profiles: number;
  certificates: number;
  /** The device's enrollments: its own channel and its user channels. */
  channels: number;
}

/** How many apps, profiles, certificates and channels a device has, in one statement. */
export async function deviceCounts(store: Executor, id: string): Promise<DeviceCounts> {
  const r = await store.db
    .selectNoFrom((eb) => [
      eb.selectFrom("device_apps").select(eb.fn.countAll<number>().as("n")).where("device_id", "=", id).as("apps"),
      eb.selectFrom("device_profiles").select(eb.fn.countAll<number>().as("n")).where("device_id", "=", id).as("profiles"),
      eb.selectFrom("device_certificates").select(eb.fn.countAll<number>().as("n")).where("device_id", "=", id).as("certificates"),
      eb.selectFrom("enrollments").select(eb.fn.countAll<number>().as("n")).where("device_id", "=", id).as("channels"),
    ])
    .executeTakeFirstOrThrow();
  return { apps: Number(r.apps ?? 0), profiles: Number(r.profiles ?? 0), certificates: Number(r.certificates ?? 0), channels: Number(r.channels ?? 0) };
}

// 7 columns a row: 500 rows stay far below SQLite's and PostgreSQL's bound-parameter limits.
const HISTORY_CHUNK = 500;

/** History rows, inserted in a few multi-row statements. */
export async function insertHistory(tx: Tx, rows: ReadonlyArray<Insertable<DeviceHistoryTable>>): Promise<void> {
  if (tx.sqlite) {
    const insert = prepared(tx.sqlite, "INSERT INTO device_history (id, device_id, at, kind, field, from_value, to_value) VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (const r of rows) insert.run(r.id, r.device_id, r.at, r.kind, r.field, r.from_value ?? null, r.to_value ?? null);
    return;
  }
  for (let i = 0; i < rows.length; i += HISTORY_CHUNK) await tx.db.insertInto("device_history").values(rows.slice(i, i + HISTORY_CHUNK)).execute();
}

/** One page of a device's history, newest first, starting after the (at, id) of the previous page's last row. */
export async function listHistory(store: Executor, deviceId: string, limit: number, after?: readonly [number, string]): Promise<DeviceHistoryRow[]> {
  return listHistoryQuery(store.db, deviceId, limit, after).execute();
}

/** Exported so the query-plan test explains the statement that runs. */
export function listHistoryQuery(db: Kysely<Database>, deviceId: string, limit: number, after?: readonly [number, string]) {
  let q = db.selectFrom("device_history").selectAll().where("device_id", "=", deviceId);
  if (after) {
    const [at, id] = after;
    q = q.where((eb) => eb.or([eb("at", "<", at), eb.and([eb("at", "=", at), eb("id", "<", id)])]));
  }
  return q.orderBy("at", "desc").orderBy("id", "desc").limit(limit);
}

/** Keeps the latest raw answer of one query type for a device (replacing the previous one). */
export async function upsertInventoryRaw(tx: Tx, row: Insertable<DeviceInventoryRawTable>): Promise<void> {
  if (tx.sqlite) {
    prepared(
      tx.sqlite,
      "INSERT INTO device_inventory_raw (device_id, query_type, raw, warnings, received_at) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (device_id, query_type) DO UPDATE SET raw = excluded.raw, warnings = excluded.warnings, received_at = excluded.received_at",
    ).run(row.device_id, row.query_type, row.raw, row.warnings, row.received_at);
    return;
  }
  await tx.db
    .insertInto("device_inventory_raw")
    .values(row)
    .onConflict((oc) => oc.columns(["device_id", "query_type"]).doUpdateSet({ raw: row.raw, warnings: row.warnings, received_at: row.received_at }))
    .execute();
}

/** Whether a raw answer of this query type was ever stored for the device (the first list is a baseline). */
export async function hasInventoryRaw(store: Executor, deviceId: string, queryType: string): Promise<boolean> {
  const r = await store.db.selectFrom("device_inventory_raw").select("query_type").where("device_id", "=", deviceId).where("query_type", "=", queryType).executeTakeFirst();
  return r !== undefined;
}

/** What each query type's latest answer left unread, and when it came. */
export async function inventoryWarnings(store: Executor, deviceId: string): Promise<Array<Pick<Selectable<DeviceInventoryRawTable>, "query_type" | "warnings" | "received_at">>> {
  return store.db.selectFrom("device_inventory_raw").select(["query_type", "warnings", "received_at"]).where("device_id", "=", deviceId).orderBy("query_type").execute();
}

// Inventory collection (src/manage/devices/inventory-collection.ts).

/**
 * The device row, locked until the end of `tx` on PostgreSQL (FOR UPDATE), so two collections for one device
 * (its activation's job, the schedule, an operator's refresh) run one after the other and the second sees the
 * first's commands. SQLite's single writer serialises them already.
 */
export async function lockDevice(tx: Tx, id: string): Promise<DeviceRow | undefined> {
  const q = tx.db.selectFrom("devices").selectAll().where("id", "=", id);
  return (tx.dialect === "postgres" ? q.forUpdate() : q).executeTakeFirst();
}

/**
 * The request types of the device's outstanding inventory commands (queued, sent or NotNow, not yet past their
 * expiry), inventory commands being those whose CommandUUID starts with `uuidPrefix`.
 */
export async function outstandingInventoryTypes(store: Executor, deviceId: string, uuidPrefix: string, now: number): Promise<Set<string>> {
  const rows = await outstandingInventoryQuery(store.db, deviceId, uuidPrefix, now).execute();
  return new Set(rows.map((r) => r.request_type));
}

/** Exported so the query-plan test explains the statement that runs: the device's queue rows by enrollment id, each command by its key. */
export function outstandingInventoryQuery(db: Kysely<Database>, deviceId: string, uuidPrefix: string, now: number) {
  return db
    .selectFrom("command_queue as q")
    .innerJoin("commands as c", "c.uuid", "q.command_uuid")
    .select("c.request_type")
    .distinct()
    .where("q.enrollment_id", "=", deviceId)
    // substr rather than LIKE: exact and case-sensitive on both databases, with nothing to escape.
    .where((eb) => eb(eb.fn<string>("substr", ["q.command_uuid", sql.lit(1), sql.lit(uuidPrefix.length)]), "=", uuidPrefix))
    .where((eb) => eb.or([eb("q.expires_at", "is", null), eb("q.expires_at", ">", now)]));
}

/** Sets when the device's next scheduled collection is due. */
export async function setInventoryDue(tx: Tx, deviceId: string, dueAt: number): Promise<void> {
  await tx.db
    .insertInto("device_inventory_schedule")
    .values({ device_id: deviceId, due_at: dueAt })
    .onConflict((oc) => oc.column("device_id").doUpdateSet({ due_at: dueAt }))
    .execute();
}

/** Takes the device off the collection schedule (it unenrolled; its next activation puts it back). */
export async function dropInventoryDue(tx: Tx, deviceId: string): Promise<void> {
  await tx.db.deleteFrom("device_inventory_schedule").where("device_id", "=", deviceId).execute();
}

/** The devices whose scheduled collection is due at `now`, the longest overdue first, at most `limit`. */
export async function dueForInventory(store: Executor, now: number, limit: number): Promise<string[]> {
  return (await dueForInventoryQuery(store.db, now, limit).execute()).map((r) => r.device_id);
}

/** Exported so the query-plan test explains the statement that runs. */
export function dueForInventoryQuery(db: Kysely<Database>, now: number, limit: number) {
  return db.selectFrom("device_inventory_schedule").select("device_id").where("due_at", "<=", now).orderBy("due_at").orderBy("device_id").limit(limit);
}

/** When the device's next scheduled collection is due, if it is on the schedule. */
export async function inventoryDueAt(store: Executor, deviceId: string): Promise<number | undefined> {
  const r = await store.db.selectFrom("device_inventory_schedule").select("due_at").where("device_id", "=", deviceId).executeTakeFirst();
  return r === undefined ? undefined : Number(r.due_at);
}
