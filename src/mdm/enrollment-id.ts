// Enrollment IDs as NanoMDM defines them, so that tools written for NanoMDM address the same channel:
//   device channel            UDID
//   User Enrollment device    EnrollmentID
//   macOS user channel        UDID:UserID           (User Enrollment: EnrollmentID:EnrollmentUserID)
//   Shared iPad user          UDID:UserShortName    (Shared iPad user messages carry the all-F UserID)
import type { EnrollmentChannel, EnrollmentKind } from "../store/schema.ts";

export const SHARED_IPAD_USER_ID = "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF";

export interface ChannelIdentity {
  id: string;
  deviceId: string;
  channel: EnrollmentChannel;
  kind: EnrollmentKind;
  udid: string | null;
  enrollmentUserId: string | null;
  userId: string | null;
  userShortName: string | null;
}

export interface IdentityKeys {
  UDID?: string | undefined;
  EnrollmentID?: string | undefined;
  EnrollmentUserID?: string | undefined;
  UserID?: string | undefined;
  UserShortName?: string | undefined;
}

export class EnrollmentIdError extends Error {}

export function resolveChannel(m: IdentityKeys): ChannelIdentity {
  const udid = nonEmpty(m.UDID);
  const enrollmentId = nonEmpty(m.EnrollmentID);
  const deviceId = udid ?? enrollmentId;
  if (!deviceId) throw new EnrollmentIdError("the message has neither UDID nor EnrollmentID");
  const deviceKind: EnrollmentKind = udid ? "device" : "user-enrollment";
  const userId = nonEmpty(m.UserID);
  const shortName = nonEmpty(m.UserShortName);
  const enrollmentUserId = nonEmpty(m.EnrollmentUserID);

  const ids = { deviceId, udid: udid ?? null, enrollmentUserId: enrollmentUserId ?? null, userId: userId ?? null, userShortName: shortName ?? null };
  if (userId && userId.toUpperCase() === SHARED_IPAD_USER_ID) {
    if (!shortName) throw new EnrollmentIdError("a Shared iPad user message must carry UserShortName");
    return channelIdentity(`${deviceId}:${shortName}`, "user", "shared-ipad", ids);
  }
  if (userId) return channelIdentity(`${deviceId}:${userId}`, "user", deviceKind === "user-enrollment" ? "user-enrollment" : "user", ids);
  if (!udid && enrollmentUserId) return channelIdentity(`${deviceId}:${enrollmentUserId}`, "user", "user-enrollment", ids);
  return channelIdentity(deviceId, "device", deviceKind, ids);
}

// An object literal, not `{ ...ids, id, channel, kind }`: V8 spreads an object holding nulls ~100x slower
// (~5 µs a call, measured), and this runs on every device request.
function channelIdentity(id: string, channel: EnrollmentChannel, kind: EnrollmentKind, ids: Omit<ChannelIdentity, "id" | "channel" | "kind">): ChannelIdentity {
  return { id, deviceId: ids.deviceId, channel, kind, udid: ids.udid, enrollmentUserId: ids.enrollmentUserId, userId: ids.userId, userShortName: ids.userShortName };
}

function nonEmpty(v: string | undefined): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/** The platform families platformOf names, as stored on enrollments. */
export const PLATFORM_FAMILIES = ["iOS", "iPadOS", "macOS", "tvOS", "visionOS", "watchOS"] as const;

/** The platform family spelled `name` in any case ("ios" is iOS), or undefined. */
export function platformFamilyNamed(name: string): (typeof PLATFORM_FAMILIES)[number] | undefined {
  const lower = name.toLowerCase();
  return PLATFORM_FAMILIES.find((p) => p.toLowerCase() === lower);
}

/** The platform family from the device's product name or model, as Apple's schema names them. */
export function platformOf(productName: string | null, model: string | null): string | null {
  const p = `${productName ?? ""} ${model ?? ""}`;
  if (/iPad/i.test(p)) return "iPadOS";
  if (/iPhone|iPod/i.test(p)) return "iOS";
  if (/AppleTV/i.test(p)) return "tvOS";
  if (/RealityDevice|Vision/i.test(p)) return "visionOS";
  if (/Watch/i.test(p)) return "watchOS";
  if (/Mac|iMac|VirtualMac/i.test(p)) return "macOS";
  return null;
}
