// ProfileList, InstallProfile and RemoveProfile against the device's real store; signed profiles made by
// openssl (an independent CMS implementation) and by Orchard's signer.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { createCa } from "../../src/pki/ca.ts";
import { signProfile } from "../../src/pki/cms-signed-data.ts";
import { issueProfileSigningCertificate, type SigningIdentity } from "../../src/pki/issue.ts";
import { derToPem } from "../../src/pki/pem.ts";
import { exportPrivateKeyPem } from "../../src/pki/keys.ts";
import { opensslOk } from "../../src/pki/test-support/openssl.ts";
import { buildPlist, type PlistDict } from "../../src/wire/plist.ts";
import { VirtualDevice } from "../device.ts";
import { RecordingMdmServer } from "../test-support/recording-mdm-server.ts";
import { responseOf, run, enrolledDevice, settingsFor, simFixtures, type SimFixtures } from "../test-support/fixtures.ts";

let fx: SimFixtures;
let other: SigningIdentity;
let signer: SigningIdentity;
beforeAll(async () => {
  fx = await simFixtures();
  other = await createCa({ subject: "CN=Another Root" });
  signer = await issueProfileSigningCertificate(fx.ca, { subject: "CN=Profile Signer" });
});

function profile(identifier: string, payloads: PlistDict[]): Uint8Array {
  return new Uint8Array(
    Buffer.from(
      buildPlist({ PayloadType: "Configuration", PayloadVersion: 1, PayloadIdentifier: identifier, PayloadUUID: randomUUID().toUpperCase(), PayloadDisplayName: identifier, PayloadContent: payloads }),
      "utf8",
    ),
  );
}

const rootPayload = (der: Uint8Array, id = "com.example.root"): PlistDict => ({ PayloadType: "com.apple.security.root", PayloadVersion: 1, PayloadIdentifier: id, PayloadUUID: randomUUID().toUpperCase(), PayloadContent: der });
const wifiPayload = (): PlistDict => ({ PayloadType: "com.apple.wifi.managed", PayloadVersion: 1, PayloadIdentifier: "com.example.wifi", PayloadUUID: randomUUID().toUpperCase(), SSID_STR: "Orchard", EncryptionType: "WPA2", Password: "secret" });

const list = async (device: Awaited<ReturnType<typeof enrolledDevice>>) => (responseOf(await run(device, "ProfileList")).ProfileList as PlistDict[]);
const certs = async (device: Awaited<ReturnType<typeof enrolledDevice>>) => (responseOf(await run(device, "CertificateList")).CertificateList as PlistDict[]);

describe("profiles", () => {
  it("lists the enrollment profile with its payloads", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "p1" });
    const [enrollment] = await list(device);
    expect(enrollment).toMatchObject({ IsManaged: true, PayloadRemovalDisallowed: false });
    const types = (enrollment!.PayloadContent as PlistDict[]).map((p) => p.PayloadType);
    expect(types).toEqual(["com.apple.security.root", "com.apple.security.pkcs12", "com.apple.mdm"]);
  });

  it("installs an unsigned profile, trusts its root, lists it, and removes it with its certificate", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "p2" });
    const before = (await certs(device)).length;
    const result = await run(device, "InstallProfile", { Payload: profile("com.example.wifi-and-root", [rootPayload(other.certDer), wifiPayload()]) });
    expect(result.status).toBe("Acknowledged");
    const installed = (await list(device)).find((p) => p.PayloadIdentifier === "com.example.wifi-and-root");
    expect(installed).toMatchObject({ IsManaged: true });
    expect(installed).not.toHaveProperty("SignerCertificates");
    expect((await certs(device)).map((c) => c.CommonName)).toContain("Another Root");
    expect(device.keychain.anchorsDer().some((d) => Buffer.from(d).equals(Buffer.from(other.certDer)))).toBe(true);

    expect((await run(device, "RemoveProfile", { Identifier: "com.example.wifi-and-root" })).status).toBe("Acknowledged");
    expect((await list(device)).map((p) => p.PayloadIdentifier)).not.toContain("com.example.wifi-and-root");
    expect((await certs(device)).length).toBe(before);
  });

  it("installs a profile signed by openssl and reports its signer", async () => {
    const device = await enrolledDevice(fx, { platform: "macOS", seed: "p3" });
    const content = profile("com.example.signed", [wifiPayload()]);
    const signed = opensslOk(["smime", "-sign", "-binary", "-nodetach", "-outform", "DER", "-signer", "s.pem", "-inkey", "k.pem", "-in", "p.plist", "-out", "out.der"], {
      files: { "s.pem": derToPem(signer.certDer), "k.pem": exportPrivateKeyPem(signer.key), "p.plist": content },
      outputs: ["out.der"],
    }).outputs["out.der"]!;
    expect((await run(device, "InstallProfile", { Payload: new Uint8Array(signed) })).status).toBe("Acknowledged");
    const entry = (await list(device)).find((p) => p.PayloadIdentifier === "com.example.signed");
    expect(Buffer.from((entry!.SignerCertificates as Uint8Array[])[0]!).equals(Buffer.from(signer.certDer))).toBe(true);
  });

  it("refuses a signed profile whose content was altered", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "p4" });
    const signed = Buffer.from(signProfile(profile("com.example.tampered", [wifiPayload()]), signer));
    const at = signed.indexOf(Buffer.from("Orchard"));
    signed[at] = "X".charCodeAt(0);
    const result = await run(device, "InstallProfile", { Payload: new Uint8Array(signed) });
    expect(result.status).toBe("Error");
    expect(JSON.stringify(result)).toMatch(/signature/i);
    expect((await list(device)).map((p) => p.PayloadIdentifier)).not.toContain("com.example.tampered");
  });

  it("refuses unknown payload types, MDM payloads and malformed profiles, installing nothing", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "p5" });
    const unknown = profile("com.example.unknown", [{ PayloadType: "com.example.nonsense", PayloadVersion: 1, PayloadIdentifier: "x", PayloadUUID: randomUUID() }]);
    const mdm = profile("com.example.mdm", [{ PayloadType: "com.apple.mdm", PayloadVersion: 1, PayloadIdentifier: "m", PayloadUUID: randomUUID(), ServerURL: "https://evil.example/mdm", Topic: "com.apple.mgmt.x", IdentityCertificateUUID: "y", AccessRights: 8191 }]);
    for (const payload of [unknown, mdm, new Uint8Array(Buffer.from("not a plist"))]) {
      const result = await run(device, "InstallProfile", { Payload: payload });
      expect(result.status).toBe("Error");
    }
    expect((await list(device)).length).toBe(1);
  });

  it("refuses to remove a profile the user installed or one that is not there", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "p6" });
    const enrollment = device.profiles.enrollmentProfile()!;
    device.profiles.put({ ...enrollment, identifier: "com.user.installed", isEnrollment: false, managed: false, payloads: [] });
    for (const identifier of ["com.user.installed", "com.not.there"]) {
      const result = await run(device, "RemoveProfile", { Identifier: identifier });
      expect(result.status).toBe("Error");
    }
    expect(device.enrolled).toBe(true);
    expect(device.profiles.find("com.user.installed")).toBeDefined();
  });

  // Apple's MDM protocol reference, "Terminating a Management Relationship": a server ends management by removing
  // the profile that carries the MDM payload, and "can always remove this profile, even if it does not have the
  // access rights to add or remove configuration profiles". Apple's deployment guide: the configuration profiles
  // and managed apps based on the enrollment profile go with it.
  it("removing the enrollment profile unenrolls the device, even without the right to remove profiles", async () => {
    const device = await enrolledDevice(fx, { platform: "iOS", seed: "p7" }, { AccessRights: 1, CheckOutWhenRemoved: false });
    const enrollment = device.profiles.enrollmentProfile()!;
    device.profiles.put({ ...enrollment, identifier: "com.mdm.installed", isEnrollment: false, managed: true, payloads: [] });
    device.profiles.put({ ...enrollment, identifier: "com.user.installed", isEnrollment: false, managed: false, payloads: [] });
    device.state.apps.push({ identifier: "com.example.managed", name: "Managed", shortVersion: "1.0", version: "1", bundleSize: 1, dynamicSize: 1, managed: true });
    const userApps = device.state.apps.filter((a) => !a.managed).length;

    // Without AllowInstallationRemoval an ordinary managed profile stays.
    expect((await run(device, "RemoveProfile", { Identifier: "com.mdm.installed" })).status).toBe("Error");

    const result = await run(device, "RemoveProfile", { Identifier: enrollment.identifier });
    expect(result).toEqual({ status: "Unenrolled", checkedOut: false });
    expect(device.enrolled).toBe(false);
    expect(device.profiles.find(enrollment.identifier)).toBeUndefined();
    expect(device.profiles.find("com.mdm.installed")).toBeUndefined();
    expect(device.profiles.find("com.user.installed")).toBeDefined();
    expect(device.state.apps.some((a) => a.managed)).toBe(false);
    expect(device.state.apps.length).toBe(userApps);
  });

  it("over HTTP: sends CheckOut, no result for the RemoveProfile, and ends the session", async () => {
    const server = await new RecordingMdmServer().start();
    try {
      const device = VirtualDevice.create({ platform: "macOS", seed: "p8" });
      await device.enroll(settingsFor(fx, device, {}, server.base));
      const enrollment = device.profiles.enrollmentProfile()!;
      const install = server.enqueue("InstallProfile", { Payload: profile("com.example.wifi", [wifiPayload()]) });
      const remove = server.enqueue("RemoveProfile", { Identifier: enrollment.identifier });
      server.enqueue("DeviceInformation", { Queries: ["UDID"] });
      const before = server.requests.length;

      const summary = await device.mdm.connect();
      expect(summary.endedBy).toBe("unenrolled");
      expect(summary.commands.map((c) => [c.requestType, c.status])).toEqual([
        ["InstallProfile", "Acknowledged"],
        ["RemoveProfile", "Unenrolled"],
      ]);
      const sent = server.requests.slice(before).map((r) => r.message);
      // Idle, the InstallProfile result (which fetched the RemoveProfile), then CheckOut and nothing more.
      expect(sent.map((m) => m.MessageType ?? m.Status)).toEqual(["Idle", "Acknowledged", "CheckOut"]);
      expect(sent[1]!.CommandUUID).toBe(install);
      expect(sent.some((m) => m.CommandUUID === remove)).toBe(false);
      expect(sent[2]).toMatchObject({ MessageType: "CheckOut", UDID: device.udid });
      expect(device.enrolled).toBe(false);
      expect(device.profiles.find("com.example.wifi")).toBeUndefined();
    } finally {
      await server.stop();
    }
  });
});
