import { editDistance, nearestName } from "./did-you-mean.ts";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parsePlistXml } from "plist";
import { afterAll, describe, expect, it } from "vitest";
import { PlistReal } from "../plist-value.ts";
import {
  checkinSpec,
  commandRequestSpec,
  commandResponseSpec,
  commandSchema,
  profilePayloadSpec,
  resolveSubkeys,
} from "./spec-lookup.ts";
import type { KeySpec } from "./spec-types.ts";
import { formatProblems, validateAgainstSpec, validateValueAgainstKey } from "./validate.ts";
import {
  validateCheckinMessage,
  validateCommand,
  validateCommandParams,
  validateProfile,
  validateProfilePayload,
} from "./validate-message.ts";

const tmp = mkdtempSync(join(tmpdir(), "orchard-schema-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A plist written by Python's plistlib (an independent encoder), read back with the plist package. */
function plistFromPython(pythonLiteral: string): unknown {
  const out = join(tmp, `p${Math.random().toString(36).slice(2)}.plist`);
  const script = `import plistlib, datetime, sys\nwith open(sys.argv[1], "wb") as f:\n    plistlib.dump(${pythonLiteral}, f)\n`;
  execFileSync("python3", ["-c", script, out]);
  return parsePlistXml(readFileSync(out, "utf8"));
}

const messages = (problems: { message: string }[]) => problems.map((p) => p.message);

describe("validateAgainstSpec on Apple's specs", () => {
  const scep = profilePayloadSpec("com.apple.security.scep")!;
  const content = scep.find((k) => k.key === "PayloadContent")!;
  const contentKeys = resolveSubkeys(content)!;

  it("reports a wrong scalar type with its path", () => {
    const problems = validateAgainstSpec({ URL: "https://ca.example/scep", Keysize: "2048" }, contentKeys, "Payload");
    expect(messages(problems)).toEqual(["Payload.Keysize: expected integer, got string"]);
  });

  it("reports a missing required key, and nothing for missing optional keys", () => {
    const problems = validateAgainstSpec({ Name: "ca" }, contentKeys, "Payload");
    expect(problems).toEqual([{ path: "Payload.URL", kind: "missing", message: "Payload.URL: required key is missing" }]);
  });

  it("checks rangelists of integers", () => {
    expect(messages(validateAgainstSpec({ URL: "u", Keysize: 3000 }, contentKeys, "Payload"))).toEqual([
      "Payload.Keysize: 3000 is not one of 1024, 2048, 4096",
    ]);
    expect(validateAgainstSpec({ URL: "u", Keysize: 2048 }, contentKeys, "Payload")).toEqual([]);
  });

  it("distinguishes integer from real, and accepts bigint and PlistReal where they belong", () => {
    expect(messages(validateAgainstSpec({ URL: "u", Retries: 2.5 }, contentKeys))).toEqual([
      "Retries: expected integer, got real",
    ]);
    expect(validateAgainstSpec({ URL: "u", Retries: 3n }, contentKeys)).toEqual([]);
    const real: KeySpec = { key: "Level", type: "<real>", presence: "required", range: { min: 0, max: 1 } };
    expect(validateAgainstSpec({ Level: new PlistReal(0.5) }, [real])).toEqual([]);
    expect(validateAgainstSpec({ Level: 1 }, [real])).toEqual([]);
    expect(messages(validateAgainstSpec({ Level: new PlistReal(1.5) }, [real]))).toEqual([
      "Level: 1.5 is above the maximum 1",
    ]);
    expect(messages(validateAgainstSpec({ Level: "high" }, [real]))).toEqual(["Level: expected real, got string"]);
  });

  it("checks nested arrays of arrays with their repetition (SCEP Subject pairs)", () => {
    const ok = { URL: "u", Subject: [[["CN", "device"]], [["O", "Orchard"]]] };
    expect(validateAgainstSpec(ok, contentKeys, "Payload")).toEqual([]);
    const bad = { URL: "u", Subject: [[["CN", "device", "extra"]], [["O", 7]]] };
    expect(messages(validateAgainstSpec(bad, contentKeys, "Payload"))).toEqual([
      "Payload.Subject[0][0]: expected 2 elements, got 3",
      "Payload.Subject[1][0][1]: expected string, got integer",
    ]);
  });

  it("checks rangelists inside dictionaries inside arrays", () => {
    // Home screen layout: Pages is an array of arrays of icon dictionaries whose Type has a rangelist.
    const spec = profilePayloadSpec("com.apple.homescreenlayout")!;
    const payload = {
      PayloadType: "com.apple.homescreenlayout",
      PayloadVersion: 1,
      PayloadIdentifier: "com.example.layout",
      PayloadUUID: "1B2C8A8E-6A47-4F8B-9F52-5C1E7E2F0C11",
      Pages: [[{ Type: "App", BundleID: "com.apple.mobilesafari" }, { Type: "Widget" }]],
    };
    expect(messages(validateAgainstSpec(payload, spec, "Payload"))).toEqual([
      'Payload.Pages[0][1].Type: "Widget" is not one of "App", "Folder", "WebClip"',
    ]);
  });

  it("follows recursive definitions (folders inside folders) by reference", () => {
    const spec = profilePayloadSpec("com.apple.homescreenlayout")!;
    const folder = (pages: unknown[][]): unknown => ({ Type: "Folder", DisplayName: "f", Pages: pages });
    const deep = folder([[folder([[folder([[{ Type: "App", BundleID: 42 }]])]])]]);
    const problems = validateAgainstSpec({ Pages: [[deep]] }, spec, "", { lenient: true });
    expect(messages(problems)).toEqual(["Pages[0][0].Pages[0][0].Pages[0][0].Pages[0][0].BundleID: expected string, got integer"]);
  });

  it("matches each Settings element against the setting it names", () => {
    const settings = commandRequestSpec("Settings")!;
    const good = { Settings: [{ Item: "DeviceName", DeviceName: "Lab iPad" }, { Item: "Bluetooth", Enabled: true }] };
    expect(validateAgainstSpec(good, settings, "Command")).toEqual([]);
    const bad = { Settings: [{ Item: "Wallpaper", Image: new Uint8Array([1]), Where: 4 }] };
    const problems = validateAgainstSpec(bad, settings, "Command");
    expect(problems[0]?.message).toMatch(/^Command\.Settings\[0\]: matches none of the \d+ kinds of element; closest is Wallpaper/);
    expect(messages(problems).slice(1)).toEqual(["Command.Settings[0].Where: 4 is not one of 1, 2, 3"]);
  });

  it("validates wildcard (ANY) keys against their spec", () => {
    // com.apple.ManagedClient.preferences: PayloadContent maps any domain to a dictionary with Forced/Set-Once.
    const spec = profilePayloadSpec("com.apple.ManagedClient.preferences")!;
    const content = resolveSubkeys(spec.find((k) => k.key === "PayloadContent")!)!;
    const ok = { "com.example.app": { Forced: [{ mcx_preference_settings: { anything: [1, "two"] } }] } };
    expect(validateAgainstSpec(ok, content, "PayloadContent")).toEqual([]);
    const bad = { "com.example.app": "not a dictionary" };
    expect(messages(validateAgainstSpec(bad, content, "PayloadContent"))).toEqual([
      "PayloadContent.com.example.app: expected dictionary, got string",
    ]);
  });

  it("reports unknown keys only when asked", () => {
    const spec = commandRequestSpec("DeviceLock")!;
    expect(validateAgainstSpec({ Message: "hi", Mesage: "typo" }, spec, "Command")).toEqual([]);
    expect(messages(validateAgainstSpec({ Message: "hi", Mesage: "typo" }, spec, "Command", { reportUnknownKeys: true }))).toEqual([
      'Command.Mesage: key is not in the schema (did you mean "Message"?)',
    ]);
    // Far from every known key: no guess.
    expect(messages(validateAgainstSpec({ Zebra: 1 }, spec, "Command", { reportUnknownKeys: true }))).toEqual(["Command.Zebra: key is not in the schema"]);
  });

  it("with a context, reports keys that exist in the schema but not for that platform or channel", () => {
    const spec = commandRequestSpec("DeviceLock")!;
    const value = { PIN: "123456", Message: "hi" };
    const strict = { reportUnknownKeys: true, reportInapplicableKeys: true };
    expect(validateAgainstSpec(value, spec, "Command", { ...strict, context: { platform: "macOS", channel: "device" } })).toEqual([]);
    expect(messages(validateAgainstSpec(value, spec, "Command", { ...strict, context: { platform: "iOS", channel: "device" } }))).toEqual([
      "Command.PIN: key does not apply to iOS",
    ]);
    // Otherwise a context only decides which keys are required.
    expect(validateAgainstSpec(value, spec, "Command", { reportUnknownKeys: true, context: { platform: "iOS", channel: "device" } })).toEqual([]);
    // A key's supportedOS names only what differs from what it inherits (Model: "visionOS n/a"): iOS inherits the command's.
    const answers = resolveSubkeys(commandResponseSpec("DeviceInformation")!.find((k) => k.key === "QueryResponses")!)!;
    const supportedOS = commandSchema("DeviceInformation")!.supportedOS;
    expect(validateAgainstSpec({ Model: "iPhone15,2" }, answers, "QueryResponses", { ...strict, context: { platform: "iOS", channel: "device", supportedOS } })).toEqual([]);
    expect(messages(validateAgainstSpec({ Model: "x" }, answers, "QueryResponses", { ...strict, context: { platform: "visionOS", channel: "device", supportedOS } }))).toEqual([
      "QueryResponses.Model: key does not apply to visionOS",
    ]);
  });

  it("suggests the nearest name within a typo's distance", () => {
    expect(nearestName("OSVresion", ["OSVersion", "BuildVersion"])).toBe("OSVersion");
    expect(nearestName("message", ["Message"])).toBe("Message");
    expect(nearestName("Colour", ["Message"])).toBeUndefined();
    expect(editDistance("ab", "ba")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });

  it("checks data, date and format rules", () => {
    const spec: KeySpec[] = [
      { key: "Blob", type: "<data>", presence: "required" },
      { key: "When", type: "<date>", presence: "required" },
      { key: "Id", type: "<string>", presence: "required", format: "^[0-9]{6}$" },
    ];
    expect(validateAgainstSpec({ Blob: Buffer.from("x"), When: new Date(0), Id: "123456" }, spec)).toEqual([]);
    expect(messages(validateAgainstSpec({ Blob: "eA==", When: "2024-01-01", Id: "12345" }, spec))).toEqual([
      "Blob: expected data, got string",
      "When: expected date, got string",
      'Id: "12345" does not match the format ^[0-9]{6}$',
    ]);
  });

  it("lenient mode checks only the types of present keys", () => {
    const spec = commandRequestSpec("EraseDevice")!;
    const value = { ObliterationBehavior: "Sometimes", ReturnToService: { WiFiProfileData: "nope" } };
    expect(messages(validateAgainstSpec(value, spec, "Command"))).toEqual([
      'Command.ObliterationBehavior: "Sometimes" is not one of "Default", "DoNotObliterate", "ObliterateWithWarning", "Always"',
      "Command.ReturnToService.Enabled: required key is missing",
      "Command.ReturnToService.WiFiProfileData: expected data, got string",
    ]);
    expect(messages(validateAgainstSpec(value, spec, "Command", { lenient: true }))).toEqual([
      "Command.ReturnToService.WiFiProfileData: expected data, got string",
    ]);
  });

  it("rejects non-dictionaries and stops at maxProblems", () => {
    expect(messages(validateAgainstSpec("x", commandRequestSpec("DeviceLock")!, "Command"))).toEqual([
      "Command: expected dictionary, got string",
    ]);
    expect(messages(validateAgainstSpec(new Date(), commandRequestSpec("DeviceLock")!))).toEqual([
      "value: expected dictionary, got date",
    ]);
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
    const spec: KeySpec[] = [{ key: "ANY", type: "<string>", presence: "optional", anyKey: true }];
    expect(validateAgainstSpec(many, spec, "", { maxProblems: 10 })).toHaveLength(10);
  });

  it("validates a single value against a key", () => {
    const spec: KeySpec = { key: "Where", type: "<integer>", presence: "required", rangelist: [1, 2, 3] };
    expect(messages(validateValueAgainstKey(9, spec, "Where"))).toEqual(["Where: 9 is not one of 1, 2, 3"]);
    expect(formatProblems(validateValueAgainstKey("a", spec, "Where"))).toBe("Where: expected integer, got string");
  });
});

describe("check-in messages from real plist bytes (written by Python's plistlib)", () => {
  it("accepts a complete Authenticate message", () => {
    const message = plistFromPython(`{
      "MessageType": "Authenticate", "Topic": "com.apple.mgmt.External.1234", "UDID": "0000-1111",
      "DeviceName": "Lab Mac", "Model": "Mac14,2", "ModelName": "MacBook Air", "OSVersion": "14.4",
      "BuildVersion": "23E214", "ProductName": "Mac14,2", "SerialNumber": "C02XYZ"}`);
    expect(validateAgainstSpec(message, checkinSpec("Authenticate")!)).toEqual([]);
    expect(validateCheckinMessage(message)).toEqual([]);
  });

  it("is strict about the schema's required keys, and lenient on request", () => {
    // Real iPhones send no DeviceName/Model/ModelName in Authenticate; the schema marks them required.
    const message = plistFromPython(`{"MessageType": "Authenticate", "Topic": "com.apple.mgmt.X", "UDID": "abc"}`);
    expect(messages(validateCheckinMessage(message))).toEqual([
      "DeviceName: required key is missing",
      "ModelName: required key is missing",
      "Model: required key is missing",
    ]);
    expect(validateCheckinMessage(message, { lenient: true })).toEqual([]);
    // With a context, keys Apple marks "n/a" on iOS (DeviceName/Model/ModelName) are not required there.
    expect(validateCheckinMessage(message, { context: { platform: "iOS", channel: "device" } })).toEqual([]);
  });

  it("uses per-key supportedOS to decide which 'required' TokenUpdate keys apply", () => {
    const message = plistFromPython(`{
      "MessageType": "TokenUpdate", "Topic": "com.apple.mgmt.X", "UDID": "abc",
      "Token": b"\\x01\\x02", "PushMagic": "magic", "AwaitingConfiguration": False}`);
    // Strictly, the schema requires UDID, EnrollmentID, EnrollmentUserID, NotOnConsole and UserLongName at once.
    expect(messages(validateCheckinMessage(message))).toEqual([
      "NotOnConsole: required key is missing",
      "EnrollmentID: required key is missing",
      "EnrollmentUserID: required key is missing",
      "UserLongName: required key is missing",
    ]);
    const iosDevice = { platform: "iOS", channel: "device", userEnrollment: false } as const;
    expect(validateCheckinMessage(message, { context: iosDevice })).toEqual([]);
    // A User Enrollment must send EnrollmentID instead of UDID.
    expect(messages(validateCheckinMessage(message, { context: { ...iosDevice, userEnrollment: true } }))).toEqual([
      "EnrollmentID: required key is missing",
    ]);
    // The macOS user channel needs the user's keys.
    const macUser = { platform: "macOS", channel: "user", userEnrollment: false } as const;
    expect(messages(validateCheckinMessage(message, { context: macUser }))).toEqual([
      "NotOnConsole: required key is missing",
      "UserLongName: required key is missing",
    ]);
  });

  it("catches wrong types in a device message even in lenient mode", () => {
    const message = plistFromPython(`{"MessageType": "TokenUpdate", "Topic": "t", "UDID": "u", "Token": "not-data", "PushMagic": 5}`);
    expect(messages(validateCheckinMessage(message, { lenient: true }))).toEqual([
      "Token: expected data, got string",
      "PushMagic: expected string, got integer",
    ]);
  });

  it("reports unknown message types and missing MessageType", () => {
    expect(messages(validateCheckinMessage({ MessageType: "Hello" }))).toEqual([
      'MessageType: "Hello" is not a check-in message type in Apple\'s schema',
    ]);
    expect(messages(validateCheckinMessage({ MessageType: "constructor" }))).toEqual([
      'MessageType: "constructor" is not a check-in message type in Apple\'s schema',
    ]);
    expect(validateCheckinMessage({})[0]?.kind).toBe("missing");
    expect(validateCheckinMessage([])[0]?.message).toBe("value: expected dictionary, got array");
  });

  it("validates a DeviceInformation response from plist bytes", () => {
    const report = plistFromPython(`{"QueryResponses": {"DeviceName": "iPad", "BatteryLevel": 0.5,
      "IsSupervised": True, "DeviceCapacity": 64.0, "OSVersion": "17.4"}}`);
    expect(validateAgainstSpec(report, commandResponseSpec("DeviceInformation")!)).toEqual([]);
    const wrong = plistFromPython(`{"QueryResponses": {"IsSupervised": "yes"}}`);
    expect(messages(validateAgainstSpec(wrong, commandResponseSpec("DeviceInformation")!))).toEqual([
      "QueryResponses.IsSupervised: expected boolean, got string",
    ]);
  });
});

describe("commands and profiles", () => {
  it("validates admin-supplied command parameters", () => {
    expect(validateCommandParams("DeviceLock", { Message: "Lost", PIN: "123456" })).toEqual([]);
    expect(messages(validateCommandParams("DeviceLock", { Message: 12 }))).toEqual([
      "Command.Message: expected string, got integer",
    ]);
    expect(messages(validateCommandParams("NoSuchCommand", {}))).toEqual([
      'Command.RequestType: "NoSuchCommand" is not a command in Apple\'s schema',
    ]);
    expect(validateCommand({ RequestType: "DeviceLock", Message: "x" }, { reportUnknownKeys: true })).toEqual([]);
    expect(messages(validateCommand({ Message: "x" }))).toEqual(["Command.RequestType: a command needs a string RequestType"]);
  });

  it("validates a whole configuration profile, each payload by its type", () => {
    const profile = {
      PayloadType: "Configuration",
      PayloadVersion: 1,
      PayloadIdentifier: "com.example.profile",
      PayloadUUID: "0C7A1E0B-3D1B-4D4A-9C58-4C52E9C2E001",
      PayloadDisplayName: "Example",
      PayloadContent: [
        {
          PayloadType: "com.apple.security.scep",
          PayloadVersion: 1,
          PayloadIdentifier: "com.example.profile.scep",
          PayloadUUID: "0C7A1E0B-3D1B-4D4A-9C58-4C52E9C2E002",
          PayloadContent: { URL: "https://mdm.example/scep", Keysize: 2048, Subject: [[["CN", "device"]]] },
        },
        { PayloadType: "com.apple.security.scep", PayloadVersion: 2, PayloadUUID: "x", PayloadContent: { Keysize: "big" } },
      ],
    };
    expect(messages(validateProfile(profile))).toEqual([
      "PayloadContent[1].PayloadContent.URL: required key is missing",
      "PayloadContent[1].PayloadContent.Keysize: expected integer, got string",
      "PayloadContent[1].PayloadIdentifier: required key is missing",
      "PayloadContent[1].PayloadVersion: 2 is not one of 1",
    ]);
    expect(messages(validateProfilePayload({ PayloadType: "com.example.unknown" }))).toEqual([
      'PayloadType: "com.example.unknown" is not a payload type in Apple\'s schema',
    ]);
  });
});
