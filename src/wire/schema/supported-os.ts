// How a `supportedOS` block is read: the inheritance rule of docs/schema.md and the defaults Apple applies
// when a field is absent. Used by the generator (to build CommandInfo) and at run time.
import { accessRightBits } from "./access-rights.ts";
import type { CommandPlatformInfo, Platform, PlatformSupport, SupportedOS } from "./spec-types.ts";
import { PLATFORMS } from "./spec-types.ts";

/**
 * docs/schema.md: "Each payload key is assumed to inherit the supportedOS values from the payload object, but
 * that is then updated with any items in the key's own supportedOS object if present." The update is per
 * platform and per field; the nested sharedipad/userenrollment objects are updated field by field too, so a
 * key saying only `sharedipad: {mode: ignored}` keeps the payload's shared-iPad channels. Apply it level by
 * level for nested keys: effectiveSupportedOS(effectiveSupportedOS(payload, key), subkey).
 */
export function effectiveSupportedOS(
  inherited: SupportedOS | undefined,
  own: SupportedOS | undefined,
): SupportedOS {
  const result: { [P in Platform]?: PlatformSupport } = {};
  for (const platform of PLATFORMS) {
    const parent = inherited?.[platform];
    const child = own?.[platform];
    if (!parent && !child) continue;
    if (!child) {
      result[platform] = parent;
      continue;
    }
    if (!parent) {
      result[platform] = child;
      continue;
    }
    const merged: { -readonly [K in keyof PlatformSupport]: PlatformSupport[K] } = { ...parent, ...child };
    if (parent.sharedipad && child.sharedipad) merged.sharedipad = { ...parent.sharedipad, ...child.sharedipad };
    if (parent.userenrollment && child.userenrollment) {
      merged.userenrollment = { ...parent.userenrollment, ...child.userenrollment };
    }
    result[platform] = merged;
  }
  return result;
}

/** True when the platform entry exists and is not marked "n/a". */
export function isAvailable(support: PlatformSupport | undefined): boolean {
  return support !== undefined && support.introduced !== "n/a";
}

/**
 * A command's requirements on one platform with Apple's defaults made explicit:
 * - userenrollment.mode and sharedipad.mode default to "allowed" (docs/schema.yaml);
 * - supervised, requiresdep, userapprovedmdm default to false (Apple's pages show "-" when absent);
 * - devicechannel defaults to true and userchannel to false: only macOS and Shared iPad have a user channel,
 *   and Apple's command pages list a platform under "User channel" only when the schema says so;
 * - on iOS the channels for a Shared iPad come from the sharedipad object (device true, user false by default).
 */
export function commandPlatformInfo(platform: Platform, support: PlatformSupport | undefined): CommandPlatformInfo {
  const available = isAvailable(support);
  const introduced = available ? support?.introduced : undefined;
  const bits = available ? accessRightBits(support?.accessrights) : undefined;
  const behavior = support?.userenrollment?.behavior;
  // Built in reading order; optional fields are spread in only when present so generated data stays minimal.
  const info: CommandPlatformInfo = {
    available,
    ...(introduced !== undefined ? { introduced } : {}),
    ...(support?.deprecated !== undefined ? { deprecated: support.deprecated } : {}),
    ...(support?.removed !== undefined ? { removed: support.removed } : {}),
    ...(available ? { accessRights: support?.accessrights ?? "None" } : {}),
    ...(bits !== undefined ? { accessRightsBits: bits } : {}),
    supervised: support?.supervised ?? false,
    requiresDEP: support?.requiresdep ?? false,
    userApprovedMDM: support?.userapprovedmdm ?? false,
    deviceChannel: available && (support?.devicechannel ?? true),
    userChannel: available && platform === "macOS" && (support?.userchannel ?? false),
    ...(platform === "iOS" && available
      ? {
          sharedIPad: {
            mode: support?.sharedipad?.mode ?? "allowed",
            deviceChannel: support?.sharedipad?.devicechannel ?? true,
            userChannel: support?.sharedipad?.userchannel ?? false,
          },
        }
      : {}),
    userEnrollment: {
      mode: support?.userenrollment?.mode ?? "allowed",
      ...(behavior !== undefined ? { behavior } : {}),
    },
  };
  return info;
}
