// The inventory commands to queue for one device: what Apple allows Orchard to ask this device (platform, OS
// version, enrollment type, supervision, the enrollment profile's AccessRights), narrowed to what Orchard may keep
// (data-separation.ts), so nothing is asked only to be thrown away. Every command and every DeviceInformation
// query goes through the engine's own rule (checkCommandAllowed / checkPlatformRequirements), so the plan never
// holds a command the queue would refuse.
import { checkCommandAllowed, type CommandTarget } from "../../wire/schema/command-policy.ts";
import type { PlistDict } from "../../wire/plist.ts";
import type { Platform } from "../../wire/schema/spec-types.ts";
import { appListScope, mayCollect } from "./data-separation.ts";
import { deriveOwnership, enrollmentTypeExists, type EnrollmentType, type Ownership } from "./enrollment-type.ts";
import { allQueryNames, checkQueryAllowed, queryPlatformInfo } from "./query-support.ts";

export interface InventoryTarget {
  readonly platform: Platform;
  /** The OS version the device reported; null or absent while unknown. */
  readonly osVersion?: string | null;
  readonly enrollmentType: EnrollmentType;
  readonly supervised: boolean;
  /** The AccessRights of the enrollment's MDM payload (Apple ignores them for User Enrollment). */
  readonly accessRights: number;
  /** A Shared iPad (its Shared iPad-only queries are asked on the device channel). */
  readonly sharedIPad?: boolean;
  /** As deriveOwnership decides it (personal when nobody declared it, except for ADE). */
  readonly ownership?: Ownership;
}

export const INVENTORY_REQUEST_TYPES = [
  "DeviceInformation",
  "SecurityInfo",
  "InstalledApplicationList",
  "ManagedApplicationList",
  "ProfileList",
  "CertificateList",
  "ProvisioningProfileList",
  "AvailableOSUpdates",
] as const;
export type InventoryRequestType = (typeof INVENTORY_REQUEST_TYPES)[number];

export interface PlannedCommand {
  readonly requestType: InventoryRequestType;
  /** The Command dictionary's keys besides RequestType. */
  readonly params: PlistDict;
}

export interface SkippedCommand {
  readonly requestType: InventoryRequestType;
  readonly reason: string;
}

export interface InventoryPlan {
  readonly commands: readonly PlannedCommand[];
  /** What the plan left out and why, for an admin asking "why is there no app list for this device?". */
  readonly skipped: readonly SkippedCommand[];
}

export class InventoryPlanError extends Error {}

/** The engine's view of the device channel of an enrollment of this type. */
export function commandTargetFor(t: InventoryTarget): CommandTarget {
  return {
    platform: t.platform,
    ...(t.osVersion ? { osVersion: t.osVersion } : {}),
    channel: "device",
    supervised: t.supervised,
    userEnrollment: t.enrollmentType === "user-enrollment",
    ...(t.platform === "iOS" ? { sharedIPad: t.sharedIPad === true } : {}),
    accessRights: t.accessRights,
    // Only ADE enrolls through Apple's device assignment; the queries that require it (Shared iPad settings,
    // AutoSetupAdminAccounts) are refused for every other type.
    dep: t.enrollmentType === "ade",
  };
}

/**
 * The DeviceInformation queries Apple's schema allows for this device, in the schema's order. When the OS
 * version is unknown, queries Apple removed are left out (a device whose version Orchard has not learnt yet is
 * almost surely current) while queries introduced later are kept (the engine does not hold an unknown version
 * against anything, and a device ignores a query it does not know).
 */
export function allowedDeviceInformationQueries(t: InventoryTarget): readonly string[] {
  const target = commandTargetFor(t);
  return allQueryNames().filter((name) => {
    if (!checkQueryAllowed(name, target).ok) return false;
    if (!t.osVersion && queryPlatformInfo(name, t.platform)?.removed !== undefined) return false;
    return true;
  });
}

export function planInventory(t: InventoryTarget): InventoryPlan {
  if (!enrollmentTypeExists(t.enrollmentType, t.platform, t.osVersion)) {
    throw new InventoryPlanError(
      `${t.enrollmentType} enrollment does not exist on ${t.platform}${t.osVersion ? ` ${t.osVersion}` : ""}`,
    );
  }
  const target = commandTargetFor(t);
  const separation = {
    platform: t.platform,
    enrollmentType: t.enrollmentType,
    ownership: deriveOwnership(t.enrollmentType, t.ownership),
    supervised: t.supervised,
  } as const;
  const commands: PlannedCommand[] = [];
  const skipped: SkippedCommand[] = [];
  const add = (requestType: InventoryRequestType, params: PlistDict): boolean => {
    const verdict = checkCommandAllowed(requestType, target);
    if (verdict.ok) commands.push({ requestType, params });
    else skipped.push({ requestType, reason: verdict.reason });
    return verdict.ok;
  };

  const queries = allowedDeviceInformationQueries(t).filter((q) => mayCollect(q, separation));
  if (queries.length > 0) add("DeviceInformation", { Queries: [...queries] });
  else skipped.push({ requestType: "DeviceInformation", reason: "no query is both allowed and kept for this device" });

  add("SecurityInfo", {});

  // A User Enrollment (and a personal device) shows only the organisation's apps: ask for those alone. macOS
  // forbids InstalledApplicationList under User Enrollment; its managed apps come from ManagedApplicationList.
  const managedOnly = appListScope(separation) === "managed";
  if (!add("InstalledApplicationList", managedOnly ? { ManagedAppsOnly: true } : {}) && managedOnly) {
    add("ManagedApplicationList", {});
  }

  add("ProfileList", {});
  add("CertificateList", {});
  add("ProvisioningProfileList", {});
  // Asked only of supervised devices: an unsupervised one cannot be updated by MDM, so the list is of no use,
  // and on iOS/tvOS Apple requires supervision anyway.
  if (t.supervised) add("AvailableOSUpdates", {});
  else skipped.push({ requestType: "AvailableOSUpdates", reason: "AvailableOSUpdates is asked only of supervised devices" });

  return { commands, skipped };
}
