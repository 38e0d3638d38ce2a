// Apps and Settings: installation, managed state, removal rules, per-item settings results.
import { beforeAll, describe, expect, it } from "vitest";
import type { PlistDict } from "../../src/wire/plist.ts";
import { responseOf, run, enrolledDevice, simFixtures, type SimFixtures } from "../test-support/fixtures.ts";

let fx: SimFixtures;
beforeAll(async () => {
  fx = await simFixtures();
});

describe("applications", () => {
  it("installs an App Store app as managed, lists it, and removes it", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "ap1" });
    const install = await run(device, "InstallApplication", { iTunesStoreID: 284882215, Identifier: "com.facebook.Facebook" });
    expect(install).toMatchObject({ status: "Acknowledged", response: { Identifier: "com.facebook.Facebook", State: "Queued" } });
    const managed = responseOf(await run(device, "ManagedApplicationList")) as { ManagedApplicationList: PlistDict };
    expect(managed.ManagedApplicationList["com.facebook.Facebook"]).toMatchObject({ Status: "Managed" });
    const list = responseOf(await run(device, "InstalledApplicationList", { ManagedAppsOnly: true })) as { InstalledApplicationList: PlistDict[] };
    expect(list.InstalledApplicationList.map((a) => a.Identifier)).toEqual(["com.facebook.Facebook"]);
    expect((await run(device, "RemoveApplication", { Identifier: "com.facebook.Facebook" })).status).toBe("Acknowledged");
    expect(device.state.apps.some((a) => a.identifier === "com.facebook.Facebook")).toBe(false);
  });

  it("refuses to remove an app the user installed, and one that is not there", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "ap2" });
    const userApp = device.state.apps[0]!.identifier;
    expect((await run(device, "RemoveApplication", { Identifier: userApp })).status).toBe("Error");
    expect((await run(device, "RemoveApplication", { Identifier: "com.nothere" })).status).toBe("Error");
    expect(device.state.apps.some((a) => a.identifier === userApp)).toBe(true);
  });

  it("returns only the Items asked for", async () => {
    const device = await enrolledDevice(fx, { platform: "iPadOS", seed: "ap3" });
    const r = responseOf(await run(device, "InstalledApplicationList", { Items: ["Identifier", "ShortVersion"] })) as { InstalledApplicationList: PlistDict[] };
    expect(r.InstalledApplicationList.length).toBeGreaterThan(0);
    for (const app of r.InstalledApplicationList) expect(Object.keys(app).sort()).toEqual(["Identifier", "ShortVersion"]);
  });
});

describe("Settings", () => {
  it("renames a supervised iPhone but not an unsupervised one (DeviceName is supervised-only on iOS)", async () => {
    const plain = await enrolledDevice(fx, { platform: "iOS", seed: "s1" });
    const name = plain.state.deviceName;
    const refused = await run(plain, "Settings", { Settings: [{ Item: "DeviceName", DeviceName: "Kiosk 1" }] });
    expect(refused.status).toBe("Error");
    expect(plain.state.deviceName).toBe(name);
    const supervised = await enrolledDevice(fx, { platform: "iOS", supervised: true, seed: "s2" });
    expect((await run(supervised, "Settings", { Settings: [{ Item: "DeviceName", DeviceName: "Kiosk 1" }] })).status).toBe("Acknowledged");
    expect(supervised.state.deviceName).toBe("Kiosk 1");
  });

  it("applies what it can and reports the rest", async () => {
    const mac = await enrolledDevice(fx, { platform: "macOS", seed: "s3" });
    const r = await run(mac, "Settings", { Settings: [{ Item: "HostName", HostName: "build-01" }, { Item: "DataRoaming", Enabled: true }] });
    expect(r.status).toBe("Error");
    expect(JSON.stringify(r)).toContain("DataRoaming");
    expect(mac.state.settings.HostName).toBe("build-01");
  });
});
