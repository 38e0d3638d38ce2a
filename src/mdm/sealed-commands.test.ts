import { describe, expect, it } from "vitest";
import { sealedRequestTypes, sealsBody } from "./sealed-commands.ts";

describe("which command bodies are sealed", () => {
  it("seals every command that can carry a secret, decided from Apple's schema", () => {
    // The secrets named in issue 16: the UnlockToken, profiles (SCEP challenges, passwords), PINs, passwords.
    for (const t of ["ClearPasscode", "InstallProfile", "DeviceLock", "EraseDevice", "SetRecoveryLock", "VerifyRecoveryLock", "SetFirmwarePassword", "VerifyFirmwarePassword", "SetAutoAdminPassword", "AccountConfiguration", "RotateFileVaultKey", "InstallApplication", "Settings"]) {
      expect(sealsBody(t), t).toBe(true);
    }
  });

  it("leaves commands without secrets plain, so their delivery costs nothing more", () => {
    for (const t of ["DeviceInformation", "SecurityInfo", "ProfileList", "CertificateList", "InstalledApplicationList", "RestartDevice", "RemoveProfile"]) {
      expect(sealsBody(t), t).toBe(false);
    }
    // Unknown request types are not in the set (they are refused before queueing anyway).
    expect(sealsBody("constructor")).toBe(false);
    expect(sealedRequestTypes().size).toBeLessThan(30);
  });
});
