// The inventory a server collects (DeviceInformation with every query, SecurityInfo, InstalledApplicationList,
// ProfileList, CertificateList, ProvisioningProfileList, AvailableOSUpdates): each answer validates against
// Apple's schema per platform and for User Enrollment, the fleet is varied, and changes show in the next answer.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { PlistDict } from "../../src/wire/plist.ts";
import { commandRequestSpec, commandResponseSpec, compareOSVersions, commandSchema, effectiveSupportedOS, resolveSubkeys } from "../../src/wire/schema/index.ts";
import { validateAgainstSpec } from "../../src/wire/schema/index.ts";
import { createFleet } from "../fleet-commands.ts";
import { evolveFleet } from "../fleet-evolution.ts";
import { FleetStore } from "../fleet-store.ts";
import { VirtualDevice } from "../device.ts";
import { DEVICE_PLATFORMS, schemaPlatform, type DevicePlatform } from "../platform.ts";
import { enrolledDevice, responseOf, run, simFixtures, type SimFixtures } from "../test-support/fixtures.ts";

let fx: SimFixtures;
beforeAll(async () => {
  fx = await simFixtures();
});

const queryItems = () => resolveSubkeys(resolveSubkeys(commandRequestSpec("DeviceInformation")!.find((k) => k.key === "Queries")!)![0]!)!;
const ALL_QUERIES = () => queryItems().map((k) => k.key);

/** Queries Apple's schema marks forbidden for User Enrollment on this platform. */
function forbiddenForUserEnrollment(platform: DevicePlatform): string[] {
  const base = commandSchema("DeviceInformation")!.supportedOS;
  return queryItems()
    .filter((q) => effectiveSupportedOS(base, q.supportedOS)[schemaPlatform(platform)]?.userenrollment?.mode === "forbidden")
    .map((q) => q.key);
}

function validate(requestType: string, platform: DevicePlatform, response: PlistDict, userEnrollment = false): string[] {
  return validateAgainstSpec(response, commandResponseSpec(requestType)!, "", { reportUnknownKeys: true, context: { platform: schemaPlatform(platform), channel: "device", userEnrollment } }).map(
    (p) => `${requestType}: ${p.message}`,
  );
}

/**
 * Queries answered only in a state the sim does not model: attestation needs Apple's attestation CA;
 * OrganizationInfo and MDMOptions exist once the server has set them (Settings); the Shared iPad keys only on
 * supervised iPads (an iPhone has no Shared iPad mode); the store-account hash and last-backup date only when
 * signed in / backed up (seeded per device).
 */
const EXCUSED = new Set([
  "DevicePropertiesAttestation",
  "OrganizationInfo",
  "MDMOptions",
  "iTunesStoreAccountHash",
  "LastCloudBackupDate",
  "MaximumResidentUsers",
  "EstimatedResidentUsers",
  "QuotaSize",
  "ResidentUsers",
  "UserSessionTimeout",
  "TemporarySessionTimeout",
  "TemporarySessionOnly",
  "ManagedAppleIDDefaultDomains",
  "OnlineAuthenticationGracePeriod",
  "SkipLanguageAndLocaleSetupForNewUsers",
]);
/** Keys a Wi-Fi-only iPad has no value for. */
const CELLULAR_ONLY: Record<string, true> = Object.fromEntries(
  ["IMEI", "MEID", "ModemFirmwareVersion", "CellularTechnology", "ICCID", "PhoneNumber", "CurrentCarrierNetwork", "SubscriberCarrierNetwork", "CarrierSettingsVersion", "DataRoamingEnabled", "VoiceRoamingEnabled", "PersonalHotspotEnabled", "IsNetworkTethered", "IsRoaming", "SubscriberMCC", "SubscriberMNC", "CurrentMCC", "CurrentMNC", "ServiceSubscriptions"].map((k) => [k, true]),
);

const INVENTORY: Array<[string, PlistDict]> = [
  ["DeviceInformation", { Queries: ALL_QUERIES() }],
  ["SecurityInfo", {}],
  ["InstalledApplicationList", {}],
  ["ProfileList", {}],
  ["CertificateList", {}],
  ["ProvisioningProfileList", {}],
  ["AvailableOSUpdates", {}],
];

describe("inventory answers", () => {
  it.each(DEVICE_PLATFORMS)("%s (supervised): every inventory command is acknowledged and validates against Apple's schema", async (platform) => {
    const device = await enrolledDevice(fx, { platform, supervised: true, seed: `inv-${platform}`, osVersion: platform === "macOS" ? "14.7.6" : undefined });
    for (const [requestType, params] of INVENTORY) {
      if (requestType === "AvailableOSUpdates" && platform === "visionOS") continue; // not in Apple's schema for visionOS
      const response = responseOf(await run(device, requestType, params));
      expect(validate(requestType, platform, response)).toEqual([]);
    }
    const info = responseOf(await run(device, "DeviceInformation", { Queries: ALL_QUERIES() })).QueryResponses as PlistDict;
    // Every query the schema lists for this platform and OS is answered, except those a device only answers in
    // a state the sim does not model (EXCUSED).
    const base = commandSchema("DeviceInformation")!.supportedOS;
    const applicable = queryItems().filter((q) => {
      const s = effectiveSupportedOS(base, q.supportedOS)[schemaPlatform(platform)];
      return s !== undefined && s.introduced !== "n/a" && s.removed === undefined && (compareOSVersions(device.state.osVersion, s.introduced ?? "0") ?? 0) >= 0;
    });
    const unanswered = applicable.map((q) => q.key).filter((k) => !(k in info) && !EXCUSED.has(k) && !(k in CELLULAR_ONLY && device.state.imei === undefined));
    expect(unanswered).toEqual([]);
    expect(info).toMatchObject({ IsSupervised: true, SerialNumber: device.state.serialNumber, UDID: device.udid });
    const apps = responseOf(await run(device, "InstalledApplicationList")).InstalledApplicationList as PlistDict[];
    expect(apps.length).toBeGreaterThanOrEqual(4);
    expect(apps.length).toBeLessThanOrEqual(60);
    const certs = responseOf(await run(device, "CertificateList")).CertificateList as PlistDict[];
    expect(certs.some((c) => c.IsIdentity === true)).toBe(true);
    const profiles = responseOf(await run(device, "ProfileList")).ProfileList as PlistDict[];
    expect(profiles.length).toBeGreaterThan(0);
  });

  it("an iPhone reports its carrier identifiers, a Mac its Mac keys, and only the newer releases are offered", async () => {
    const phone = await enrolledDevice(fx, { platform: "iOS", supervised: true, seed: "inv-phone", productName: "iPhone15,2", osVersion: "17.7.2" });
    const info = responseOf(await run(phone, "DeviceInformation", { Queries: ALL_QUERIES() })).QueryResponses as PlistDict;
    expect(info).toMatchObject({ ProductName: "iPhone15,2", ModelName: "iPhone", OSVersion: "17.7.2" });
    expect(info.IMEI).toMatch(/^\d{2} \d{6} \d{6} \d$/);
    expect(typeof info.IsActivationLockEnabled).toBe("boolean");
    expect(typeof info.IsCloudBackupEnabled).toBe("boolean");
    const updates = responseOf(await run(phone, "AvailableOSUpdates")).AvailableOSUpdates as PlistDict[];
    expect(updates.map((u) => u.Version)).toEqual(["18.4.1", "18.5", "18.6"]);
    expect(updates[0]!.IsMajorOSUpdate).toBe(true);

    const mac = await enrolledDevice(fx, { platform: "macOS", seed: "inv-mac", productName: "Mac15,3" });
    const m = responseOf(await run(mac, "DeviceInformation", { Queries: ALL_QUERIES() })).QueryResponses as PlistDict;
    expect(m).toMatchObject({ IsAppleSilicon: true, SystemIntegrityProtectionEnabled: true });
    expect(m.OSUpdateSettings).toHaveProperty("AutomaticSecurityUpdatesEnabled");
    expect(m).not.toHaveProperty("IMEI");
    const security = responseOf(await run(mac, "SecurityInfo")).SecurityInfo as PlistDict;
    expect(security.FirewallSettings).toHaveProperty("FirewallEnabled");
  });

  it("an unsupervised iPhone gets the error a real one returns for AvailableOSUpdates", async () => {
    const phone = await enrolledDevice(fx, { platform: "iOS", seed: "inv-unsup" });
    const result = await run(phone, "AvailableOSUpdates");
    expect(result.status).toBe("Error");
    expect(JSON.stringify(result)).toContain("supervised");
  });

  it("the fleet is varied: models, OS versions, app counts and settings differ across seeds", async () => {
    const devices = Array.from({ length: 40 }, (_, i) => VirtualDevice.create({ platform: "iOS", seed: `vary-${i}` }).state);
    expect(new Set(devices.map((d) => d.productName)).size).toBeGreaterThan(4);
    expect(new Set(devices.map((d) => d.osVersion)).size).toBeGreaterThan(2);
    expect(new Set(devices.map((d) => d.apps.length)).size).toBeGreaterThan(8);
    expect(new Set(devices.map((d) => d.traits!.findMyEnabled)).size).toBe(2);
    expect(new Set(devices.map((d) => d.traits!.carrier?.name)).size).toBeGreaterThan(3);
    // Same seed, same device.
    expect(VirtualDevice.create({ platform: "iOS", seed: "vary-3" }).state.apps).toEqual(devices[3]!.apps);
  });
});

describe("User Enrollment", () => {
  it.each(["iOS", "iPadOS", "macOS", "visionOS"] as const)("%s: leaves out what Apple keeps from the organisation, and validates", async (platform) => {
    const device = await enrolledDevice(fx, { platform, userEnrollment: true, seed: `ue-${platform}`, productName: platform === "iPadOS" ? "iPad16,4" : undefined });
    const info = responseOf(await run(device, "DeviceInformation", { Queries: ALL_QUERIES() })).QueryResponses as PlistDict;
    expect(validate("DeviceInformation", platform, { QueryResponses: info }, true)).toEqual([]);
    const forbidden = forbiddenForUserEnrollment(platform);
    expect(forbidden).toEqual(expect.arrayContaining(["UDID", "SerialNumber"]));
    expect(Object.keys(info).filter((k) => forbidden.includes(k))).toEqual([]);
    for (const k of ["UDID", "SerialNumber", "IMEI", "MEID", "PhoneNumber", "ICCID", "WiFiMAC", "BluetoothMAC", "EthernetMAC"]) expect(info).not.toHaveProperty(k);
    expect(info).toMatchObject({ OSVersion: device.state.osVersion, ProductName: device.state.productName });
    const security = responseOf(await run(device, "SecurityInfo")).SecurityInfo as PlistDict;
    expect(security.ManagementStatus).toMatchObject({ IsUserEnrollment: true });
    expect(validate("SecurityInfo", platform, { SecurityInfo: security }, true)).toEqual([]);
  });

  it("lists only managed apps (the user's own are private), and refuses what Apple forbids", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", userEnrollment: true, seed: "ue-apps" });
    expect(device.state.apps.length).toBeGreaterThan(5);
    expect(responseOf(await run(device, "InstalledApplicationList")).InstalledApplicationList).toEqual([]);
    await run(device, "InstallApplication", { iTunesStoreID: 951937596, Identifier: "com.example.managed" });
    const apps = responseOf(await run(device, "InstalledApplicationList")).InstalledApplicationList as PlistDict[];
    expect(apps.map((a) => a.Identifier)).toEqual(["com.example.managed"]);
    expect((await run(device, "AvailableOSUpdates")).status).toBe("Error");
    const mac = await enrolledDevice(fx, { platform: "macOS", userEnrollment: true, seed: "ue-mac" });
    expect((await run(mac, "InstalledApplicationList")).status).toBe("Error");
  });

  it("is refused for tvOS and for a supervised device", () => {
    expect(() => VirtualDevice.create({ platform: "tvOS", userEnrollment: true })).toThrow(/tvOS/);
    expect(() => VirtualDevice.create({ platform: "iOS", userEnrollment: true, supervised: true })).toThrow(/supervised/);
  });
});

describe("change over time", () => {
  it("an OS update and app changes show in the next DeviceInformation and InstalledApplicationList", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", supervised: true, seed: "evolve-1", osVersion: "17.7.2" });
    const before = responseOf(await run(device, "InstalledApplicationList")).InstalledApplicationList as PlistDict[];
    expect(device.updateOS()).toMatchObject({ kind: "os-update", from: "17.7.2", to: "18.6" });
    const installed = device.installUserApp();
    const removed = device.removeUserApp(before.find((a) => a.Identifier !== (installed as { identifier: string }).identifier)!.Identifier as string);
    expect(installed?.kind).toBe("app-install");
    expect(removed?.kind).toBe("app-remove");
    const info = responseOf(await run(device, "DeviceInformation", { Queries: ["OSVersion", "BuildVersion"] })).QueryResponses as PlistDict;
    expect(info).toEqual({ OSVersion: "18.6", BuildVersion: "22G86" });
    const after = (responseOf(await run(device, "InstalledApplicationList")).InstalledApplicationList as PlistDict[]).map((a) => a.Identifier);
    expect(after).toContain((installed as { identifier: string }).identifier);
    expect(after).not.toContain((removed as { identifier: string }).identifier);
    expect(responseOf(await run(device, "AvailableOSUpdates")).AvailableOSUpdates).toEqual([]);
    expect(device.updateOS()).toBeUndefined();
  });

  it("orchard sim evolve's API changes a share of a fleet file, reproducibly", () => {
    const dir = mkdtempSync(join(tmpdir(), "sim-evolve-"));
    try {
      const path = join(dir, "fleet.db");
      createFleet(path, { count: 30, platforms: ["iOS", "macOS"], seed: "evolve-fleet" });
      const snapshot = () => {
        const store = FleetStore.open(path);
        try {
          return store.load(store.select()).map((d) => JSON.stringify([d.state.osVersion, d.state.apps.map((a) => `${a.identifier}@${a.shortVersion}`)]));
        } finally {
          store.close();
        }
      };
      const before = snapshot();
      const summary = evolveFleet(path, { fraction: 0.5, osUpdate: 1, seed: "e1" });
      expect(summary.devices).toBeGreaterThan(5);
      expect(summary.devices).toBeLessThan(30);
      expect(summary.changes["os-update"]).toBeGreaterThan(0);
      const after = snapshot();
      const differing = after.filter((s, i) => s !== before[i]).length;
      expect(differing).toBe(summary.changed);
      expect(() => evolveFleet(path, { fraction: 0 })).toThrow(/fraction/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
