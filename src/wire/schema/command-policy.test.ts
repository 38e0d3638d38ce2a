import { describe, expect, it } from "vitest";
import { ALL_ACCESS_RIGHTS, accessRightBits } from "./access-rights.ts";
import type { CommandTarget } from "./command-policy.ts";
import { checkCommandAllowed, commandInfo, describeAccessRights } from "./command-policy.ts";
import { compareOSVersions } from "./os-version.ts";
import { commandRequestTypes, commandSchema } from "./spec-lookup.ts";
import { effectiveSupportedOS } from "./supported-os.ts";

const iPhone: CommandTarget = {
  platform: "iOS",
  osVersion: "17.4.1",
  channel: "device",
  supervised: false,
  userEnrollment: false,
  accessRights: ALL_ACCESS_RIGHTS,
};
const mac: CommandTarget = { ...iPhone, platform: "macOS", osVersion: "14.4" };

describe("checkCommandAllowed", () => {
  it("refuses DeviceLock on the macOS user channel and allows it on the device channel", () => {
    expect(checkCommandAllowed("DeviceLock", { ...mac, channel: "user" })).toEqual({
      ok: false,
      reason: "DeviceLock cannot be sent on the user channel on macOS; send it to the device channel",
    });
    expect(checkCommandAllowed("DeviceLock", mac)).toEqual({ ok: true });
  });

  it("refuses EraseDevice under User Enrollment", () => {
    expect(checkCommandAllowed("EraseDevice", { ...iPhone, userEnrollment: true })).toEqual({
      ok: false,
      reason: "EraseDevice is not allowed on iOS/iPadOS devices enrolled with User Enrollment",
    });
    expect(checkCommandAllowed("EraseDevice", iPhone)).toEqual({ ok: true });
  });

  it("requires supervision for EnableLostMode on iOS, and does not offer it on macOS", () => {
    expect(checkCommandAllowed("EnableLostMode", iPhone)).toEqual({
      ok: false,
      reason: "EnableLostMode requires a supervised iOS/iPadOS device",
    });
    expect(checkCommandAllowed("EnableLostMode", { ...iPhone, supervised: true })).toEqual({ ok: true });
    expect(checkCommandAllowed("EnableLostMode", { ...mac, supervised: true })).toEqual({
      ok: false,
      reason: "EnableLostMode is not available on macOS",
    });
  });

  it("allows InstallProfile broadly", () => {
    const targets: CommandTarget[] = [
      iPhone,
      { ...iPhone, userEnrollment: true },
      { ...iPhone, sharedIPad: true, channel: "user" },
      mac,
      { ...mac, channel: "user" },
      { ...iPhone, platform: "tvOS", osVersion: "17.0" },
      { ...iPhone, platform: "visionOS", osVersion: "1.1" },
      { ...iPhone, platform: "watchOS", osVersion: "10.0" },
    ];
    for (const target of targets) expect(checkCommandAllowed("InstallProfile", target)).toEqual({ ok: true });
  });

  it("refuses when the AccessRights mask lacks the needed bit, naming the right", () => {
    const mask = ALL_ACCESS_RIGHTS & ~4;
    expect(checkCommandAllowed("DeviceLock", { ...iPhone, accessRights: mask })).toEqual({
      ok: false,
      reason:
        "DeviceLock needs the 'Allow device lock and passcode removal' access right (4), which this device's enrollment profile does not grant",
    });
    expect(checkCommandAllowed("DeviceLock", { ...iPhone, accessRights: 4 })).toEqual({ ok: true });
    expect(checkCommandAllowed("InstallProfile", { ...iPhone, accessRights: 1 })).toMatchObject({ ok: false });
    // Spelt differently in the schema (DeviceLockAndRemovePasscode) but the same bit.
    expect(checkCommandAllowed("UnlockUserAccount", { ...mac, accessRights: 0 })).toEqual({
      ok: false,
      reason:
        "UnlockUserAccount needs the 'Allow device lock and passcode removal' access right (4), which this device's enrollment profile does not grant",
    });
  });

  it("does not apply AccessRights to User Enrollment, where Apple ignores them", () => {
    expect(checkCommandAllowed("InstallProfile", { ...iPhone, userEnrollment: true, accessRights: 0 })).toEqual({
      ok: true,
    });
  });

  it("checks the OS version only when it is known", () => {
    expect(checkCommandAllowed("EnableLostMode", { ...iPhone, supervised: true, osVersion: "9.2" })).toEqual({
      ok: false,
      reason: "EnableLostMode needs iOS/iPadOS 9.3 or later; this device runs 9.2",
    });
    expect(checkCommandAllowed("EnableLostMode", { ...iPhone, supervised: true, osVersion: "9.3" })).toEqual({ ok: true });
    const { osVersion: _omit, ...noVersion } = iPhone;
    expect(checkCommandAllowed("EnableLostMode", { ...noVersion, supervised: true })).toEqual({ ok: true });
    expect(checkCommandAllowed("EnableLostMode", { ...iPhone, supervised: true, osVersion: "unknown" })).toEqual({
      ok: true,
    });
  });

  it("knows which channels exist on which platform", () => {
    expect(checkCommandAllowed("InstallProfile", { ...iPhone, channel: "user" })).toEqual({
      ok: false,
      reason: "iOS/iPadOS has no user channel (only macOS and Shared iPad do)",
    });
    expect(checkCommandAllowed("DeviceLock", { ...iPhone, sharedIPad: true, channel: "user" })).toEqual({
      ok: false,
      reason: "DeviceLock cannot be sent on the user channel on a Shared iPad; send it to the device channel",
    });
    // InviteToProgram exists only on the macOS user channel.
    expect(checkCommandAllowed("InviteToProgram", mac)).toEqual({
      ok: false,
      reason: "InviteToProgram cannot be sent on the device channel on macOS; send it to the user channel",
    });
  });

  it("honours the Shared iPad modes", () => {
    expect(commandInfo("ApplyRedemptionCode")!.platforms.iOS.sharedIPad?.mode).toBe("forbidden");
    expect(checkCommandAllowed("ApplyRedemptionCode", { ...iPhone, sharedIPad: true })).toEqual({
      ok: false,
      reason: "ApplyRedemptionCode is not allowed on a Shared iPad",
    });
    const required = commandRequestTypes().filter((rt) => commandInfo(rt)?.platforms.iOS.sharedIPad?.mode === "required");
    expect(required).toEqual(expect.arrayContaining(["DeleteUser", "LogOutUser", "UserList"]));
    for (const rt of required) {
      expect(checkCommandAllowed(rt, { ...iPhone, supervised: true })).toEqual({
        ok: false,
        reason: `${rt} works only on a Shared iPad`,
      });
    }
  });

  it("refuses unknown commands and does not find Object.prototype members", () => {
    expect(checkCommandAllowed("FormatHardDrive", iPhone)).toEqual({
      ok: false,
      reason: "FormatHardDrive is not a command in Apple's device-management schema",
    });
    expect(commandInfo("constructor")).toBeUndefined();
    expect(commandInfo("__proto__")).toBeUndefined();
    expect(checkCommandAllowed("toString", iPhone)).toMatchObject({ ok: false });
  });

  it("leaves DeviceInformation's per-query rights to the caller ('Special Case')", () => {
    const info = commandInfo("DeviceInformation")!;
    expect(info.platforms.iOS.accessRights).toBe("Special Case");
    expect(info.platforms.iOS.accessRightsBits).toBeUndefined();
    expect(checkCommandAllowed("DeviceInformation", { ...iPhone, accessRights: 1 })).toEqual({ ok: true });
  });
});

describe("command metadata", () => {
  it("normalises Apple's supportedOS with documented defaults", () => {
    const lock = commandInfo("DeviceLock")!;
    expect(lock.platforms.macOS).toEqual({
      available: true,
      introduced: "10.7",
      accessRights: "AllowPasscodeRemovalAndLock",
      accessRightsBits: 4,
      supervised: false,
      requiresDEP: false,
      userApprovedMDM: false,
      deviceChannel: true,
      userChannel: false,
      userEnrollment: { mode: "forbidden" },
    });
    expect(lock.platforms.tvOS.available).toBe(false);
    expect(lock.platforms.iOS.sharedIPad).toEqual({ mode: "allowed", deviceChannel: true, userChannel: false });
  });

  it("maps every access-right name to one bit and refuses names it does not know", () => {
    expect(accessRightBits("AllowDeviceErase")).toBe(8);
    expect(accessRightBits("QueryInstalledApps")).toBe(256);
    expect(accessRightBits("None")).toBe(0);
    expect(accessRightBits(undefined)).toBe(0);
    expect(accessRightBits("Special Case")).toBeUndefined();
    expect(() => accessRightBits("AllowEverything")).toThrow(/unknown MDM access right/);
    expect(ALL_ACCESS_RIGHTS).toBe(8191);
    expect(describeAccessRights(4 | 8)).toEqual(["Allow device lock and passcode removal", "Allow device erase"]);
  });
});

describe("supportedOS inheritance (docs/schema.md)", () => {
  it("lets a key override single fields of the payload's entry", () => {
    const schema = commandSchema("DeviceLock")!;
    const message = schema.request.find((k) => k.key === "Message")!;
    const effective = effectiveSupportedOS(schema.supportedOS, message.supportedOS);
    // The key says iOS introduced 7.0 and sharedipad mode "ignored"; everything else comes from the payload.
    expect(effective.iOS).toEqual({
      introduced: "7.0",
      accessrights: "AllowPasscodeRemovalAndLock",
      supervised: false,
      requiresdep: false,
      sharedipad: { mode: "ignored", devicechannel: true, userchannel: false },
      userenrollment: { mode: "allowed" },
    });
    expect(effective.visionOS?.introduced).toBe("n/a");
    expect(effective.macOS).toEqual(
      effectiveSupportedOS(schema.supportedOS, { macOS: { introduced: "10.14" } }).macOS,
    );
    expect(effective.watchOS).toBe(schema.supportedOS?.watchOS);
  });

  it("compares OS versions numerically", () => {
    expect(compareOSVersions("10.13.4", "10.9")).toBeGreaterThan(0);
    expect(compareOSVersions("17", "17.0.0")).toBe(0);
    expect(compareOSVersions("9.2", "9.3")).toBeLessThan(0);
    expect(compareOSVersions("all", "9.3")).toBeUndefined();
  });
});
