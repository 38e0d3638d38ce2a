// The device service: a device is the physical thing behind its channels (DESIGN.md, "Device vs enrollment").
// Its row is created in the transaction of its device channel's Authenticate (or activation, for a channel
// enrolled before devices existed), through durable outbox reactions; inventory processors (inventory-*.ts)
// apply command results to it through `applyInventory`, which writes the change history and records the
// events in the result's transaction. The API reads come through here too.
import { randomUUID } from "node:crypto";
import type { Store, Tx } from "../../store/db.ts";
import type { Outbox } from "../../events/outbox.ts";
import type { DevicesTable } from "../../store/schema.ts";
import { getEnrollment } from "../../store/enrollments.ts";
import { profileById } from "../../store/enrollment-profiles.ts";
import {
  deviceCounts,
  getDevice,
  insertDevice,
  insertHistory,
  inventoryWarnings,
  listDevices,
  listHistory,
  updateDevice,
  upsertInventoryRaw,
  type DeviceCounts,
  type DeviceFilter,
  type DeviceHistoryRow,
  type DevicePatch,
  type DeviceRow,
  type NewDeviceHistory,
} from "../../store/devices.ts";
import { pageDeviceApps, pageDeviceCertificates, pageDeviceProfiles, type DeviceAppRow, type DeviceCertificateRow, type DeviceProfileRow } from "../../store/device-inventory.ts";
import { plistToJson } from "../../wire/plist-json.ts";
import { withoutForbiddenColumns } from "./device-separation.ts";
import type { PlistDict } from "../../wire/plist.ts";

export type HistoryEntry = Omit<NewDeviceHistory, "id" | "device_id" | "at">;

/** What one inventory result changed, for applyInventory to write. */
export interface InventoryChange {
  queryType: string;
  report: PlistDict;
  warnings: string[];
  at: number;
  /** Attribute columns whose value changed (already diffed against the row). */
  patch?: DevicePatch;
  history: HistoryEntry[];
  /** Names for device.updated's `changed`: attribute names, "apps", "profiles", "certificates". */
  changed: string[];
  /** Per-app events (already capped by the caller). */
  appEvents?: Array<{ event: "device.app.installed"; bundleId: string; version: string | null } | { event: "device.app.removed"; bundleId: string }>;
}

export interface DeviceOverview {
  device: DeviceRow;
  counts: DeviceCounts;
  warnings: Array<{ queryType: string; warnings: string[]; receivedAt: number }>;
  /** The device channel's last contact (the engine keeps it on the enrollment, off the device row). */
  enrollmentLastSeenAt: number | null;
  enrollmentStatus: string | null;
}

export class DeviceService {
  constructor(
    private readonly store: Store,
    private readonly outbox: Outbox,
  ) {}

  /** Registers the durable reactions that keep device rows in step with their device channel. */
  subscribe(): void {
    this.outbox.react("enrollment.authenticated", (tx, p) => this.onEnrolled(tx, p.enrollmentId, p.reenrollment));
    // A device channel enrolled before this module existed gets its row at its next activation.
    this.outbox.react("enrollment.activated", async (tx, p) => {
      if (p.channel === "device") await this.deviceForChannel(tx, p.enrollmentId);
    });
    this.outbox.react("enrollment.checked_out", (tx, p) => this.onCheckedOut(tx, p.enrollmentId, p.deviceId));
    this.outbox.react("bootstrap_token.escrowed", async (tx, p) => {
      const device = await getDevice(tx, p.enrollmentId);
      if (device && device.bootstrap_escrowed !== 1) await this.applyInventory(tx, device, { queryType: "SetBootstrapToken", report: {}, warnings: [], at: Date.now(), patch: { bootstrap_escrowed: 1 }, history: [attributeChange("bootstrapEscrowed", device.bootstrap_escrowed, 1)], changed: ["bootstrapEscrowed"] }, false);
    });
  }

  private async onEnrolled(tx: Tx, enrollmentId: string, reenrollment: boolean): Promise<void> {
    const enrollment = await getEnrollment(tx, enrollmentId);
    if (!enrollment || enrollment.channel !== "device") return;
    const now = Date.now();
    const existing = await getDevice(tx, enrollmentId);
    const reported = {
      status: "enrolled" as const,
      serial_number: enrollment.serial_number ?? existing?.serial_number ?? null,
      udid: enrollment.udid,
      platform: enrollment.platform ?? existing?.platform ?? null,
      model: enrollment.model ?? existing?.model ?? null,
      model_name: enrollment.model_name ?? existing?.model_name ?? null,
      product_name: enrollment.product_name ?? existing?.product_name ?? null,
      os_version: enrollment.os_version ?? existing?.os_version ?? null,
      build_version: enrollment.build_version ?? existing?.build_version ?? null,
      device_name: enrollment.device_name ?? existing?.device_name ?? null,
      imei: enrollment.imei ?? existing?.imei ?? null,
      meid: enrollment.meid ?? existing?.meid ?? null,
      enrollment_kind: enrollment.kind,
      enrollment_profile_id: enrollment.enrollment_profile_id,
      ownership: await this.ownershipOf(tx, enrollment.kind, enrollment.enrollment_profile_id),
      enrolled_at: now,
      unenrolled_at: null,
      last_seen_at: now,
      updated_at: now,
    };
    // The check-in message may carry identifiers Apple forbids the organisation to keep for this enrollment
    // type (a User Enrollment's serial number, IMEI …): they never reach the row or device.enrolled.
    const facts = withoutForbiddenColumns(reported, { ...reported, supervised: existing?.supervised ?? null, dep_capable: existing?.dep_capable ?? null });
    if (existing) await updateDevice(tx, enrollmentId, facts);
    else await insertDevice(tx, { ...emptyDevice(enrollmentId, enrollment.kind, now), ...facts });
    await this.outbox.record(tx, "device.enrolled", {
      deviceId: enrollmentId,
      serialNumber: facts.serial_number,
      platform: facts.platform,
      enrollmentProfileId: facts.enrollment_profile_id,
      reenrollment: reenrollment || existing !== undefined,
    });
  }

  private async onCheckedOut(tx: Tx, enrollmentId: string, deviceId: string): Promise<void> {
    // A user channel checking out leaves the device enrolled; the device channel's CheckOut unenrolls it.
    if (enrollmentId !== deviceId) return;
    const device = await getDevice(tx, deviceId);
    if (!device || device.status === "unenrolled") return;
    const now = Date.now();
    await updateDevice(tx, deviceId, { status: "unenrolled", unenrolled_at: now, updated_at: now });
    await this.outbox.record(tx, "device.unenrolled", { deviceId });
  }

  private async ownershipOf(tx: Tx, kind: string, profileId: string | null): Promise<DevicesTable["ownership"]> {
    // A User Enrollment is a personal device by definition; otherwise the enrollment profile says.
    if (kind === "user-enrollment") return "personal";
    if (!profileId) return null;
    return (await profileById(tx, profileId))?.ownership ?? null;
  }

  /**
   * The device a result from this enrollment updates: the device row of a device channel (created from the
   * enrollment if it predates this module), undefined for a user channel (its answers are the user's, not the
   * device's) or an unknown enrollment.
   */
  async deviceForChannel(tx: Tx, enrollmentId: string): Promise<DeviceRow | undefined> {
    const device = await getDevice(tx, enrollmentId);
    if (device) return device;
    const enrollment = await getEnrollment(tx, enrollmentId);
    if (!enrollment || enrollment.channel !== "device") return undefined;
    const now = Date.now();
    const enrolled: DeviceRow = {
      ...emptyDevice(enrollmentId, enrollment.kind, now),
      status: enrollment.status === "checked_out" ? "unenrolled" : "enrolled",
      serial_number: enrollment.serial_number,
      udid: enrollment.udid,
      platform: enrollment.platform,
      model: enrollment.model,
      model_name: enrollment.model_name,
      product_name: enrollment.product_name,
      os_version: enrollment.os_version,
      build_version: enrollment.build_version,
      device_name: enrollment.device_name,
      imei: enrollment.imei,
      meid: enrollment.meid,
      supervised: enrollment.supervised,
      enrollment_profile_id: enrollment.enrollment_profile_id,
      ownership: await this.ownershipOf(tx, enrollment.kind, enrollment.enrollment_profile_id),
      bootstrap_escrowed: enrollment.bootstrap_token_sealed ? 1 : null,
      enrolled_at: enrollment.authenticated_at,
    };
    // As at enrollment: what the enrollment holds but this device's separation forbids is not copied.
    const row = withoutForbiddenColumns(enrolled, enrolled);
    await insertDevice(tx, row);
    return row;
  }

  /**
   * Writes one inventory result's effect in its transaction: the changed attributes, the raw answer and its
   * warnings, a history row per change, and the events (device.updated when anything changed).
   */
  async applyInventory(tx: Tx, device: DeviceRow, change: InventoryChange, keepRaw = true): Promise<void> {
    await updateDevice(tx, device.id, { ...change.patch, ...(keepRaw ? { last_inventory_at: change.at } : {}), last_seen_at: change.at, updated_at: change.at });
    if (keepRaw) await upsertInventoryRaw(tx, { device_id: device.id, query_type: change.queryType, raw: plistToJson(change.report), warnings: JSON.stringify(change.warnings), received_at: change.at });
    if (change.history.length) await insertHistory(tx, change.history.map((h) => ({ ...h, id: randomUUID(), device_id: device.id, at: change.at })));
    for (const e of change.appEvents ?? []) {
      if (e.event === "device.app.installed") await this.outbox.record(tx, e.event, { deviceId: device.id, bundleId: e.bundleId, version: e.version });
      else await this.outbox.record(tx, e.event, { deviceId: device.id, bundleId: e.bundleId });
    }
    if (change.changed.length) await this.outbox.record(tx, "device.updated", { deviceId: device.id, changed: change.changed });
  }

  // Reads for the API.

  list(filter: DeviceFilter, limit: number, after?: string): Promise<DeviceRow[]> {
    return listDevices(this.store, filter, limit, after);
  }

  async overview(id: string): Promise<DeviceOverview | undefined> {
    const device = await getDevice(this.store, id);
    if (!device) return undefined;
    const [counts, raw, enrollment] = await Promise.all([deviceCounts(this.store, id), inventoryWarnings(this.store, id), getEnrollment(this.store, id)]);
    return {
      device,
      counts,
      warnings: raw.map((r) => ({ queryType: r.query_type, warnings: JSON.parse(r.warnings) as string[], receivedAt: r.received_at })),
      enrollmentLastSeenAt: enrollment?.last_seen_at ?? null,
      enrollmentStatus: enrollment?.status ?? null,
    };
  }

  /** A page of one of a device's lists, or undefined when the device does not exist. */
  async apps(id: string, limit: number, after?: string): Promise<DeviceAppRow[] | undefined> {
    return (await this.exists(id)) ? pageDeviceApps(this.store, id, limit, after) : undefined;
  }

  async profiles(id: string, limit: number, after?: string): Promise<DeviceProfileRow[] | undefined> {
    return (await this.exists(id)) ? pageDeviceProfiles(this.store, id, limit, after) : undefined;
  }

  async certificates(id: string, limit: number, after?: string): Promise<DeviceCertificateRow[] | undefined> {
    return (await this.exists(id)) ? pageDeviceCertificates(this.store, id, limit, after) : undefined;
  }

  async history(id: string, limit: number, after?: readonly [number, string]): Promise<DeviceHistoryRow[] | undefined> {
    return (await this.exists(id)) ? listHistory(this.store, id, limit, after) : undefined;
  }

  private async exists(id: string): Promise<boolean> {
    return (await getDevice(this.store, id)) !== undefined;
  }
}

/** A history row for an attribute, values as text (null: unknown). */
export function attributeChange(field: string, from: string | number | null, to: string | number | null): HistoryEntry {
  return { kind: "attribute", field, from_value: from === null ? null : String(from), to_value: to === null ? null : String(to) };
}

function emptyDevice(id: string, kind: string, now: number): DeviceRow {
  return {
    id,
    status: "enrolled",
    serial_number: null,
    udid: null,
    platform: null,
    model: null,
    model_name: null,
    product_name: null,
    os_version: null,
    build_version: null,
    device_name: null,
    enrollment_kind: kind,
    enrollment_profile_id: null,
    ownership: null,
    supervised: null,
    activation_lock_enabled: null,
    dep_capable: null,
    battery_level: null,
    capacity_gb: null,
    available_gb: null,
    wifi_mac: null,
    bluetooth_mac: null,
    imei: null,
    meid: null,
    passcode_present: null,
    passcode_compliant: null,
    filevault_enabled: null,
    sip_enabled: null,
    firewall_enabled: null,
    bootstrap_escrowed: null,
    last_seen_at: null,
    last_inventory_at: null,
    enrolled_at: now,
    unenrolled_at: null,
    created_at: now,
    updated_at: now,
  };
}
