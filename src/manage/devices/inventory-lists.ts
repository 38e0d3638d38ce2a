// InstalledApplicationList, ProfileList and CertificateList results as a device's lists. Each list is read
// item by item (an item without its key is skipped with a warning; the rest is kept), diffed against the stored
// list in memory, and only the difference is written: rows removed, rows added or changed upserted in bulk,
// a history row for each install, removal and version change. A device's first answer of a kind is a baseline:
// it says what is there, not what changed, so it writes no history and no per-app events.
import { createHash } from "node:crypto";
import type { Tx } from "../../store/db.ts";
import type { DeviceRow } from "../../store/devices.ts";
import { hasInventoryRaw } from "../../store/devices.ts";
import {
  allDeviceApps,
  allDeviceCertificates,
  allDeviceProfiles,
  removeDeviceApps,
  removeDeviceCertificates,
  removeDeviceProfiles,
  upsertDeviceApps,
  upsertDeviceCertificates,
  upsertDeviceProfiles,
  type DeviceAppRow,
  type DeviceCertificateRow,
  type DeviceProfileRow,
} from "../../store/device-inventory.ts";
import type { CommandResult } from "../../mdm/result-processors.ts";
import { commandBody } from "../../store/command-queue.ts";
import { parsePlist, type PlistDict } from "../../wire/plist.ts";
import { deviceAppScope } from "./device-separation.ts";
import { issuerString, parseCertificate } from "../../pki/certificate.ts";
import type { PlistValue } from "../../wire/plist.ts";
import type { DeviceService, HistoryEntry, InventoryChange } from "./devices.ts";
import { InventoryReader, isDict, typeName } from "./inventory-values.ts";

/**
 * Per-app events a single result may record. A device that reports thousands of new apps at once still gets one
 * device.updated naming "apps" and a history row for each; webhook subscribers are not flooded with one
 * delivery per app.
 */
export const MAX_APP_EVENTS = 100;

interface ListSpec<Row extends { device_id: string }> {
  /** The report key holding the array. */
  key: string;
  /** The history kind and device.updated name. */
  kind: "app" | "profile" | "certificate";
  changedName: string;
  rowKey(row: Row): string;
  /** An item as a row, or undefined (with a warning) when it lacks what identifies it. */
  readItem(reader: InventoryReader, item: PlistValue, index: number, deviceId: string): Row | undefined;
  /** The value a history row shows for a row (a version, a UUID), null when unknown. */
  label(row: Row): string | null;
  /**
   * The items this device may keep (data separation), with a warning when some were left out and a mark for the
   * rows kept; absent when every item may be kept.
   */
  narrow?(tx: Tx, device: DeviceRow, result: CommandResult, items: PlistValue[]): Promise<Narrowed<Row>>;
  all(tx: Tx, deviceId: string): Promise<Row[]>;
  remove(tx: Tx, deviceId: string, keys: string[]): Promise<void>;
  upsert(tx: Tx, rows: Row[]): Promise<void>;
}

interface Narrowed<Row> {
  items: PlistValue[];
  warning?: string;
  mark?: (row: Row) => Row;
}

/** Apple's InstalledApplicationList Source for an app Declarative Device Management manages (iOS 17.2+). */
const DDM_SOURCE = "Declarative Device Management";

/** Whether the InstalledApplicationList command asked for managed apps only (ManagedAppsOnly true). */
async function askedManagedOnly(tx: Tx, commandUuid: string): Promise<boolean> {
  const body = await commandBody(tx, commandUuid);
  if (!body) return false;
  try {
    const plist = parsePlist(body) as PlistDict;
    const command = isDict(plist.Command) ? plist.Command : undefined;
    return command?.ManagedAppsOnly === true;
  } catch {
    return false;
  }
}

/**
 * A User Enrollment or a personal device shows only the organisation's apps (appListScope). InstalledApplicationList
 * items say nothing of whether an app is managed (Apple's schema has no IsManaged there), so an item is known to
 * be managed only when the device was asked ManagedAppsOnly (Apple's device then lists managed apps alone) or
 * its Source says Declarative Device Management manages it. Everything else is a personal app and is not kept;
 * the warning counts them without naming them (which apps a person installed is the personal data itself).
 */
async function narrowApps(tx: Tx, device: DeviceRow, result: CommandResult, items: PlistValue[]): Promise<Narrowed<DeviceAppRow>> {
  if (deviceAppScope(device) === "all") return { items };
  const markManaged = (row: DeviceAppRow): DeviceAppRow => ({ ...row, managed: 1 });
  if (await askedManagedOnly(tx, result.commandUuid)) return { items, mark: markManaged };
  const kept = items.filter((item) => isDict(item) && item.Source === DDM_SOURCE);
  const left = items.length - kept.length;
  return {
    items: kept,
    mark: markManaged,
    ...(left > 0 ? { warning: `InstalledApplicationList: ${left} app(s) not kept: this device shows only managed apps, and the command did not ask ManagedAppsOnly` } : {}),
  };
}

const bool = (v: boolean | undefined) => (v === undefined ? null : v ? 1 : 0);

function itemDict(reader: InventoryReader, path: string, item: PlistValue, index: number) {
  if (isDict(item)) return item;
  reader.warn(`${path}[${index}]: expected a dictionary, got ${typeName(item)}`);
  return undefined;
}

const APPS: ListSpec<DeviceAppRow> = {
  key: "InstalledApplicationList",
  kind: "app",
  changedName: "apps",
  rowKey: (r) => r.bundle_id,
  readItem(reader, item, i, deviceId) {
    const path = `InstalledApplicationList[${i}]`;
    const d = itemDict(reader, "InstalledApplicationList", item, i);
    if (!d) return undefined;
    const bundleId = reader.string(d, "Identifier", path);
    if (!bundleId) {
      if (d.Identifier === undefined) reader.warn(`${path}.Identifier is missing`);
      return undefined;
    }
    const size = reader.number(d, "BundleSize", path);
    return {
      device_id: deviceId,
      bundle_id: bundleId,
      name: reader.string(d, "Name", path) ?? null,
      version: reader.string(d, "Version", path) ?? null,
      short_version: reader.string(d, "ShortVersion", path) ?? null,
      // InstalledApplicationList does not say which apps are managed; ManagedApplicationList will.
      managed: null,
      size: size === undefined ? null : Math.trunc(size),
      installing: bool(reader.boolean(d, "Installing", path)),
    };
  },
  label: (r) => (r.short_version && r.version && r.short_version !== r.version ? `${r.short_version} (${r.version})` : (r.short_version ?? r.version)),
  narrow: narrowApps,
  all: allDeviceApps,
  remove: removeDeviceApps,
  upsert: upsertDeviceApps,
};

const PROFILES: ListSpec<DeviceProfileRow> = {
  key: "ProfileList",
  kind: "profile",
  changedName: "profiles",
  rowKey: (r) => r.identifier,
  readItem(reader, item, i, deviceId) {
    const path = `ProfileList[${i}]`;
    const d = itemDict(reader, "ProfileList", item, i);
    if (!d) return undefined;
    const identifier = reader.string(d, "PayloadIdentifier", path);
    if (!identifier) {
      if (d.PayloadIdentifier === undefined) reader.warn(`${path}.PayloadIdentifier is missing`);
      return undefined;
    }
    return {
      device_id: deviceId,
      identifier,
      uuid: reader.string(d, "PayloadUUID", path) ?? null,
      display_name: reader.string(d, "PayloadDisplayName", path) ?? null,
      organization: reader.string(d, "PayloadOrganization", path) ?? null,
      removal_disallowed: bool(reader.boolean(d, "PayloadRemovalDisallowed", path)),
      // IsManaged: installed by the MDM server the device is enrolled in, which is this one.
      installed_by_orchard: bool(reader.boolean(d, "IsManaged", path)),
    };
  },
  label: (r) => r.uuid,
  all: allDeviceProfiles,
  remove: removeDeviceProfiles,
  upsert: upsertDeviceProfiles,
};

const CERTIFICATES: ListSpec<DeviceCertificateRow> = {
  key: "CertificateList",
  kind: "certificate",
  changedName: "certificates",
  rowKey: (r) => r.fingerprint,
  readItem(reader, item, i, deviceId) {
    const path = `CertificateList[${i}]`;
    const d = itemDict(reader, "CertificateList", item, i);
    if (!d) return undefined;
    const data = reader.data(d, "Data", path);
    if (!data) {
      if (d.Data === undefined) reader.warn(`${path}.Data is missing`);
      return undefined;
    }
    let issuer: string | null = null;
    let notAfter: number | null = null;
    try {
      const cert = parseCertificate(data);
      issuer = issuerString(cert);
      notAfter = cert.notAfter.getTime();
    } catch {
      // Kept by its fingerprint with what the device said of it; the certificate itself could not be read.
      reader.warn(`${path}.Data is not a DER certificate`);
    }
    return {
      device_id: deviceId,
      fingerprint: createHash("sha256").update(data).digest("hex"),
      common_name: reader.string(d, "CommonName", path) ?? null,
      issuer,
      not_after: notAfter,
      is_identity: bool(reader.boolean(d, "IsIdentity", path)),
    };
  },
  label: (r) => r.common_name ?? r.fingerprint,
  all: allDeviceCertificates,
  remove: removeDeviceCertificates,
  upsert: upsertDeviceCertificates,
};

function sameRow<Row extends object>(a: Row, b: Row): boolean {
  for (const k of Object.keys(b) as Array<keyof Row>) if (a[k] !== b[k]) return false;
  return true;
}

function listProcessor<Row extends { device_id: string }>(devices: DeviceService, spec: ListSpec<Row>) {
  return async (tx: Tx, result: CommandResult): Promise<void> => {
    if (result.status !== "acknowledged") return;
    const device: DeviceRow | undefined = await devices.deviceForChannel(tx, result.enrollmentId);
    if (!device) return;
    const reader = new InventoryReader();
    const change: InventoryChange = { queryType: result.requestType, report: result.report, warnings: [], at: result.completedAt, history: [], changed: [] };
    const reportedItems = reader.array(result.report, spec.key, result.requestType);
    const narrowed = reportedItems && spec.narrow ? await spec.narrow(tx, device, result, reportedItems) : undefined;
    const items = narrowed ? narrowed.items : reportedItems;
    if (narrowed) {
      // The raw answer kept is the narrowed one: what may not be stored is not stored there either.
      change.report = { ...result.report, [spec.key]: narrowed.items };
      if (narrowed.warning) reader.warn(narrowed.warning);
    }
    if (items === undefined) {
      // Without the list nothing can be said of what is installed: the stored list stays as it was.
      if (result.report[spec.key] === undefined) reader.warn(`${result.requestType}.${spec.key} is missing`);
      change.warnings = reader.warnings;
      await devices.applyInventory(tx, device, change);
      return;
    }
    const reported = new Map<string, Row>();
    items.forEach((item, i) => {
      const read = spec.readItem(reader, item, i, device.id);
      const row = read && narrowed?.mark ? narrowed.mark(read) : read;
      if (row) reported.set(spec.rowKey(row), row);
    });
    if (narrowed && items.length === 0 && (reportedItems?.length ?? 0) > 0) {
      // Every item was left out: the answer says nothing about the apps this device may keep, so the stored ones stay.
      change.warnings = reader.warnings;
      await devices.applyInventory(tx, device, change);
      return;
    }
    if (items.length > 0 && reported.size === 0) {
      // Not one item could be read: that says nothing about what is installed, and must not empty the stored list.
      reader.warn(`${result.requestType}.${spec.key}: no item could be read; the stored list is kept`);
      change.warnings = reader.warnings;
      await devices.applyInventory(tx, device, change);
      return;
    }
    const baseline = !(await hasInventoryRaw(tx, device.id, result.requestType));
    const stored = new Map((await spec.all(tx, device.id)).map((r) => [spec.rowKey(r), r]));
    const removed = [...stored.keys()].filter((k) => !reported.has(k));
    const upserts: Row[] = [];
    const history: HistoryEntry[] = [];
    const appEvents: NonNullable<InventoryChange["appEvents"]> = [];
    let installedEvents = 0;
    let removedEvents = 0;
    for (const [key, row] of reported) {
      const before = stored.get(key);
      if (before && sameRow(before, row)) continue;
      upserts.push(row);
      const from = before ? spec.label(before) : null;
      const to = spec.label(row);
      // A new item, or a new version (profile UUID) of one: a history entry. Other details (size, name) are not.
      if (!before || from !== to) {
        history.push({ kind: spec.kind, field: key, from_value: before ? (from ?? "installed") : null, to_value: to ?? "installed" });
        if (!before && spec.kind === "app" && installedEvents++ < MAX_APP_EVENTS) appEvents.push({ event: "device.app.installed", bundleId: key, version: to });
      }
    }
    for (const key of removed) {
      const before = stored.get(key)!;
      history.push({ kind: spec.kind, field: key, from_value: spec.label(before) ?? "installed", to_value: null });
      if (spec.kind === "app" && removedEvents++ < MAX_APP_EVENTS) appEvents.push({ event: "device.app.removed", bundleId: key });
    }
    if (removed.length) await spec.remove(tx, device.id, removed);
    if (upserts.length) await spec.upsert(tx, upserts);
    change.warnings = reader.warnings;
    if (!baseline && history.length) {
      change.history = history;
      change.appEvents = appEvents;
      change.changed = [spec.changedName];
    }
    await devices.applyInventory(tx, device, change);
  };
}

export const installedApplicationListProcessor = (devices: DeviceService) => listProcessor(devices, APPS);
export const profileListProcessor = (devices: DeviceService) => listProcessor(devices, PROFILES);
export const certificateListProcessor = (devices: DeviceService) => listProcessor(devices, CERTIFICATES);
