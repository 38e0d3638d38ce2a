// Queries for a device's normalised inventory lists: apps, profiles, certificates. Ingestion reads a device's
// whole list once, diffs it in memory, and writes only what changed (removed keys deleted, new or changed rows
// upserted), in a few multi-row statements: a 10,000-app list that did not change costs one read.
import type { Insertable, Selectable } from "kysely";
import type { Executor, Tx } from "./db.ts";
import type { DeviceAppsTable, DeviceCertificatesTable, DeviceProfilesTable } from "./schema.ts";

export type DeviceAppRow = Selectable<DeviceAppsTable>;
export type DeviceProfileRow = Selectable<DeviceProfilesTable>;
export type DeviceCertificateRow = Selectable<DeviceCertificatesTable>;

// At most 8 columns a row: 500 rows stay far below both databases' bound-parameter limits.
const CHUNK = 500;

function chunks<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += CHUNK) out.push(rows.slice(i, i + CHUNK));
  return out;
}

export async function allDeviceApps(store: Executor, deviceId: string): Promise<DeviceAppRow[]> {
  return store.db.selectFrom("device_apps").selectAll().where("device_id", "=", deviceId).execute();
}

export async function allDeviceProfiles(store: Executor, deviceId: string): Promise<DeviceProfileRow[]> {
  return store.db.selectFrom("device_profiles").selectAll().where("device_id", "=", deviceId).execute();
}

export async function allDeviceCertificates(store: Executor, deviceId: string): Promise<DeviceCertificateRow[]> {
  return store.db.selectFrom("device_certificates").selectAll().where("device_id", "=", deviceId).execute();
}

export async function removeDeviceApps(tx: Tx, deviceId: string, bundleIds: readonly string[]): Promise<void> {
  for (const c of chunks(bundleIds)) await tx.db.deleteFrom("device_apps").where("device_id", "=", deviceId).where("bundle_id", "in", c).execute();
}

export async function upsertDeviceApps(tx: Tx, rows: ReadonlyArray<Insertable<DeviceAppsTable>>): Promise<void> {
  for (const c of chunks(rows)) {
    await tx.db
      .insertInto("device_apps")
      .values(c)
      .onConflict((oc) =>
        oc.columns(["device_id", "bundle_id"]).doUpdateSet((eb) => ({
          name: eb.ref("excluded.name"),
          version: eb.ref("excluded.version"),
          short_version: eb.ref("excluded.short_version"),
          managed: eb.ref("excluded.managed"),
          size: eb.ref("excluded.size"),
          installing: eb.ref("excluded.installing"),
        })),
      )
      .execute();
  }
}

export async function removeDeviceProfiles(tx: Tx, deviceId: string, identifiers: readonly string[]): Promise<void> {
  for (const c of chunks(identifiers)) await tx.db.deleteFrom("device_profiles").where("device_id", "=", deviceId).where("identifier", "in", c).execute();
}

export async function upsertDeviceProfiles(tx: Tx, rows: ReadonlyArray<Insertable<DeviceProfilesTable>>): Promise<void> {
  for (const c of chunks(rows)) {
    await tx.db
      .insertInto("device_profiles")
      .values(c)
      .onConflict((oc) =>
        oc.columns(["device_id", "identifier"]).doUpdateSet((eb) => ({
          uuid: eb.ref("excluded.uuid"),
          display_name: eb.ref("excluded.display_name"),
          organization: eb.ref("excluded.organization"),
          removal_disallowed: eb.ref("excluded.removal_disallowed"),
          installed_by_orchard: eb.ref("excluded.installed_by_orchard"),
        })),
      )
      .execute();
  }
}

export async function removeDeviceCertificates(tx: Tx, deviceId: string, fingerprints: readonly string[]): Promise<void> {
  for (const c of chunks(fingerprints)) await tx.db.deleteFrom("device_certificates").where("device_id", "=", deviceId).where("fingerprint", "in", c).execute();
}

export async function upsertDeviceCertificates(tx: Tx, rows: ReadonlyArray<Insertable<DeviceCertificatesTable>>): Promise<void> {
  for (const c of chunks(rows)) {
    await tx.db
      .insertInto("device_certificates")
      .values(c)
      .onConflict((oc) =>
        oc.columns(["device_id", "fingerprint"]).doUpdateSet((eb) => ({
          common_name: eb.ref("excluded.common_name"),
          issuer: eb.ref("excluded.issuer"),
          not_after: eb.ref("excluded.not_after"),
          is_identity: eb.ref("excluded.is_identity"),
        })),
      )
      .execute();
  }
}

/** Pages of a device's lists for the API, ordered by their key, starting after `after`. */
export async function pageDeviceApps(store: Executor, deviceId: string, limit: number, after?: string): Promise<DeviceAppRow[]> {
  let q = store.db.selectFrom("device_apps").selectAll().where("device_id", "=", deviceId);
  if (after !== undefined) q = q.where("bundle_id", ">", after);
  return q.orderBy("bundle_id").limit(limit).execute();
}

export async function pageDeviceProfiles(store: Executor, deviceId: string, limit: number, after?: string): Promise<DeviceProfileRow[]> {
  let q = store.db.selectFrom("device_profiles").selectAll().where("device_id", "=", deviceId);
  if (after !== undefined) q = q.where("identifier", ">", after);
  return q.orderBy("identifier").limit(limit).execute();
}

export async function pageDeviceCertificates(store: Executor, deviceId: string, limit: number, after?: string): Promise<DeviceCertificateRow[]> {
  let q = store.db.selectFrom("device_certificates").selectAll().where("device_id", "=", deviceId);
  if (after !== undefined) q = q.where("fingerprint", ">", after);
  return q.orderBy("fingerprint").limit(limit).execute();
}
