// Whether a command may be sent to a given enrollment, from Apple's schema: platform and OS version, channel,
// supervision, Shared iPad and User Enrollment modes, and the access rights the MDM payload granted. Used when an
// admin queues a command, so the refusal reads as advice ("needs supervision"), not as a device error later.
import { commandInfos } from "../generated/command-info.ts";
import { ACCESS_RIGHTS, missingAccessRights } from "./access-rights.ts";
import { compareOSVersions, parseOSVersion } from "./os-version.ts";
import type { CommandInfo, CommandPlatformInfo, Platform } from "./spec-types.ts";

export interface CommandTarget {
  readonly platform: Platform;
  /** The OS version the device reported; unknown versions are not held against the command. */
  readonly osVersion?: string;
  readonly channel: "device" | "user";
  readonly supervised: boolean;
  readonly userEnrollment: boolean;
  readonly sharedIPad?: boolean;
  /** The AccessRights value of the enrollment's MDM payload. Apple ignores it for User Enrollment. */
  readonly accessRights: number;
  /** Enrolled through Automated Device Enrollment; only checked when known. */
  readonly dep?: boolean;
  /** macOS user-approved MDM; only checked when known. */
  readonly userApprovedMDM?: boolean;
}

export type CommandCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const PLATFORM_NAMES: Readonly<Record<Platform, string>> = {
  iOS: "iOS/iPadOS",
  macOS: "macOS",
  tvOS: "tvOS",
  visionOS: "visionOS",
  watchOS: "watchOS",
};

/** The schema's requirements for a command, or undefined when Apple's schema has no such RequestType. */
export function commandInfo(requestType: string): CommandInfo | undefined {
  return Object.hasOwn(commandInfos, requestType) ? commandInfos[requestType] : undefined;
}

const refuse = (reason: string): CommandCheck => ({ ok: false, reason });

export function checkCommandAllowed(requestType: string, target: CommandTarget): CommandCheck {
  const info = commandInfo(requestType);
  if (!info) return refuse(`${requestType} is not a command in Apple's device-management schema`);
  if (!Object.hasOwn(info.platforms, target.platform)) return refuse(`unknown platform ${String(target.platform)}`);
  return checkPlatformRequirements(requestType, info.platforms[target.platform], target);
}

/**
 * Whether an item with these requirements (a command's, or one DeviceInformation query's after
 * effectiveSupportedOS and commandPlatformInfo) applies to the target; `requestType` only words the refusal.
 */
export function checkPlatformRequirements(requestType: string, p: CommandPlatformInfo, target: CommandTarget): CommandCheck {
  const os = PLATFORM_NAMES[target.platform];
  if (!p.available) return refuse(`${requestType} is not available on ${os}`);

  const versionProblem = checkVersion(requestType, p, os, target.osVersion);
  if (versionProblem) return refuse(versionProblem);

  if (target.userEnrollment && p.userEnrollment.mode === "forbidden") {
    return refuse(`${requestType} is not allowed on ${os} devices enrolled with User Enrollment`);
  }
  if (!target.userEnrollment && p.userEnrollment.mode === "required") {
    return refuse(`${requestType} works only with User Enrollment on ${os}`);
  }

  const sharedIPad = target.platform === "iOS" && target.sharedIPad === true;
  if (p.sharedIPad) {
    if (sharedIPad && p.sharedIPad.mode === "forbidden") return refuse(`${requestType} is not allowed on a Shared iPad`);
    if (!sharedIPad && p.sharedIPad.mode === "required") return refuse(`${requestType} works only on a Shared iPad`);
  }

  const channelProblem = checkChannel(requestType, p, target, os, sharedIPad);
  if (channelProblem) return refuse(channelProblem);

  if (p.supervised && !target.supervised) return refuse(`${requestType} requires a supervised ${os} device`);
  if (p.requiresDEP && target.dep === false) {
    return refuse(`${requestType} requires a device enrolled through Automated Device Enrollment`);
  }
  if (p.userApprovedMDM && target.userApprovedMDM === false) {
    return refuse(`${requestType} requires a user-approved MDM enrollment`);
  }

  // Apple ignores AccessRights for User Enrollment (com.apple.mdm: AccessRights, userenrollment mode "ignored");
  // what such an enrollment may do is governed by the userenrollment modes checked above.
  const bits = p.accessRightsBits;
  if (bits !== undefined && bits !== 0 && !target.userEnrollment) {
    const missing = missingAccessRights(bits, target.accessRights);
    if (missing.length > 0) {
      const names = missing.map((r) => `'${r.description}' access right (${r.bit})`).join(" and the ");
      return refuse(`${requestType} needs the ${names}, which this device's enrollment profile does not grant`);
    }
  }
  return { ok: true };
}

function checkVersion(
  requestType: string,
  p: CommandPlatformInfo,
  os: string,
  osVersion: string | undefined,
): string | undefined {
  if (osVersion === undefined || parseOSVersion(osVersion) === undefined) return undefined;
  // compareOSVersions is undefined for non-versions such as "all"; those never refuse.
  if (p.introduced !== undefined && (compareOSVersions(osVersion, p.introduced) ?? 0) < 0) {
    return `${requestType} needs ${os} ${p.introduced} or later; this device runs ${osVersion}`;
  }
  if (p.removed !== undefined && (compareOSVersions(osVersion, p.removed) ?? -1) >= 0) {
    return `${requestType} was removed in ${os} ${p.removed}; this device runs ${osVersion}`;
  }
  return undefined;
}

function checkChannel(
  requestType: string,
  p: CommandPlatformInfo,
  target: CommandTarget,
  os: string,
  sharedIPad: boolean,
): string | undefined {
  // iOS has a user channel only on a Shared iPad, and then the sharedipad object says which channels apply.
  const channels = sharedIPad && p.sharedIPad ? p.sharedIPad : p;
  const where = sharedIPad ? "a Shared iPad" : os;
  if (target.channel === "user") {
    if (target.platform !== "macOS" && !sharedIPad) return `${os} has no user channel (only macOS and Shared iPad do)`;
    if (!channels.userChannel) {
      return `${requestType} cannot be sent on the user channel on ${where}${channels.deviceChannel ? "; send it to the device channel" : ""}`;
    }
  } else if (!channels.deviceChannel) {
    return `${requestType} cannot be sent on the device channel on ${where}${channels.userChannel ? "; send it to the user channel" : ""}`;
  }
  return undefined;
}

/** Apple's description of an access-right bit, for UIs that explain a mask. */
export function describeAccessRights(mask: number): readonly string[] {
  return ACCESS_RIGHTS.filter((r) => (mask & r.bit) !== 0).map((r) => r.description);
}
