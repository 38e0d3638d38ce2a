import { describe, expect, it } from "vitest";
import { deriveEnrollmentType, deriveOwnership, enrollmentTypeExists, ENROLLMENT_TYPES } from "./enrollment-type.ts";

describe("deriveEnrollmentType", () => {
  it("is a plain Device Enrollment when nothing says otherwise", () => {
    expect(deriveEnrollmentType({ kind: "device" })).toBe("device");
    expect(deriveEnrollmentType({ kind: "device", enrolledViaDEP: false, isUserEnrollment: false, awaitingConfigurationSeen: false })).toBe("device");
  });

  it("is a User Enrollment when the channel has an EnrollmentID, the device says so or the profile was BYOD", () => {
    expect(deriveEnrollmentType({ kind: "user-enrollment" })).toBe("user-enrollment");
    expect(deriveEnrollmentType({ kind: "device", isUserEnrollment: true })).toBe("user-enrollment");
    expect(deriveEnrollmentType({ kind: "device", enrollmentMode: "BYOD" })).toBe("user-enrollment");
  });

  it("is ADE from the device's own signs or Orchard's ADE profile", () => {
    expect(deriveEnrollmentType({ kind: "device", enrolledViaDEP: true })).toBe("ade");
    expect(deriveEnrollmentType({ kind: "device", awaitingConfigurationSeen: true })).toBe("ade");
    expect(deriveEnrollmentType({ kind: "shared-ipad", servedThroughAde: true })).toBe("ade");
  });

  it("is account-driven Device Enrollment when the served profile said ADDE", () => {
    expect(deriveEnrollmentType({ kind: "device", enrollmentMode: "ADDE" })).toBe("account-driven-device");
  });

  it("lets the most restrictive sign win when facts disagree", () => {
    expect(deriveEnrollmentType({ kind: "user-enrollment", enrolledViaDEP: true })).toBe("user-enrollment");
    expect(deriveEnrollmentType({ kind: "device", enrollmentMode: "ADDE", isUserEnrollment: true })).toBe("user-enrollment");
  });
});

describe("deriveOwnership", () => {
  it("makes ADE corporate and User Enrollment personal whatever is declared", () => {
    expect(deriveOwnership("ade", "personal")).toBe("corporate");
    expect(deriveOwnership("user-enrollment", "corporate")).toBe("personal");
  });

  it("takes the declared ownership otherwise, personal when nobody declared it", () => {
    for (const type of ["device", "account-driven-device"] as const) {
      expect(deriveOwnership(type, "corporate")).toBe("corporate");
      expect(deriveOwnership(type, "personal")).toBe("personal");
      expect(deriveOwnership(type)).toBe("personal");
    }
  });
});

describe("enrollmentTypeExists", () => {
  it("knows where each type exists", () => {
    expect(ENROLLMENT_TYPES.every((t) => enrollmentTypeExists(t, "iOS"))).toBe(true);
    expect(enrollmentTypeExists("user-enrollment", "tvOS")).toBe(false);
    expect(enrollmentTypeExists("ade", "watchOS")).toBe(false);
    expect(enrollmentTypeExists("account-driven-device", "watchOS")).toBe(false);
  });

  it("orders OS versions as Apple does (17.10 > 17.9 > 16.10)", () => {
    expect(enrollmentTypeExists("account-driven-device", "iOS", "17.10")).toBe(true);
    expect(enrollmentTypeExists("account-driven-device", "iOS", "17.9")).toBe(true);
    expect(enrollmentTypeExists("account-driven-device", "iOS", "16.10")).toBe(false);
    expect(enrollmentTypeExists("account-driven-device", "macOS", "13.10")).toBe(false);
    expect(enrollmentTypeExists("user-enrollment", "macOS", "10.15")).toBe(true);
    expect(enrollmentTypeExists("user-enrollment", "macOS", "10.9")).toBe(false);
  });
});
