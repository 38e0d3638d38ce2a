// The virtual device fleet against a real Orchard over HTTPS, on SQLite and PostgreSQL: devices enroll from the
// signed .mobileconfig Orchard serves (root CA trust, SCEP, MDM payload), then answer commands queued through the
// admin API. What Orchard stores is compared with what the devices are.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { parseCertificate, subjectString } from "../../src/pki/certificate.ts";
import { certificateFingerprint } from "../../src/pki/pem.ts";
import { buildPlist, type PlistDict } from "../../src/wire/plist.ts";
import { VirtualDevice } from "../../sim/device.ts";
import { fromB64 } from "../../sim/keychain.ts";
import { Transport } from "../../sim/mdm-transport.ts";
import type { ConnectSummary, ProcessedCommand } from "../../sim/mdm-client.ts";
import { INVENTORY_UUID_PREFIX } from "../../src/manage/devices/inventory-collection.ts";
import { freePort } from "../../bench/lib/server-process.ts";
import { describeEachDatabase } from "../databases.ts";


/** A session's commands other than inventory collection's (an activation queues them, whenever its job runs). */
function adminOnly(summary: ConnectSummary): ProcessedCommand[] {
  return summary.commands.filter((c) => !c.commandUuid.startsWith(INVENTORY_UUID_PREFIX));
}
describeEachDatabase("virtual devices against Orchard", (database) => {
  let server: RunningServer;
  let dir: string;
  let cleanupDb: () => Promise<void>;
  let token: string;
  let profileId: string;
  let mobileconfig: Uint8Array;
  const transport = new Transport();
  const devices: Record<string, VirtualDevice> = {};

  const api = async (method: string, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    server.app.inject({ method: method as "GET", url, headers: { authorization: `Bearer ${token}`, ...headers }, ...(payload !== undefined ? { payload: payload as string } : {}) });
  const queue = async (targets: string[], requestType: string, params: Record<string, unknown> = {}) => {
    const r = await api("POST", "/api/v1/commands", { targets, requestType, params });
    expect(r.statusCode, r.body).toBe(201);
    return r.json().commandUuid as string;
  };
  const resultOf = async (uuid: string, target: string) => {
    const body = (await api("GET", `/api/v1/commands/${uuid}`)).json() as { targets: Array<{ enrollmentId: string; status: string; result?: PlistDict }> };
    return body.targets.find((t) => t.enrollmentId === target);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orchard-sim-e2e-"));
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    const port = await freePort();
    const config = { ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_PUBLIC_URL: `https://127.0.0.1:${port}` }), databaseUrl: fresh.url, httpsPort: port, host: "127.0.0.1" };
    server = await startServer(config, { logger: createLogger("silent") });
    token = (await server.ctx.tokens.create("sim-e2e", "admin", "system:test")).token;
    const created = await api("POST", "/api/v1/enrollment-profiles", { name: "sim e2e" });
    expect(created.statusCode, created.body).toBe(201);
    profileId = created.json().id;
    const download = await api("GET", `/api/v1/enrollment-profiles/${profileId}/mobileconfig`);
    expect(download.headers["content-type"]).toContain("application/x-apple-aspen-config");
    mobileconfig = new Uint8Array(download.rawPayload);

    devices.phone = VirtualDevice.create({ platform: "iOS", supervised: true, seed: "e2e-phone" }, { transport });
    devices.pad = VirtualDevice.create({ platform: "iPadOS", seed: "e2e-pad" }, { transport });
    devices.mac = VirtualDevice.create({ platform: "macOS", seed: "e2e-mac" }, { transport });
    devices.tv = VirtualDevice.create({ platform: "tvOS", seed: "e2e-tv" }, { transport });
    await Promise.all(Object.values(devices).map((d) => d.enroll(mobileconfig)));
  });
  afterAll(async () => {
    transport.close();
    await server?.stop();
    await cleanupDb?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it("enrolls through the signed .mobileconfig (SCEP identity from Orchard's CA) and is active with its facts", async () => {
    for (const d of Object.values(devices)) {
      const identity = d.keychain.identity(d.state.mdm!.settings.identityUuid)!;
      const issued = await server.ctx.store.db.selectFrom("issued_certificates").select(["kind", "enrollment_profile_id"]).where("fingerprint", "=", certificateFingerprint(fromB64(identity.certificate))).executeTakeFirst();
      expect(issued).toMatchObject({ kind: "identity", enrollment_profile_id: profileId });
      // A generic download cannot know the device: no made-up "pending-…" CN (issue 16 item 15).
      expect(subjectString(parseCertificate(fromB64(identity.certificate)))).toBe("CN=Orchard MDM identity, O=sim e2e");
      const e = (await api("GET", `/api/v1/enrollments/${d.udid}`)).json();
      expect(e).toMatchObject({ id: d.udid, status: "active", serialNumber: d.state.serialNumber, osVersion: d.state.osVersion });
      expect(d.state.profiles[0]!.signerCertificates.length).toBeGreaterThan(0);
    }
    const listed = (await api("GET", `/api/v1/enrollment-profiles/${profileId}/devices`)).body;
    for (const d of Object.values(devices)) expect(listed).toContain(d.udid);
  });

  it("answers a command round and Orchard stores what each device reported", async () => {
    const targets = Object.values(devices).map((d) => d.udid);
    const info = await queue(targets, "DeviceInformation", { Queries: ["SerialNumber", "ProductName", "OSVersion", "IMEI"] });
    const profiles = await queue(targets, "ProfileList");
    const security = await queue(targets, "SecurityInfo");
    for (const d of Object.values(devices)) {
      const summary = await d.mdm.connect();
      expect(summary.endedBy).toBe("empty");
      expect(adminOnly(summary).map((c) => c.requestType)).toEqual(["DeviceInformation", "ProfileList", "SecurityInfo"]);
      const stored = await resultOf(info, d.udid);
      expect(stored).toMatchObject({ status: "acknowledged", result: { QueryResponses: { SerialNumber: d.state.serialNumber, ProductName: d.state.productName } } });
      expect(((stored!.result!.QueryResponses as PlistDict).IMEI !== undefined)).toBe(d.state.imei !== undefined);
      const list = (await resultOf(profiles, d.udid))!.result!.ProfileList as PlistDict[];
      expect(list.map((p) => p.PayloadIdentifier)).toEqual([d.state.profiles[0]!.identifier]);
      expect((await resultOf(security, d.udid))!.status).toBe("acknowledged");
    }
  });

  it("answers NotNow while locked and takes the command after it is unlocked", async () => {
    const d = devices.pad!;
    d.lock();
    const uuid = await queue([d.udid], "InstallApplication", { iTunesStoreID: 361309726, Identifier: "com.apple.Pages.e2e" });
    const first = await d.mdm.connect();
    expect(adminOnly(first).map((c) => c.status)).toEqual(["NotNow"]);
    expect((await resultOf(uuid, d.udid))!.status).toBe("notnow");
    d.unlock();
    const second = await d.mdm.connect();
    expect(adminOnly(second).map((c) => `${c.requestType}:${c.status}`)).toEqual(["InstallApplication:Acknowledged"]);
    expect(await resultOf(uuid, d.udid)).toMatchObject({ status: "acknowledged", result: { Identifier: "com.apple.Pages.e2e" } });
  });

  it("installs and removes a profile queued as a raw command plist", async () => {
    const d = devices.phone!;
    const profile = buildPlist({ PayloadType: "Configuration", PayloadVersion: 1, PayloadIdentifier: "com.example.e2e", PayloadUUID: "6C0F3A48-7E0B-4C57-9E5B-1D2A3B4C5D6E", PayloadContent: [{ PayloadType: "com.apple.wifi.managed", PayloadVersion: 1, PayloadIdentifier: "com.example.e2e.wifi", PayloadUUID: "0B3F1D3E-2A1B-4C8D-9E7F-6A5B4C3D2E1F", SSID_STR: "Orchard", EncryptionType: "None" }] });
    const raw = await api("POST", `/api/v1/commands?target=${d.udid}`, buildPlist({ CommandUUID: "e2e-install-profile", Command: { RequestType: "InstallProfile", Payload: Buffer.from(profile) } }), { "content-type": "application/x-apple-plist" });
    expect(raw.statusCode, raw.body).toBe(201);
    const first = await d.mdm.connect();
    expect(adminOnly(first).map((c) => `${c.requestType}:${c.status}`)).toEqual(["InstallProfile:Acknowledged"]);
    expect(d.profiles.find("com.example.e2e")).toBeDefined();
    const remove = await queue([d.udid], "RemoveProfile", { Identifier: "com.example.e2e" });
    const second = await d.mdm.connect();
    expect(adminOnly(second).map((c) => `${c.requestType}:${c.status}`)).toEqual(["RemoveProfile:Acknowledged"]);
    expect(d.profiles.find("com.example.e2e")).toBeUndefined();
    expect((await resultOf(remove, d.udid))!.status).toBe("acknowledged");
    expect(d.enrolled).toBe(true);
  });

  // Issue 4 item 5: the enrollment profile goes out again with a one-time SCEP challenge bound to this device
  // (a certificate obtained with the profile's shared challenge could not take over an existing enrollment).
  it("renews its identity in place when Orchard re-sends the enrollment profile with InstallProfile", async () => {
    const d = devices.phone!;
    const before = d.state.mdm!.settings.identityUuid;
    const oldCert = d.keychain.identity(before)!.certificate;
    const renew = await api("POST", `/api/v1/enrollments/${d.udid}/renew-identity`);
    expect(renew.statusCode, renew.body).toBe(201);
    const pending = await queue([d.udid], "ProfileList");
    const summary = await d.mdm.connect();
    expect(adminOnly(summary).map((c) => `${c.requestType}:${c.status}`)).toEqual(["InstallProfile:Acknowledged", "ProfileList:Acknowledged"]);
    const newCert = d.keychain.identity(d.state.mdm!.settings.identityUuid)!.certificate;
    expect(newCert).not.toBe(oldCert);
    // The re-sent profile knows the device, so the renewed identity carries its serial number.
    expect(subjectString(parseCertificate(fromB64(newCert)))).toBe(`CN=${d.state.serialNumber}, O=sim e2e`);
    expect(d.state.keychain.identities).toHaveLength(1);
    expect((await resultOf(pending, d.udid))!.status).toBe("acknowledged");
  });

  it("opens the macOS user channel with its own queue, and escrows the bootstrap token", async () => {
    const d = devices.mac!;
    const user = d.state.users[0]!;
    const userEnrollment = `${d.udid}:${user.guid}`;
    expect((await api("GET", `/api/v1/enrollments/${encodeURIComponent(userEnrollment)}`)).json()).toMatchObject({ channel: "user", status: "active" });
    const uuid = await queue([userEnrollment], "ProfileList");
    expect(adminOnly(await d.mdm.connect())).toEqual([]);
    const onUser = await d.mdm.connect({ user: user.shortName });
    expect(adminOnly(onUser).map((c) => `${c.channel}:${c.requestType}:${c.status}`)).toEqual(["user:ProfileList:Acknowledged"]);
    expect((await resultOf(uuid, userEnrollment))!.status).toBe("acknowledged");

    const escrowed = await d.mdm.setBootstrapToken();
    expect(Buffer.from((await d.mdm.getBootstrapToken())!).equals(Buffer.from(escrowed))).toBe(true);
  });

  it("wipes itself on EraseDevice after acknowledging it", async () => {
    const d = devices.tv!;
    const uuid = await queue([d.udid], "EraseDevice");
    const summary = await d.mdm.connect();
    expect(summary.endedBy).toBe("erase");
    expect(d.enrolled).toBe(false);
    expect((await resultOf(uuid, d.udid))!.status).toBe("acknowledged");
  });

  it("sends CheckOut when its enrollment profile is removed, and Orchard stops treating it as active", async () => {
    const d = devices.pad!;
    const result = await d.unenroll();
    expect(result).toEqual({ checkedOut: true });
    expect((await api("GET", `/api/v1/enrollments/${d.udid}`)).json()).toMatchObject({ status: "checked_out" });
    expect(d.state.apps.some((a) => a.identifier === "com.apple.Pages.e2e")).toBe(false);
    // And it can enroll again from the same profile.
    await d.enroll(mobileconfig);
    expect((await api("GET", `/api/v1/enrollments/${d.udid}`)).json()).toMatchObject({ status: "active" });
  });

  // Apple's MDM protocol reference, "Terminating a Management Relationship": the server removes the profile that
  // carries the MDM payload. The device sends CheckOut (CheckOutWhenRemoved) and no result for the command.
  it("unenrolls when Orchard removes its enrollment profile with RemoveProfile", async () => {
    const d = devices.pad!;
    const uuid = await queue([d.udid], "RemoveProfile", { Identifier: d.state.profiles[0]!.identifier });
    const summary = await d.mdm.connect();
    expect(summary.endedBy).toBe("unenrolled");
    expect(adminOnly(summary).map((c) => `${c.requestType}:${c.status}`)).toEqual(["RemoveProfile:Unenrolled"]);
    expect(d.enrolled).toBe(false);
    expect((await api("GET", `/api/v1/enrollments/${d.udid}`)).json()).toMatchObject({ status: "checked_out" });
    expect((await resultOf(uuid, d.udid))!.status).not.toMatch(/acknowledged|error/);
  });
});
