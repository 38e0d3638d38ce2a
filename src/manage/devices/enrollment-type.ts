// A device's enrollment type and ownership, the two facts that decide what Orchard may ask a device and what it
// may keep of the answers (inventory-plan.ts, data-separation.ts). Neither is sent by the device as such: they
// are derived from what Orchard learns at enrollment and from the device's own answers, by the rule below.
import type { EnrollmentKind } from "../../store/schema.ts";
import { compareOSVersions } from "../../wire/schema/os-version.ts";
import type { Platform } from "../../wire/schema/spec-types.ts";

/**
 * - device: profile-based Device Enrollment (the user installs Orchard's enrollment profile);
 * - ade: Automated Device Enrollment (the device is in Apple Business/School Manager and enrols in Setup Assistant);
 * - user-enrollment: User Enrollment for personal devices (BYOD), profile- or account-driven; the device is
 *   known by an EnrollmentID, never by its UDID or serial number;
 * - account-driven-device: account-driven Device Enrollment (Settings > Sign In to Work or School Account,
 *   com.apple.mdm EnrollmentMode "ADDE").
 */
export const ENROLLMENT_TYPES = ["device", "ade", "user-enrollment", "account-driven-device"] as const;
export type EnrollmentType = (typeof ENROLLMENT_TYPES)[number];

export const OWNERSHIPS = ["corporate", "personal"] as const;
export type Ownership = (typeof OWNERSHIPS)[number];

/**
 * Where each enrollment type exists, and since which OS version. Sources: apple-device-enrollment-and-data-
 * separation.txt line 6 (account-driven Device Enrollment: iOS/iPadOS 17, macOS 14, visionOS 1.1); the
 * com.apple.mdm payload's EnrollmentMode (iOS 15, macOS 14; profile-based User Enrollment since iOS 13.1 and
 * macOS 10.15 per its ManagedAppleID key, apple-mdm-payload-reference.txt line 171; visionOS 1.1 per
 * DeviceInformation's user-enrollment modes). Automated Device Enrollment has no watchOS (a watch is enrolled
 * through its paired iPhone) and no visionOS before 2.0.
 */
export const ENROLLMENT_TYPE_PLATFORMS: Readonly<Record<EnrollmentType, Partial<Readonly<Record<Platform, string>>>>> = {
  device: { iOS: "4.0", macOS: "10.7", tvOS: "9.0", visionOS: "1.1", watchOS: "10.0" },
  ade: { iOS: "7.0", macOS: "10.9", tvOS: "10.2", visionOS: "2.0" },
  "user-enrollment": { iOS: "13.1", macOS: "10.15", visionOS: "1.1" },
  "account-driven-device": { iOS: "17.0", macOS: "14.0", visionOS: "1.1" },
};

/** Whether the enrollment type exists on the platform (and OS version, when known). */
export function enrollmentTypeExists(type: EnrollmentType, platform: Platform, osVersion?: string | null): boolean {
  const since = ENROLLMENT_TYPE_PLATFORMS[type][platform];
  if (since === undefined) return false;
  if (osVersion === undefined || osVersion === null) return true;
  return (compareOSVersions(osVersion, since) ?? 0) >= 0;
}

/** What Orchard knows about an enrollment, each fact optional (unknown until the device tells it). */
export interface EnrollmentFacts {
  /** EnrollmentsTable.kind of the enrollment (for a user channel: of its device channel). */
  readonly kind: EnrollmentKind;
  /** com.apple.mdm EnrollmentMode of the enrollment profile Orchard served ("BYOD" | "ADDE"), account-driven flows only. */
  readonly enrollmentMode?: string;
  /** Orchard served the enrollment profile to Apple's Automated Device Enrollment (the DEP profile URL). */
  readonly servedThroughAde?: boolean;
  /**
   * AwaitingConfiguration was ever true (TokenUpdate, or the DeviceInformation query of that name): only a device
   * enrolling through ADE waits in Setup Assistant for DeviceConfigured. False says nothing: it turns false once
   * the device is configured.
   */
  readonly awaitingConfigurationSeen?: boolean;
  /** SecurityInfo ManagementStatus.EnrolledViaDEP (macOS 10.13.2+). */
  readonly enrolledViaDEP?: boolean;
  /** SecurityInfo ManagementStatus.IsUserEnrollment (iOS 13+, macOS 10.15+). */
  readonly isUserEnrollment?: boolean;
  /** The ownership the enrollment profile declares (EnrollmentProfilesTable.ownership), or an admin's. */
  readonly declaredOwnership?: Ownership;
}

/**
 * The rule, most restrictive first, so that facts that disagree can only narrow what Orchard sees:
 * 1. user-enrollment when any sign says so: the channel is keyed by EnrollmentID (kind "user-enrollment": the device
 *    withheld its UDID), SecurityInfo's IsUserEnrollment is true, or the served profile's EnrollmentMode is BYOD;
 * 2. ade when the device says it came through ADE (EnrolledViaDEP, AwaitingConfiguration seen) or Orchard served
 *    the profile to ADE;
 * 3. account-driven-device when the served profile's EnrollmentMode is ADDE;
 * 4. device otherwise (a profile installed by hand).
 */
export function deriveEnrollmentType(facts: EnrollmentFacts): EnrollmentType {
  if (facts.kind === "user-enrollment" || facts.isUserEnrollment === true || facts.enrollmentMode === "BYOD") {
    return "user-enrollment";
  }
  if (facts.enrolledViaDEP === true || facts.awaitingConfigurationSeen === true || facts.servedThroughAde === true) {
    return "ade";
  }
  if (facts.enrollmentMode === "ADDE") return "account-driven-device";
  return "device";
}

/**
 * Ownership: a device in the organisation's Apple Business/School Manager (ade) is corporate; a User Enrollment is
 * personal whatever a profile declares (it is Apple's BYOD mode, and Apple hides the personal side regardless);
 * otherwise what the enrollment profile or an admin declares, and personal when nobody declared it, so that an
 * unknown device gets the more private treatment until someone says it is the organisation's.
 */
export function deriveOwnership(type: EnrollmentType, declared?: Ownership): Ownership {
  if (type === "ade") return "corporate";
  if (type === "user-enrollment") return "personal";
  return declared ?? "personal";
}
