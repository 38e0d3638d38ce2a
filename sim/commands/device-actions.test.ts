// DeviceLock, ClearPasscode (with the UnlockToken the device sent), EraseDevice, restart and shut down.
import { beforeAll, describe, expect, it } from "vitest";
import { fromB64 } from "../keychain.ts";
import { run, enrolledDevice, simFixtures, type SimFixtures } from "../test-support/fixtures.ts";

let fx: SimFixtures;
beforeAll(async () => {
  fx = await simFixtures();
});

describe("device actions", () => {
  it("clears the passcode only with the UnlockToken the device sent in TokenUpdate", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "a1" });
    const token = fromB64(device.state.mdm!.unlockToken!);
    expect(token.length).toBeGreaterThan(16);
    const wrong = new Uint8Array(token);
    wrong[0] = wrong[0]! ^ 1;
    expect((await run(device, "ClearPasscode", { UnlockToken: wrong })).status).toBe("Error");
    expect(device.state.passcodePresent).toBe(true);
    expect((await run(device, "ClearPasscode", { UnlockToken: token })).status).toBe("Acknowledged");
    expect(device.state.passcodePresent).toBe(false);
  });

  it("has no UnlockToken when AccessRights do not allow passcode removal, and on macOS", async () => {
    const limited = await enrolledDevice(fx, { platform: "iOS", seed: "a2" }, { AccessRights: 1 | 16 });
    expect(limited.state.mdm!.unlockToken).toBeUndefined();
    const mac = await enrolledDevice(fx, { platform: "macOS", seed: "a3" });
    expect(mac.state.mdm!.unlockToken).toBeUndefined();
    expect((await run(mac, "ClearPasscode", { UnlockToken: new Uint8Array(8) })).status).toBe("Error");
  });

  it("locks, after which commands needing data protection wait (NotNow)", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "a4" });
    expect((await run(device, "DeviceLock", { Message: "Return to IT" })).status).toBe("Acknowledged");
    expect(device.state.locked).toBe(true);
    expect((await run(device, "Settings", { Settings: [{ Item: "DataRoaming", Enabled: true }] })).status).toBe("NotNow");
  });

  it("acknowledges EraseDevice and wipes itself afterwards, forgetting its enrollment", async () => {
    const device = await enrolledDevice(fx, { platform: "macOS", seed: "a5" });
    const serial = device.state.serialNumber;
    const result = await run(device, "EraseDevice", { PIN: "123456" });
    expect(result).toEqual({ status: "Acknowledged", afterReport: "erase" });
    expect(device.enrolled).toBe(true); // not before the report is sent
    device.afterCommand("erase");
    expect(device.enrolled).toBe(false);
    expect(device.state.profiles).toEqual([]);
    expect(device.state.keychain.identities).toEqual([]);
    expect(device.state.serialNumber).toBe(serial);
    expect(device.state.history.erasures).toBe(1);
  });

  it("restarts a supervised iPhone but refuses on an unsupervised one (the schema's rule)", async () => {
    const plain = await enrolledDevice(fx, { platform: "iOS", seed: "a6" });
    expect((await run(plain, "RestartDevice")).status).toBe("Error");
    const supervised = await enrolledDevice(fx, { platform: "iOS", supervised: true, seed: "a7" });
    expect(await run(supervised, "RestartDevice")).toEqual({ status: "Acknowledged", afterReport: "restart" });
    expect(await run(supervised, "ShutDownDevice")).toEqual({ status: "Acknowledged", afterReport: "shutdown" });
  });

  it("reports the location only in Lost Mode", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", supervised: true, seed: "a8" });
    expect((await run(device, "DeviceLocation")).status).toBe("Error");
    expect((await run(device, "EnableLostMode")).status).toBe("CommandFormatError");
    expect((await run(device, "EnableLostMode", { PhoneNumber: "+1 555 0100" })).status).toBe("Acknowledged");
    const location = await run(device, "DeviceLocation");
    expect(location.status).toBe("Acknowledged");
    expect(location).toHaveProperty("response.Latitude");
    expect((await run(device, "PlayLostModeSound")).status).toBe("Acknowledged");
    expect((await run(device, "DisableLostMode")).status).toBe("Acknowledged");
    expect((await run(device, "PlayLostModeSound")).status).toBe("Error");
  });
});
