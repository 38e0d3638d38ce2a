// What the device decides before a handler runs: unknown commands, platform, supervision, AccessRights,
// malformed parameters and NotNow, each answered the way Apple's client answers.
import { beforeAll, describe, expect, it } from "vitest";
import { run, enrolledDevice, simFixtures, type SimFixtures } from "../test-support/fixtures.ts";

let fx: SimFixtures;
beforeAll(async () => {
  fx = await simFixtures();
});

function expectErrorChain(result: { status: string; errorChain?: unknown }): void {
  expect(Array.isArray(result.errorChain)).toBe(true);
  const chain = result.errorChain as Record<string, unknown>[];
  expect(chain.length).toBeGreaterThan(0);
  for (const item of chain) {
    expect(typeof item.ErrorCode).toBe("number");
    expect(typeof item.ErrorDomain).toBe("string");
    expect(typeof item.LocalizedDescription).toBe("string");
    expect(typeof item.USEnglishDescription).toBe("string");
  }
}

describe("command dispatch", () => {
  it("answers an unknown command with Error and Apple's error chain", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "d1" });
    const result = await run(device, "MakeCoffee");
    expect(result.status).toBe("Error");
    expectErrorChain(result);
    expect(JSON.stringify(result)).toContain("MakeCoffee");
  });

  it("refuses a command the platform does not have", async () => {
    const device = await enrolledDevice(fx, { platform: "tvOS", seed: "d2" });
    const result = await run(device, "DeviceLock");
    expect(result.status).toBe("Error");
    expectErrorChain(result);
    expect(device.state.locked).toBe(false);
  });

  it("refuses what the MDM payload's AccessRights do not grant, and does not carry it out", async () => {
    // Inspect profiles (1) + install/remove profiles (2) + query device information (16): no erase (8).
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "d3" }, { AccessRights: 1 | 2 | 16 });
    const erase = await run(device, "EraseDevice");
    expect(erase.status).toBe("Error");
    expectErrorChain(erase);
    expect(JSON.stringify(erase)).toMatch(/erase/i);
    expect(device.enrolled).toBe(true);
    expect((await run(device, "SecurityInfo")).status).toBe("Error");
    expect((await run(device, "ProfileList")).status).toBe("Acknowledged");
  });

  it("refuses supervised-only commands on an unsupervised device and runs them on a supervised one", async () => {
    const plain = await enrolledDevice(fx, { platform: "iOS", seed: "d4" });
    expect((await run(plain, "EnableLostMode", { Message: "Call me" })).status).toBe("Error");
    expect(plain.state.lostMode).toBeUndefined();
    const supervised = await enrolledDevice(fx, { platform: "iOS", supervised: true, seed: "d5" });
    expect((await run(supervised, "EnableLostMode", { Message: "Call me" })).status).toBe("Acknowledged");
    expect(supervised.state.lostMode?.message).toBe("Call me");
  });

  it("answers CommandFormatError for missing or mistyped parameters", async () => {
    const device = await enrolledDevice(fx, { platform: "macOS", seed: "d6" });
    const missing = await run(device, "InstallProfile");
    expect(missing.status).toBe("CommandFormatError");
    expect(JSON.stringify(missing)).toContain("Payload");
    expect((await run(device, "RemoveProfile", { Identifier: 42 })).status).toBe("CommandFormatError");
    expect((await run(device, "DeviceInformation", { Queries: "OSVersion" })).status).toBe("CommandFormatError");
  });

  it("answers NotNow while locked for commands that need data protection, and runs the rest", async () => {
    const device = await enrolledDevice(fx, { platform: "iPadOS", seed: "d7" });
    device.lock();
    expect((await run(device, "InstallApplication", { iTunesStoreID: 361309726 })).status).toBe("NotNow");
    expect((await run(device, "InstallProfile", { Payload: new Uint8Array([1]) })).status).toBe("NotNow");
    expect((await run(device, "DeviceInformation", { Queries: ["OSVersion"] })).status).toBe("Acknowledged");
    device.unlock();
    expect((await run(device, "InstallApplication", { iTunesStoreID: 361309726 })).status).toBe("Acknowledged");
  });

  it("can be told to postpone a command type every time", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "d8", behaviour: { alwaysNotNow: ["ProfileList"] } });
    expect((await run(device, "ProfileList")).status).toBe("NotNow");
    expect((await run(device, "CertificateList")).status).toBe("Acknowledged");
  });
});
