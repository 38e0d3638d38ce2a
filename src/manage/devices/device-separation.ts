// Data separation applied to one stored device: its separation context(s) derived from the device row, and the
// device columns that hold a DeviceInformation key, so that ingestion (inventory-*.ts, devices.ts) keeps and the
// API (devices-routes.ts) shows only what data-separation.ts allows for this device.
import type { DeviceRow } from "../../store/devices.ts";
import type { EnrollmentKind } from "../../store/schema.ts";
import type { PlistDict } from "../../wire/plist.ts";
import { PLATFORMS, type KeyList, type Platform, type SupportedOS } from "../../wire/schema/spec-types.ts";
import { commandSchema, resolveSubkeys } from "../../wire/schema/spec-lookup.ts";
import { effectiveSupportedOS } from "../../wire/schema/supported-os.ts";
import { isDict } from "./inventory-values.ts";
import { ENROLLMENT_TYPES, OWNERSHIPS, deriveEnrollmentType, deriveOwnership } from "./enrollment-type.ts";
import { appListScope, filterAnswers, mayCollect, type SeparationContext } from "./data-separation.ts";

/** The device columns that hold a DeviceInformation answer key, by column. */
export const COLUMN_KEYS = {
  serial_number: "SerialNumber",
  udid: "UDID",
  model: "Model",
  model_name: "ModelName",
  product_name: "ProductName",
  os_version: "OSVersion",
  build_version: "BuildVersion",
  device_name: "DeviceName",
  wifi_mac: "WiFiMAC",
  bluetooth_mac: "BluetoothMAC",
  imei: "IMEI",
  meid: "MEID",
  supervised: "IsSupervised",
  activation_lock_enabled: "IsActivationLockEnabled",
  sip_enabled: "SystemIntegrityProtectionEnabled",
  battery_level: "BatteryLevel",
  capacity_gb: "DeviceCapacity",
  available_gb: "AvailableDeviceCapacity",
} as const satisfies Partial<Record<keyof DeviceRow, string>>;
export type KeyedColumn = keyof typeof COLUMN_KEYS;

/** The schema's platform for a stored platform family (iPadOS is iOS in Apple's schema). */
function schemaPlatform(family: string | null): Platform | undefined {
  if (family === "iPadOS") return "iOS";
  return PLATFORMS.find((p) => p === family);
}

/** The facts the device row holds that decide its separation, as the row's own columns. */
export type SeparationFacts = Pick<DeviceRow, "platform" | "enrollment_kind" | "ownership" | "supervised" | "dep_capable">;

/**
 * The device's separation contexts: one for its platform, or one per platform while the platform is unknown, so
 * that a field is kept only when every platform the device could be allows it (the more private treatment).
 */
export function separationContexts(d: SeparationFacts): SeparationContext[] {
  // dep_capable is recorded only when the device said EnrolledViaDEP (inventory-attributes.ts).
  const enrollmentType = deriveEnrollmentType({ kind: d.enrollment_kind as EnrollmentKind, enrolledViaDEP: d.dep_capable === 1 });
  const ownership = deriveOwnership(enrollmentType, d.ownership ?? undefined);
  const platform = schemaPlatform(d.platform);
  return (platform ? [platform] : [...PLATFORMS]).map((p) => ({ platform: p, enrollmentType, ownership, supervised: d.supervised === 1 }));
}

/** Whether the organisation may keep and see this field of this device. */
export function mayKeep(field: string, d: SeparationFacts): boolean {
  return separationContexts(d).every((ctx) => mayCollect(field, ctx));
}

/** Which apps the organisation may keep of this device. */
export function deviceAppScope(d: SeparationFacts): "all" | "managed" {
  return separationContexts(d).every((ctx) => appListScope(ctx) === "all") ? "all" : "managed";
}

/** A DeviceInformation QueryResponses dictionary reduced to what may be kept of this device. */
export function filterDeviceAnswers(answers: PlistDict, d: SeparationFacts): { kept: PlistDict; dropped: string[] } {
  let kept = answers;
  const dropped: string[] = [];
  for (const ctx of separationContexts(d)) {
    const r = filterAnswers(kept, ctx);
    kept = r.kept;
    dropped.push(...r.dropped);
  }
  return { kept: kept === answers ? { ...answers } : kept, dropped };
}

/**
 * A SecurityInfo answer reduced to what may be kept of this device. Apple's schema marks some SecurityInfo keys
 * `userenrollment: {mode: forbidden}` (information.security.yaml: the passcode keys on iOS and visionOS, the
 * recovery keys, Remote Desktop, bootstrap token and recovery lock state, the firewall's app list on macOS): a
 * User Enrollment keeps none of them, nor a key the schema does not define (Orchard cannot tell whether Apple
 * allows it). Other enrollments keep the answer whole.
 */
export function filterSecurityInfo(info: PlistDict, d: SeparationFacts): { kept: PlistDict; dropped: string[] } {
  const contexts = separationContexts(d);
  if (!contexts.some((ctx) => ctx.enrollmentType === "user-enrollment")) return { kept: info, dropped: [] };
  const schema = commandSchema("SecurityInfo");
  const top = schema?.response.find((k) => k.key === "SecurityInfo");
  if (!schema || !top) return { kept: {}, dropped: Object.keys(info) };
  const dropped: string[] = [];
  const kept = filterBySchema(info, resolveSubkeys(top), effectiveSupportedOS(schema.supportedOS, top.supportedOS), contexts.map((c) => c.platform), "", dropped);
  return { kept, dropped };
}

function filterBySchema(dict: PlistDict, keys: KeyList | undefined, inherited: SupportedOS, platforms: readonly Platform[], path: string, dropped: string[]): PlistDict {
  const out: PlistDict = {};
  for (const [key, value] of Object.entries(dict)) {
    const spec = keys?.find((k) => k.key === key);
    const support = spec ? effectiveSupportedOS(inherited, spec.supportedOS) : undefined;
    if (!spec || !support || platforms.some((p) => support[p]?.userenrollment?.mode === "forbidden")) {
      dropped.push(`${path}${key}`);
      continue;
    }
    const subkeys = resolveSubkeys(spec);
    out[key] = isDict(value) && subkeys ? filterBySchema(value, subkeys, support, platforms, `${path}${key}.`, dropped) : value;
  }
  return out;
}

/** The columns of a patch or row the device may not keep, set to null (an identifier from a check-in message). */
export function withoutForbiddenColumns<T extends Partial<Record<KeyedColumn, unknown>>>(values: T, d: SeparationFacts): T {
  const out: T = { ...values };
  for (const [column, key] of Object.entries(COLUMN_KEYS) as Array<[KeyedColumn, string]>) {
    if (out[column] !== undefined && out[column] !== null && !mayKeep(key, d)) (out as Record<string, unknown>)[column] = null;
  }
  return out;
}

/**
 * The device attribute columns some device may not show, whatever its facts: the API schema marks them
 * optional. Computed from the same rule, so the schema cannot drift from what the views omit.
 */
export function columnsSometimesForbidden(): KeyedColumn[] {
  const contexts: SeparationContext[] = [];
  for (const platform of PLATFORMS) for (const enrollmentType of ENROLLMENT_TYPES) for (const ownership of OWNERSHIPS) for (const supervised of [false, true]) contexts.push({ platform, enrollmentType, ownership, supervised });
  return (Object.entries(COLUMN_KEYS) as Array<[KeyedColumn, string]>).filter(([, key]) => contexts.some((ctx) => !mayCollect(key, ctx))).map(([c]) => c);
}

/** A warning naming (never showing the values of) the answer keys data separation kept out of storage. */
export function droppedWarning(path: string, dropped: readonly string[]): string | undefined {
  if (dropped.length === 0) return undefined;
  // Key names come from the device: bounded, so an answer cannot fill the warnings with its own text.
  const names = [...new Set(dropped)].slice(0, 20).map((n) => (n.length > 64 ? `${n.slice(0, 64)}…` : n));
  const more = new Set(dropped).size - names.length;
  return `${path}: not kept (data separation or not a key of Apple's schema): ${names.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
}
