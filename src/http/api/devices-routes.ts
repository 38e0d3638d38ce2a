// /api/v1/devices: the physical devices, their inventory (apps, profiles, certificates) and change history.
import { Type } from "typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AppContext } from "../../app-context.ts";
import type { InventoryCollection } from "../../manage/devices/inventory-collection.ts";
import type { DeviceRow } from "../../store/devices.ts";
import type { DeviceAppRow, DeviceCertificateRow, DeviceProfileRow } from "../../store/device-inventory.ts";
import type { DeviceHistoryRow } from "../../store/devices.ts";
import { PLATFORM_FAMILIES, platformFamilyNamed } from "../../mdm/enrollment-id.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { actorOf } from "./auth.ts";
import { authErrors } from "./schemas.ts";
import { decodeOptionalCursor, encodeCursor } from "./cursor.ts";
import { COLUMN_KEYS, columnsSometimesForbidden, mayKeep, type KeyedColumn } from "../../manage/devices/device-separation.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const flag = (v: number | null) => (v === null ? null : v === 1);
const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableDate = Type.Union([Type.String({ format: "date-time" }), Type.Null()]);
const NullableBoolean = Type.Union([Type.Boolean(), Type.Null()]);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 100 });
const Cursor = Type.Optional(Type.String({ description: "nextCursor of the previous page" }));
const IdParams = Type.Object({ id: Type.String({ description: "The device channel's enrollment id: UDID, or EnrollmentID for a User Enrollment" }) });

/** The API's name of each device column that holds a DeviceInformation key (device-separation.ts). */
const SEPARATED: Readonly<Record<KeyedColumn, string>> = {
  serial_number: "serialNumber",
  udid: "udid",
  model: "model",
  model_name: "modelName",
  product_name: "productName",
  os_version: "osVersion",
  build_version: "buildVersion",
  device_name: "name",
  wifi_mac: "wifiMac",
  bluetooth_mac: "bluetoothMac",
  imei: "imei",
  meid: "meid",
  supervised: "supervised",
  activation_lock_enabled: "activationLockEnabled",
  sip_enabled: "sipEnabled",
  battery_level: "batteryLevel",
  capacity_gb: "capacityGb",
  available_gb: "availableGb",
};
const SOMETIMES_FORBIDDEN: ReadonlySet<KeyedColumn> = new Set(columnsSometimesForbidden());

/**
 * A field some devices may not show is optional in the schema: absent (not null, which says "unknown") when
 * Apple's data separation forbids the organisation to see it for this device.
 */
function separated<T extends ReturnType<typeof Type.Union>>(column: KeyedColumn, schema: T) {
  if (!SOMETIMES_FORBIDDEN.has(column)) return schema;
  return Type.Optional(Type.Union(schema.anyOf, { description: `Absent when Apple's data separation forbids the organisation to see ${COLUMN_KEYS[column]} for this device (a User Enrollment, for one); null when unknown` }));
}

const Device = Type.Object({
  id: Type.String(),
  status: Type.String(),
  serialNumber: separated("serial_number", NullableString),
  udid: separated("udid", NullableString),
  platform: NullableString,
  model: separated("model", NullableString),
  modelName: separated("model_name", NullableString),
  productName: separated("product_name", NullableString),
  osVersion: separated("os_version", NullableString),
  buildVersion: separated("build_version", NullableString),
  name: separated("device_name", NullableString),
  enrollmentKind: Type.String(),
  enrollmentProfileId: NullableString,
  ownership: NullableString,
  supervised: separated("supervised", NullableBoolean),
  activationLockEnabled: separated("activation_lock_enabled", NullableBoolean),
  depCapable: NullableBoolean,
  batteryLevel: separated("battery_level", NullableNumber),
  capacityGb: separated("capacity_gb", NullableNumber),
  availableGb: separated("available_gb", NullableNumber),
  wifiMac: separated("wifi_mac", NullableString),
  bluetoothMac: separated("bluetooth_mac", NullableString),
  imei: separated("imei", NullableString),
  meid: separated("meid", NullableString),
  passcodePresent: NullableBoolean,
  passcodeCompliant: NullableBoolean,
  fileVaultEnabled: NullableBoolean,
  sipEnabled: separated("sip_enabled", NullableBoolean),
  firewallEnabled: NullableBoolean,
  bootstrapEscrowed: NullableBoolean,
  lastSeenAt: NullableDate,
  lastInventoryAt: NullableDate,
  enrolledAt: NullableDate,
  unenrolledAt: NullableDate,
  updatedAt: Type.String({ format: "date-time" }),
});

function deviceView(r: DeviceRow, lastSeenAt: number | null = r.last_seen_at) {
  const view: Record<string, unknown> = {
    id: r.id,
    status: r.status,
    serialNumber: r.serial_number,
    udid: r.udid,
    platform: r.platform,
    model: r.model,
    modelName: r.model_name,
    productName: r.product_name,
    osVersion: r.os_version,
    buildVersion: r.build_version,
    name: r.device_name,
    enrollmentKind: r.enrollment_kind,
    enrollmentProfileId: r.enrollment_profile_id,
    ownership: r.ownership,
    supervised: flag(r.supervised),
    activationLockEnabled: flag(r.activation_lock_enabled),
    depCapable: flag(r.dep_capable),
    batteryLevel: r.battery_level,
    capacityGb: r.capacity_gb,
    availableGb: r.available_gb,
    wifiMac: r.wifi_mac,
    bluetoothMac: r.bluetooth_mac,
    imei: r.imei,
    meid: r.meid,
    passcodePresent: flag(r.passcode_present),
    passcodeCompliant: flag(r.passcode_compliant),
    fileVaultEnabled: flag(r.filevault_enabled),
    sipEnabled: flag(r.sip_enabled),
    firewallEnabled: flag(r.firewall_enabled),
    bootstrapEscrowed: flag(r.bootstrap_escrowed),
    lastSeenAt: iso(lastSeenAt),
    lastInventoryAt: iso(r.last_inventory_at),
    enrolledAt: iso(r.enrolled_at),
    unenrolledAt: iso(r.unenrolled_at),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
  // What this device's separation forbids is left out, whatever the row holds (a row written before the rule).
  for (const column of SOMETIMES_FORBIDDEN) if (!mayKeep(COLUMN_KEYS[column], r)) delete view[SEPARATED[column]];
  return view;
}

const DeviceDetail = Type.Object({
    ...Device.properties,
    enrollmentStatus: NullableString,
    counts: Type.Object({ apps: Type.Integer(), profiles: Type.Integer(), certificates: Type.Integer(), channels: Type.Integer() }),
    inventoryWarnings: Type.Array(Type.Object({ queryType: Type.String(), receivedAt: Type.String({ format: "date-time" }), warnings: Type.Array(Type.String()) }), {
      description: "What each query type's latest answer held that could not be read (kept in the raw answer)",
    }),
});

const App = Type.Object({ bundleId: Type.String(), name: NullableString, version: NullableString, shortVersion: NullableString, managed: NullableBoolean, size: NullableNumber, installing: NullableBoolean });
const appView = (r: DeviceAppRow) => ({ bundleId: r.bundle_id, name: r.name, version: r.version, shortVersion: r.short_version, managed: flag(r.managed), size: r.size, installing: flag(r.installing) });

const Profile = Type.Object({ identifier: Type.String(), uuid: NullableString, displayName: NullableString, organization: NullableString, removalDisallowed: NullableBoolean, installedByOrchard: NullableBoolean });
const profileView = (r: DeviceProfileRow) => ({ identifier: r.identifier, uuid: r.uuid, displayName: r.display_name, organization: r.organization, removalDisallowed: flag(r.removal_disallowed), installedByOrchard: flag(r.installed_by_orchard) });

const Certificate = Type.Object({ fingerprint: Type.String(), commonName: NullableString, issuer: NullableString, notAfter: NullableDate, isIdentity: NullableBoolean });
const certificateView = (r: DeviceCertificateRow) => ({ fingerprint: r.fingerprint, commonName: r.common_name, issuer: r.issuer, notAfter: iso(r.not_after), isIdentity: flag(r.is_identity) });

const HistoryEntry = Type.Object({ at: Type.String({ format: "date-time" }), kind: Type.String(), field: Type.String(), from: NullableString, to: NullableString });
const historyView = (r: DeviceHistoryRow) => ({ at: new Date(r.at).toISOString(), kind: r.kind, field: r.field, from: r.from_value, to: r.to_value });

/** A page of rows keyed by one string column: the next cursor is that key of the last row shown. */
function page<R, V>(rows: R[] | undefined, limit: number, id: string, key: (r: R) => string, view: (r: R) => V): { items: V[]; nextCursor: string | null } {
  if (!rows) throw notFound(`device ${id}`);
  const shown = rows.slice(0, limit);
  const last = shown[shown.length - 1];
  return { items: shown.map(view), nextCursor: rows.length > limit && last ? encodeCursor([key(last)]) : null };
}

const Refreshed = Type.Object({
  deviceId: Type.String(),
  queued: Type.Array(Type.Object({ requestType: Type.String(), commandUuid: Type.String() }), { description: "The inventory commands queued now" }),
  skipped: Type.Array(Type.Object({ requestType: Type.String(), reason: Type.String() }), {
    description: "What was not queued and why: still outstanding from an earlier collection, not allowed for this device, or not kept for its enrollment type",
  }),
});

export function devicesRoutes(ctx: Pick<AppContext, "devices"> & { inventory: Pick<InventoryCollection, "collect"> }): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      "/devices",
      {
        schema: {
          tags: ["devices"],
          summary: "List devices (cursor pagination)",
          querystring: Type.Object({
            limit: Limit,
            cursor: Cursor,
            platform: Type.Optional(Type.String({ description: `One of ${PLATFORM_FAMILIES.join(", ")}, in any case` })),
            serial: Type.Optional(Type.String()),
            udid: Type.Optional(Type.String()),
            name: Type.Optional(Type.String({ description: "The device name, exactly" })),
            supervised: Type.Optional(Type.Boolean()),
            enrollmentProfileId: Type.Optional(Type.String()),
          }),
          response: { 200: Type.Object({ devices: Type.Array(Device), nextCursor: NullableString }), ...authErrors, 400: Type.Ref("Error") },
        },
      },
      async (req) => {
        const { limit, cursor, platform, serial, udid, name, supervised, enrollmentProfileId } = req.query;
        const after = decodeOptionalCursor(cursor, ["string"]);
        const family = platform === undefined ? undefined : platformFamilyNamed(platform);
        if (platform !== undefined && !family) throw badRequest(`querystring/platform must be one of: ${PLATFORM_FAMILIES.join(", ")}`);
        const filter = {
          ...(family ? { platform: family } : {}),
          ...(serial !== undefined ? { serialNumber: serial } : {}),
          ...(udid !== undefined ? { udid } : {}),
          ...(name !== undefined ? { name } : {}),
          ...(supervised !== undefined ? { supervised } : {}),
          ...(enrollmentProfileId !== undefined ? { enrollmentProfileId } : {}),
        };
        const rows = await ctx.devices.list(filter, limit + 1, after?.[0]);
        const { items, nextCursor } = page(rows, limit, "", (r) => r.id, (r) => deviceView(r));
        return { devices: items, nextCursor };
      },
    );

    app.get(
      "/devices/:id",
      { schema: { tags: ["devices"], summary: "One device: its attributes and how much inventory it has", params: IdParams, response: { 200: DeviceDetail, ...authErrors, 404: Type.Ref("Error") } } },
      async (req) => {
        const o = await ctx.devices.overview(req.params.id);
        if (!o) throw notFound(`device ${req.params.id}`);
        // The engine records contact on the enrollment (once a minute, on the hot path); the device row only on inventory.
        const lastSeen = Math.max(o.device.last_seen_at ?? 0, o.enrollmentLastSeenAt ?? 0) || null;
        return {
          ...deviceView(o.device, lastSeen),
          enrollmentStatus: o.enrollmentStatus,
          counts: o.counts,
          inventoryWarnings: o.warnings.map((w) => ({ queryType: w.queryType, receivedAt: new Date(w.receivedAt).toISOString(), warnings: w.warnings })),
        };
      },
    );

    app.get(
      "/devices/:id/apps",
      {
        schema: {
          tags: ["devices"],
          summary: "A device's installed apps (from InstalledApplicationList), by bundle id",
          params: IdParams,
          querystring: Type.Object({ limit: Limit, cursor: Cursor }),
          response: { 200: Type.Object({ apps: Type.Array(App), nextCursor: NullableString }), ...authErrors, 400: Type.Ref("Error"), 404: Type.Ref("Error") },
        },
      },
      async (req) => {
        const after = decodeOptionalCursor(req.query.cursor, ["string"]);
        const { items, nextCursor } = page(await ctx.devices.apps(req.params.id, req.query.limit + 1, after?.[0]), req.query.limit, req.params.id, (r) => r.bundle_id, appView);
        return { apps: items, nextCursor };
      },
    );

    app.get(
      "/devices/:id/profiles",
      {
        schema: {
          tags: ["devices"],
          summary: "A device's installed configuration profiles (from ProfileList), by identifier",
          params: IdParams,
          querystring: Type.Object({ limit: Limit, cursor: Cursor }),
          response: { 200: Type.Object({ profiles: Type.Array(Profile), nextCursor: NullableString }), ...authErrors, 400: Type.Ref("Error"), 404: Type.Ref("Error") },
        },
      },
      async (req) => {
        const after = decodeOptionalCursor(req.query.cursor, ["string"]);
        const { items, nextCursor } = page(await ctx.devices.profiles(req.params.id, req.query.limit + 1, after?.[0]), req.query.limit, req.params.id, (r) => r.identifier, profileView);
        return { profiles: items, nextCursor };
      },
    );

    app.get(
      "/devices/:id/certificates",
      {
        schema: {
          tags: ["devices"],
          summary: "A device's certificates (from CertificateList), by SHA-256 fingerprint",
          params: IdParams,
          querystring: Type.Object({ limit: Limit, cursor: Cursor }),
          response: { 200: Type.Object({ certificates: Type.Array(Certificate), nextCursor: NullableString }), ...authErrors, 400: Type.Ref("Error"), 404: Type.Ref("Error") },
        },
      },
      async (req) => {
        const after = decodeOptionalCursor(req.query.cursor, ["string"]);
        const { items, nextCursor } = page(await ctx.devices.certificates(req.params.id, req.query.limit + 1, after?.[0]), req.query.limit, req.params.id, (r) => r.fingerprint, certificateView);
        return { certificates: items, nextCursor };
      },
    );

    app.post(
      "/devices/:id/refresh",
      {
        config: { auditAction: "device.refresh" },
        schema: {
          tags: ["devices"],
          summary: "Collect the device's inventory now",
          description:
            "Queues the inventory commands Apple allows for this device (platform, OS, enrollment type, supervision, its enrollment profile's access rights), below admin commands and expiring after an hour. A command of a type that is still outstanding from an earlier collection is not queued again.",
          params: IdParams,
          response: { 202: Refreshed, ...authErrors, 400: Type.Ref("Error"), 404: Type.Ref("Error"), 409: Type.Ref("Error") },
        },
      },
      async (req, reply) => {
        // No parameters: a body, when one is sent, must be empty (a field this route does not know is refused).
        const body: unknown = req.body;
        if (body !== undefined && body !== null && (typeof body !== "object" || Array.isArray(body) || Object.keys(body).length > 0)) {
          const fields = typeof body === "object" && !Array.isArray(body) ? Object.keys(body).join(", ") : typeof body;
          throw badRequest(`body: this route takes no parameters (got ${fields})`);
        }
        const r = await ctx.inventory.collect(req.params.id, actorOf(req));
        if (!r.ok) throw r.status === 404 ? notFound(`device ${req.params.id}`) : new ApiError(409, "conflict", r.reason);
        return reply.status(202).send({ deviceId: r.deviceId, queued: r.queued, skipped: r.skipped });
      },
    );

    app.get(
      "/devices/:id/history",
      {
        schema: {
          tags: ["devices"],
          summary: "A device's inventory changes, newest first",
          description: "One entry per attribute change, app installed, removed or changed version, profile installed, removed or replaced, certificate added or removed.",
          params: IdParams,
          querystring: Type.Object({ limit: Limit, cursor: Cursor }),
          response: { 200: Type.Object({ history: Type.Array(HistoryEntry), nextCursor: NullableString }), ...authErrors, 400: Type.Ref("Error"), 404: Type.Ref("Error") },
        },
      },
      async (req) => {
        const after = decodeOptionalCursor(req.query.cursor, ["integer", "string"]);
        const rows = await ctx.devices.history(req.params.id, req.query.limit + 1, after);
        if (!rows) throw notFound(`device ${req.params.id}`);
        const shown = rows.slice(0, req.query.limit);
        const last = shown[shown.length - 1];
        return { history: shown.map(historyView), nextCursor: rows.length > req.query.limit && last ? encodeCursor([last.at, last.id]) : null };
      },
    );
  };
}
