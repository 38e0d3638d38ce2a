// The generated TypeScript types are checked by `tsc` (npm run typecheck): the @ts-expect-error lines fail the
// typecheck if a type becomes looser than the schema. At run time, each typed value is also validated against
// the generated specs, so the types and the tables are shown to describe the same thing.
import { describe, expect, it } from "vitest";
import type { CheckinMessage } from "../generated/checkin-types.ts";
import type {
  CommandPayload,
  CommandRequestMap,
  DeviceLockCommand,
  EraseDeviceCommand,
  SettingsCommand,
} from "../generated/command-types.ts";
import type { ProfilePayloadMap } from "../generated/profile-types.ts";
import { commandRequestSpec, profilePayloadSchema } from "./spec-lookup.ts";
import { validateAgainstSpec } from "./validate.ts";
import { validateCommand } from "./validate-message.ts";

describe("generated TypeScript types", () => {
  it("type command parameters like the schema", () => {
    const lock: DeviceLockCommand = { Message: "Return to IT", PhoneNumber: "+1 555 0100", PIN: "123456" };
    // @ts-expect-error Message is a string in the schema
    const wrong: DeviceLockCommand = { Message: 5 };
    const erase: EraseDeviceCommand = {
      ObliterationBehavior: "DoNotObliterate",
      ReturnToService: { Enabled: true, WiFiProfileData: new Uint8Array([1, 2]) },
    };
    // @ts-expect-error not one of Apple's ObliterationBehavior values
    const badErase: EraseDeviceCommand = { ObliterationBehavior: "Sometimes" };
    const settings: SettingsCommand = {
      Settings: [
        { Item: "Bluetooth", Enabled: true },
        { Item: "Wallpaper", Image: new Uint8Array([0x89]), Where: 3 },
      ],
    };
    // @ts-expect-error Wallpaper's Where is 1, 2 or 3
    const badSettings: SettingsCommand = { Settings: [{ Item: "Wallpaper", Image: new Uint8Array(), Where: 4 }] };
    const byMap: CommandRequestMap["DeviceLock"] = lock;

    expect(validateAgainstSpec(lock, commandRequestSpec("DeviceLock")!)).toEqual([]);
    expect(validateAgainstSpec(byMap, commandRequestSpec("DeviceLock")!)).toEqual([]);
    expect(validateAgainstSpec(erase, commandRequestSpec("EraseDevice")!)).toEqual([]);
    expect(validateAgainstSpec(settings, commandRequestSpec("Settings")!)).toEqual([]);
    expect(validateAgainstSpec(wrong, commandRequestSpec("DeviceLock")!)).toHaveLength(1);
    expect(validateAgainstSpec(badErase, commandRequestSpec("EraseDevice")!)).toHaveLength(1);
    expect(validateAgainstSpec(badSettings, commandRequestSpec("Settings")!).length).toBeGreaterThan(0);
  });

  it("build a full Command dictionary with its RequestType", () => {
    const command: CommandPayload<"DeviceLock"> = { RequestType: "DeviceLock", Message: "hi" };
    // @ts-expect-error the RequestType must match the keys' command
    const mismatched: CommandPayload<"DeviceLock"> = { RequestType: "EraseDevice" };
    expect(validateCommand(command)).toEqual([]);
    expect(mismatched.RequestType).toBe("EraseDevice");
  });

  it("narrow check-in messages on MessageType", () => {
    const summarise = (message: CheckinMessage): string => {
      switch (message.MessageType) {
        case "TokenUpdate":
          return `token of ${message.Token.length} bytes`;
        case "Authenticate":
          return `device ${message.SerialNumber ?? "?"}`;
        default:
          return message.MessageType;
      }
    };
    const tokenUpdate: CheckinMessage = {
      MessageType: "TokenUpdate",
      Topic: "t",
      UDID: "u",
      EnrollmentID: "e",
      EnrollmentUserID: "eu",
      UserLongName: "n",
      NotOnConsole: false,
      Token: new Uint8Array(32),
      PushMagic: "m",
    };
    expect(summarise(tokenUpdate)).toBe("token of 32 bytes");
  });

  it("type recursive profile structures (home screen folders)", () => {
    const layout: ProfilePayloadMap["com.apple.homescreenlayout"] = {
      Pages: [[{ Type: "Folder", DisplayName: "Work", Pages: [[{ Type: "App", BundleID: "com.example.app" }]] }]],
    };
    // @ts-expect-error Type must be App, Folder or WebClip, at any depth
    const bad: ProfilePayloadMap["com.apple.homescreenlayout"] = { Pages: [[{ Type: "Folder", Pages: [[{ Type: "Widget" }]] }]] };
    expect(validateAgainstSpec(layout, profilePayloadSchema("com.apple.homescreenlayout")!.keys)).toEqual([]);
    expect(validateAgainstSpec(bad, profilePayloadSchema("com.apple.homescreenlayout")!.keys)).toHaveLength(1);
  });
});
