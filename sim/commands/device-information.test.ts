// DeviceInformation and SecurityInfo answers per platform and per AccessRights.
import { beforeAll, describe, expect, it } from "vitest";
import { PlistReal, type PlistDict } from "../../src/wire/plist.ts";
import { run, enrolledDevice, simFixtures, type SimFixtures } from "../test-support/fixtures.ts";

let fx: SimFixtures;
beforeAll(async () => {
  fx = await simFixtures();
});

const ALL = ["UDID", "DeviceName", "OSVersion", "BuildVersion", "ModelName", "Model", "ProductName", "SerialNumber", "DeviceCapacity", "BatteryLevel", "IMEI", "MEID", "WiFiMAC", "BluetoothMAC", "EthernetMAC", "IsSupervised", "IsAppleSilicon", "HasBattery", "PhoneNumber", "NoSuchQuery"];

async function answers(platform: "iOS" | "iPadOS" | "macOS" | "tvOS" | "visionOS", rights?: number): Promise<PlistDict> {
  const device = await enrolledDevice(fx, { platform, seed: `di-${platform}-${rights}` }, rights === undefined ? {} : { AccessRights: rights });
  const result = await run(device, "DeviceInformation", { Queries: ALL });
  expect(result.status).toBe("Acknowledged");
  return (result as { response: PlistDict }).response.QueryResponses as PlistDict;
}

describe("DeviceInformation", () => {
  it("answers an iPhone's queries, cellular ones included, and leaves out what it does not know", async () => {
    const a = await answers("iOS");
    expect(a).toMatchObject({ ModelName: "iPhone", IsSupervised: false });
    expect(a.IMEI).toMatch(/^\d{2} \d{6} \d{6} \d$/);
    expect(a.DeviceCapacity).toBeInstanceOf(PlistReal);
    expect(a.BatteryLevel).toBeInstanceOf(PlistReal);
    expect(a).not.toHaveProperty("NoSuchQuery");
    expect(a).not.toHaveProperty("IsAppleSilicon");
    expect(a).not.toHaveProperty("EthernetMAC");
  });

  it("gives an iPad no IMEI, a Mac its Mac keys, a TV no battery", async () => {
    const pad = await answers("iPadOS");
    expect(pad.ModelName).toBe("iPad");
    expect(pad).not.toHaveProperty("IMEI");
    const mac = await answers("macOS");
    expect(mac.IsAppleSilicon).toBe(true);
    expect(typeof mac.HasBattery).toBe("boolean");
    expect(mac).toHaveProperty("EthernetMAC");
    expect(mac).not.toHaveProperty("IMEI");
    const tv = await answers("tvOS");
    expect(tv).not.toHaveProperty("BatteryLevel");
    expect(tv).not.toHaveProperty("DeviceCapacity");
  });

  it("answers only what AccessRights allow: network facts need AllowQueryNetworkInformation (32)", async () => {
    const deviceOnly = await answers("iOS", 1 | 16);
    expect(deviceOnly).toHaveProperty("SerialNumber");
    expect(deviceOnly).not.toHaveProperty("WiFiMAC");
    expect(deviceOnly).not.toHaveProperty("PhoneNumber");
    const networkOnly = await answers("iOS", 1 | 32);
    expect(networkOnly).toHaveProperty("WiFiMAC");
    expect(networkOnly).not.toHaveProperty("SerialNumber");
    // UDID needs no right at all.
    expect(networkOnly).toHaveProperty("UDID");
  });
});

describe("SecurityInfo", () => {
  it("reports passcode state on iOS and FileVault on macOS", async () => {
    const phone = await enrolledDevice(fx, { platform: "iOS", seed: "si1" });
    const p = (await run(phone, "SecurityInfo")) as { response: PlistDict };
    expect(p.response.SecurityInfo).toMatchObject({ PasscodePresent: true, HardwareEncryptionCaps: 3 });
    const mac = await enrolledDevice(fx, { platform: "macOS", seed: "si2" });
    const m = (await run(mac, "SecurityInfo")) as { response: PlistDict };
    expect(m.response.SecurityInfo).toMatchObject({ FDE_Enabled: true, SystemIntegrityProtectionEnabled: true });
    expect(m.response.SecurityInfo).not.toHaveProperty("PasscodePresent");
  });
});
