import { describe, expect, it } from "vitest";
import { columnsSometimesForbidden, deviceAppScope, filterDeviceAnswers, filterSecurityInfo, mayKeep, withoutForbiddenColumns, type SeparationFacts } from "./device-separation.ts";

const facts = (f: Partial<SeparationFacts>): SeparationFacts => ({ platform: "iOS", enrollment_kind: "device", ownership: null, supervised: null, dep_capable: null, ...f });

describe("data separation of one stored device", () => {
  it("derives the context from the row: EnrollmentID channel is a personal User Enrollment, ADE is corporate, undeclared is personal", () => {
    const ue = facts({ enrollment_kind: "user-enrollment", ownership: "corporate" });
    expect(mayKeep("SerialNumber", ue)).toBe(false);
    expect(deviceAppScope(ue)).toBe("managed");
    expect(mayKeep("SerialNumber", facts({}))).toBe(true);
    expect(mayKeep("PhoneNumber", facts({}))).toBe(false);
    expect(deviceAppScope(facts({}))).toBe("managed");
    expect(deviceAppScope(facts({ dep_capable: 1 }))).toBe("all");
    expect(mayKeep("PhoneNumber", facts({ ownership: "corporate" }))).toBe(true);
  });

  it("treats an unknown platform by the strictest platform's rule, and iPadOS as iOS", () => {
    // IsActivationLockEnabled is forbidden to User Enrollment on iOS and macOS only.
    expect(mayKeep("IsActivationLockEnabled", facts({ enrollment_kind: "user-enrollment", platform: "visionOS" }))).toBe(true);
    expect(mayKeep("IsActivationLockEnabled", facts({ enrollment_kind: "user-enrollment", platform: null }))).toBe(false);
    expect(mayKeep("IsActivationLockEnabled", facts({ enrollment_kind: "user-enrollment", platform: "iPadOS" }))).toBe(false);
  });

  it("filters answers, SecurityInfo and check-in identifiers, naming what it dropped", () => {
    const ue = facts({ enrollment_kind: "user-enrollment" });
    expect(filterDeviceAnswers({ SerialNumber: "S", OSVersion: "17.4", Made: "up" }, ue)).toEqual({ kept: { OSVersion: "17.4" }, dropped: ["SerialNumber", "Made"] });
    expect(filterSecurityInfo({ PasscodePresent: true, PasscodeCompliant: true, Made: 1 }, ue)).toEqual({ kept: { PasscodeCompliant: true }, dropped: ["PasscodePresent", "Made"] });
    const mac = facts({ enrollment_kind: "user-enrollment", platform: "macOS" });
    expect(filterSecurityInfo({ FirewallSettings: { FirewallEnabled: true, Applications: [] } }, mac)).toEqual({ kept: { FirewallSettings: { FirewallEnabled: true } }, dropped: ["FirewallSettings.Applications"] });
    expect(filterSecurityInfo({ PasscodePresent: true }, facts({}))).toEqual({ kept: { PasscodePresent: true }, dropped: [] });
    expect(withoutForbiddenColumns({ serial_number: "S", imei: "I", os_version: "17" }, ue)).toEqual({ serial_number: null, imei: null, os_version: "17" });
  });

  it("knows which columns the API may have to leave out", () => {
    expect(columnsSometimesForbidden()).toEqual(expect.arrayContaining(["serial_number", "udid", "imei", "meid", "wifi_mac", "bluetooth_mac", "activation_lock_enabled"]));
    expect(columnsSometimesForbidden()).not.toContain("os_version");
  });
});
