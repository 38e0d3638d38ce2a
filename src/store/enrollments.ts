// Queries for enrollments (device and user channels).
import type { Kysely, Selectable, Updateable } from "kysely";
import type { Executor, Tx } from "./db.ts";
import type { Database, EnrollmentsTable } from "./schema.ts";

export type EnrollmentRow = Selectable<EnrollmentsTable>;
export type EnrollmentPatch = Updateable<EnrollmentsTable>;

export async function getEnrollment(store: Executor, id: string): Promise<EnrollmentRow | undefined> {
  return store.db.selectFrom("enrollments").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function insertEnrollment(store: Executor, row: EnrollmentRow): Promise<void> {
  await store.db.insertInto("enrollments").values(row).execute();
}

export async function updateEnrollment(store: Executor, id: string, patch: EnrollmentPatch): Promise<boolean> {
  const r = await store.db.updateTable("enrollments").set(patch).where("id", "=", id).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Applies a patch to every channel of a device (its own row and its users'). */
export async function updateDeviceChannels(store: Executor, deviceId: string, patch: EnrollmentPatch): Promise<void> {
  await updateDeviceChannelsQuery(store.db, deviceId, patch).execute();
}

/** Exported so the query-plan test explains the statement that runs. */
export function updateDeviceChannelsQuery(db: Kysely<Database>, deviceId: string, patch: EnrollmentPatch) {
  return db.updateTable("enrollments").set(patch).where("device_id", "=", deviceId);
}

/**
 * How many user channels (macOS users, Shared iPad users) a device has, whatever their status. On PostgreSQL the
 * device's own row is locked first, so that two transactions creating channels for one device count one after
 * the other (a limit checked against this count holds); SQLite's single writer already serialises them.
 */
export async function countUserChannelsForUpdate(tx: Tx, deviceId: string): Promise<number> {
  if (tx.dialect === "postgres") await tx.db.selectFrom("enrollments").select("id").where("id", "=", deviceId).forUpdate().execute();
  const r = await tx.db
    .selectFrom("enrollments")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("device_id", "=", deviceId)
    .where("channel", "!=", "device")
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** Device ids other than `deviceId` whose channels are bound to this certificate. */
export async function otherDevicesBoundTo(store: Executor, fingerprint: string, deviceId: string): Promise<string[]> {
  const rows = await otherDevicesBoundToQuery(store.db, fingerprint, deviceId).execute();
  return [...new Set(rows.map((r) => r.device_id))];
}

/** Exported so the query-plan test explains the statement that runs. */
export function otherDevicesBoundToQuery(db: Kysely<Database>, fingerprint: string, deviceId: string) {
  return db.selectFrom("enrollments").select("device_id").where("cert_fingerprint", "=", fingerprint).where("device_id", "!=", deviceId).limit(5);
}

export interface EnrollmentFilter {
  status?: string;
  channel?: string;
  serialNumber?: string;
  deviceId?: string;
  enrollmentProfileId?: string;
  platform?: string;
}

export async function listEnrollments(store: Executor, filter: EnrollmentFilter, limit: number, after?: string): Promise<EnrollmentRow[]> {
  let q = store.db.selectFrom("enrollments").selectAll();
  if (filter.status) q = q.where("status", "=", filter.status as EnrollmentRow["status"]);
  if (filter.channel) q = q.where("channel", "=", filter.channel as EnrollmentRow["channel"]);
  if (filter.serialNumber) q = q.where("serial_number", "=", filter.serialNumber);
  if (filter.deviceId) q = q.where("device_id", "=", filter.deviceId);
  if (filter.enrollmentProfileId) q = q.where("enrollment_profile_id", "=", filter.enrollmentProfileId);
  if (filter.platform) q = q.where("platform", "=", filter.platform);
  if (after) q = q.where("id", ">", after);
  return q.orderBy("id").limit(limit).execute();
}

/** Enrollments among `ids` that exist, with what the command policy needs to know about each. */
export async function enrollmentsForTargeting(store: Executor, ids: string[]): Promise<Array<Pick<EnrollmentRow, "id" | "device_id" | "channel" | "kind" | "status" | "platform" | "os_version" | "supervised" | "enrollment_profile_id">>> {
  const out: Array<Pick<EnrollmentRow, "id" | "device_id" | "channel" | "kind" | "status" | "platform" | "os_version" | "supervised" | "enrollment_profile_id">> = [];
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    out.push(
      ...(await store.db
        .selectFrom("enrollments")
        .select(["id", "device_id", "channel", "kind", "status", "platform", "os_version", "supervised", "enrollment_profile_id"])
        .where("id", "in", chunk)
        .execute()),
    );
  }
  return out;
}

export type RenewalSubject = Pick<EnrollmentRow, "id" | "status" | "enrollment_profile_id" | "serial_number" | "udid" | "device_name">;

/** The device channel bound to this identity certificate, with what an identity renewal needs of it. */
export async function deviceChannelBoundTo(store: Executor, fingerprint: string): Promise<RenewalSubject | undefined> {
  return store.db
    .selectFrom("enrollments")
    .select(["id", "status", "enrollment_profile_id", "serial_number", "udid", "device_name"])
    .where("cert_fingerprint", "=", fingerprint)
    .where("channel", "=", "device")
    .executeTakeFirst();
}

/** The device of a channel bound to this certificate, if any. */
export async function deviceIdBoundTo(store: Executor, fingerprint: string): Promise<string | undefined> {
  return (await store.db.selectFrom("enrollments").select("device_id").where("cert_fingerprint", "=", fingerprint).executeTakeFirst())?.device_id;
}
