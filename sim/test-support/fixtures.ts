// Shared fixtures for the sim's tests: one CA and one RSA key per test file (key generation is slow), and
// devices enrolled from EnrollmentSettings without contacting a server (checkIn: false), so command handlers
// can be driven directly.
import type { KeyObject } from "node:crypto";
import { createCa } from "../../src/pki/ca.ts";
import { issueDeviceCertificate, type SigningIdentity } from "../../src/pki/issue.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import type { PlistDict } from "../../src/wire/plist.ts";
import { VirtualDevice } from "../device.ts";
import type { CreateDeviceOptions } from "../device-state.ts";
import type { EnrollmentSettings } from "../enrollment-settings.ts";
import type { CommandChannel, CommandResult } from "../commands/command-types.ts";
import { executeCommand } from "../commands/dispatch.ts";

export interface SimFixtures {
  ca: SigningIdentity;
  key: KeyObject;
}

export async function simFixtures(): Promise<SimFixtures> {
  const [ca, key] = await Promise.all([createCa({ subject: "CN=Sim Test CA" }), generatePrivateKey({ type: "rsa", bits: 2048 })]);
  return { ca, key };
}

/** Settings for a server that is never contacted (checkIn: false) or for the given base URL. */
export function settingsFor(fx: SimFixtures, device: VirtualDevice, overrides: Partial<EnrollmentSettings> = {}, base = "https://mdm.invalid"): EnrollmentSettings {
  const certificate = issueDeviceCertificate(fx.ca, { subject: `CN=${device.udid}`, publicKey: fx.key });
  return {
    ServerURL: `${base}/mdm/connect`,
    CheckInURL: `${base}/mdm/checkin`,
    Topic: "com.apple.mgmt.External.sim-test",
    SignMessage: true,
    CheckOutWhenRemoved: true,
    trust: [fx.ca.certDer],
    identity: { certificate, key: fx.key },
    ...overrides,
  };
}

export async function enrolledDevice(fx: SimFixtures, create: CreateDeviceOptions, overrides: Partial<EnrollmentSettings> = {}): Promise<VirtualDevice> {
  const device = VirtualDevice.create(create);
  await device.enroll(settingsFor(fx, device, overrides), { checkIn: false });
  return device;
}

let counter = 0;

/** Runs one command through the device's dispatcher, as the connect loop would. */
export function run(device: VirtualDevice, requestType: string, params: PlistDict = {}, channel: CommandChannel = { kind: "device" }): Promise<CommandResult> {
  counter++;
  return executeCommand(device, channel, { commandUuid: `00000000-0000-4000-8000-${String(counter).padStart(12, "0")}`, requestType, command: { RequestType: requestType, ...params } });
}

/** The response of an acknowledged command (fails the test otherwise). */
export function responseOf(result: CommandResult): PlistDict {
  if (result.status !== "Acknowledged") throw new Error(`expected Acknowledged, got ${JSON.stringify(result)}`);
  return result.response ?? {};
}
