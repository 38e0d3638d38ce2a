// What the organisation may store and see of a device's inventory, by enrollment type and ownership. The store
// calls filterAnswers before it keeps a DeviceInformation answer, the API calls visibleFields before it shows a
// device, and inventory-plan.ts asks only for what mayCollect allows, so a forbidden value is never asked, never
// stored and never shown.
//
// Sources:
// - Apple's table of what MDM can see with Device Enrollment (../shared/sources/apple-device-enrollment-and-data-
//   separation.txt lines 17-32): capacity, device name, installed apps, model, OS version, phone number and serial
//   number are visible (lines 20-26); device location is not (line 27, "No | iOS (Supervised)": only a supervised
//   device can be located at all, through Lost Mode); app usage, messages, call logs, personal data and browsing
//   history are not (lines 28-32), and Orchard asks for none of them.
// - Account-driven Device Enrollment is Device Enrollment with cryptographic separation of the managed apps and
//   data (lines 5-15); the same table applies.
// - User Enrollment: each DeviceInformation query's `userenrollment: {mode: forbidden}` in Apple's schema
//   (mdm/commands/information.device.yaml), e.g. UDID, SerialNumber, IMEI, MEID, PhoneNumber, ICCID, the MAC
//   addresses; and InstalledApplicationList / ManagedAppsOnly: a User Enrollment shows only the managed apps.
import { checkCommandAllowed } from "../../wire/schema/command-policy.ts";
import type { PlistDict } from "../../wire/plist.ts";
import type { Platform } from "../../wire/schema/spec-types.ts";
import type { EnrollmentType, Ownership } from "./enrollment-type.ts";
import { allQueryNames, isQueryName, queryPlatformInfo } from "./query-support.ts";

export interface SeparationContext {
  readonly platform: Platform;
  readonly enrollmentType: EnrollmentType;
  readonly ownership: Ownership;
  readonly supervised: boolean;
  /** The device is in MDM Lost Mode (IsMDMLostModeEnabled); the only time a device may be located. */
  readonly lostMode?: boolean;
}

/** The organisation's (managed) apps. */
export const MANAGED_APPS = "ManagedApps";
/** Apps the user installed: the rest of InstalledApplicationList. */
export const PERSONAL_APPS = "PersonalApps";
/** Where the device is (DeviceLocation, Lost Mode only). */
export const DEVICE_LOCATION = "DeviceLocation";

/**
 * A field is a DeviceInformation query/answer key (Apple's name, e.g. "SerialNumber") or one of the fields
 * above. Anything else is unknown and never collected: Orchard cannot tell whether Apple allows it.
 */
export type InventoryField = string;

/**
 * Never kept for a User Enrollment, whatever a schema update says: the identifiers that tie the device or its
 * SIM to a person or a hardware unit. Apple's schema forbids each of them today (userenrollment mode forbidden);
 * this list keeps the promise if a key's mode were ever relaxed or a platform entry were missing.
 */
const USER_ENROLLMENT_NEVER: ReadonlySet<string> = new Set([
  "UDID",
  "ProvisioningUDID",
  "SerialNumber",
  "IMEI",
  "MEID",
  "ICCID",
  "PhoneNumber",
  "ServiceSubscriptions",
  "SoftwareUpdateDeviceID",
  "WiFiMAC",
  "BluetoothMAC",
  "EthernetMAC",
]);

/**
 * Never kept for a personal device under Device Enrollment (Orchard's rule, stricter than Apple's table, which
 * lets Device Enrollment see the phone number, line 25): the user's phone numbers. ServiceSubscriptions holds the
 * PhoneNumber of each SIM, so it goes too.
 */
const PERSONAL_NEVER: ReadonlySet<string> = new Set(["PhoneNumber", "ServiceSubscriptions"]);

/** Which apps the organisation may list: a User Enrollment or a personal device shows only the managed ones. */
export function appListScope(ctx: Pick<SeparationContext, "enrollmentType" | "ownership">): "all" | "managed" {
  return ctx.enrollmentType === "user-enrollment" || ctx.ownership === "personal" ? "managed" : "all";
}

/**
 * A device may be located only when Apple allows the DeviceLocation command (supervised iOS, never User
 * Enrollment), the organisation owns it and it is in Lost Mode: Apple's table says MDM cannot see the location
 * (line 27); Lost Mode is the exception Apple builds for a lost corporate device.
 */
function mayLocate(ctx: SeparationContext): boolean {
  if (ctx.ownership !== "corporate" || ctx.enrollmentType === "user-enrollment") return false;
  if (ctx.lostMode !== true) return false;
  return checkCommandAllowed("DeviceLocation", {
    platform: ctx.platform,
    channel: "device",
    supervised: ctx.supervised,
    userEnrollment: false,
    accessRights: 0,
  }).ok;
}

export function mayCollect(field: InventoryField, ctx: SeparationContext): boolean {
  if (field === MANAGED_APPS) return true;
  if (field === PERSONAL_APPS) return appListScope(ctx) === "all";
  if (field === DEVICE_LOCATION) return mayLocate(ctx);
  if (!isQueryName(field)) return false;
  if (ctx.enrollmentType === "user-enrollment") {
    if (USER_ENROLLMENT_NEVER.has(field)) return false;
    if (queryPlatformInfo(field, ctx.platform)?.userEnrollment.mode === "forbidden") return false;
  }
  if (ctx.ownership === "personal" && PERSONAL_NEVER.has(field)) return false;
  return true;
}

export interface FilteredAnswers {
  /** The answer with only the keys the organisation may keep. */
  readonly kept: PlistDict;
  /** The names of the keys taken out (names only: their values must not reach a log either). */
  readonly dropped: readonly string[];
}

/** A DeviceInformation QueryResponses dictionary reduced to what may be stored for this device. */
export function filterAnswers(queryResponses: PlistDict, ctx: SeparationContext): FilteredAnswers {
  const kept: PlistDict = {};
  const dropped: string[] = [];
  for (const key of Object.keys(queryResponses)) {
    // mayCollect refuses every name the schema does not define, "__proto__" included, so the assignment
    // below only ever creates an ordinary own property.
    const value = queryResponses[key];
    if (value !== undefined && mayCollect(key, ctx)) kept[key] = value;
    else dropped.push(key);
  }
  return { kept, dropped };
}

export interface VisibleFields {
  /** The DeviceInformation keys that exist on the platform and may be stored and shown, in the schema's order. */
  readonly deviceInformation: readonly string[];
  readonly apps: "all" | "managed";
  readonly location: boolean;
}

export function visibleFields(ctx: SeparationContext): VisibleFields {
  return {
    deviceInformation: allQueryNames().filter(
      (key) => queryPlatformInfo(key, ctx.platform)?.available === true && mayCollect(key, ctx),
    ),
    apps: appListScope(ctx),
    location: mayLocate(ctx),
  };
}
