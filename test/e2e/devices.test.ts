// Devices and their inventory end to end: a device enrolls and answers inventory commands over a real socket
// (the listener `orchard serve` runs, Mdm-Signature on every message), the admin API shows its detail, lists and
// history, and a webhook receiver on a port of this machine gets device.updated, on SQLite and PostgreSQL.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../databases.ts";
import { checkinOf, newSignedDevice, putSigned, startDeviceSocketServer, type DeviceSocketServer, type SignedDevice } from "../device-socket.ts";
import { parsePlist, type PlistDict, type PlistInput } from "../../src/wire/plist.ts";

interface Received {
  headers: IncomingHttpHeaders;
  body: { event: string; data: Record<string, unknown> };
}

async function receiver() {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Received["body"] });
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, close: () => new Promise((r) => server.close(r)) };
}

const app = (bundleId: string, version: string, name = bundleId) => ({ Identifier: bundleId, Name: name, Version: version, ShortVersion: version, BundleSize: 1234, Installing: false });

describeEachDatabase("devices and inventory", (database) => {
  let s: DeviceSocketServer;
  let hook: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    s = await startDeviceSocketServer(database);
    hook = await receiver();
    const created = await s.app.inject({ method: "POST", url: "/api/v1/webhooks", headers: s.auth, payload: { url: hook.url, events: ["device.enrolled", "device.updated", "device.unenrolled", "device.app.installed", "device.app.removed"] } });
    expect(created.statusCode).toBe(201);
  });
  afterAll(async () => {
    await hook.close();
    await s.close();
  });

  const api = async (url: string) => s.app.inject({ url: `/api/v1${url}`, headers: s.auth });

  async function enroll(facts: Record<string, PlistInput> = {}): Promise<SignedDevice> {
    const d = await newSignedDevice(s);
    const a = await checkinOf(s.port, d, { MessageType: "Authenticate", DeviceName: "Test iPhone", Model: "iPhone15,2", ModelName: "iPhone", ProductName: "iPhone15,2", OSVersion: "17.4", BuildVersion: "21E219", SerialNumber: `SN${d.udid.slice(0, 8)}`, ...facts });
    expect(a.status).toBe(200);
    const tu = await checkinOf(s.port, d, { MessageType: "TokenUpdate", Token: new Uint8Array(32).fill(7), PushMagic: randomUUID() });
    expect(tu.status).toBe(200);
    return d;
  }

  const connect = (d: SignedDevice, report: Record<string, PlistInput>) => putSigned(s.port, d, "/mdm/connect", { UDID: d.udid, ...report });

  /** Queues one command through the API, lets the device fetch it and answer with `report`; returns the HTTP status of the answer. */
  async function answer(d: SignedDevice, requestType: string, report: Record<string, PlistInput>, params: Record<string, unknown> = {}): Promise<number> {
    const queued = await s.app.inject({ method: "POST", url: "/api/v1/commands", headers: s.auth, payload: { targets: [d.udid], requestType, params } });
    expect(queued.statusCode, queued.body).toBe(201);
    const uuid = queued.json().commandUuid as string;
    const idle = await connect(d, { Status: "Idle" });
    expect(idle.status).toBe(200);
    expect((parsePlist(Buffer.from(idle.body)) as PlistDict).CommandUUID).toBe(uuid);
    const r = await connect(d, { Status: "Acknowledged", CommandUUID: uuid, ...report });
    return r.status;
  }

  async function deliverAll() {
    await s.t.ctx.events.drain();
    await s.t.ctx.jobs.runDue();
  }

  it("creates the device at enrollment and lists it with its filters", async () => {
    const d = await enroll();
    const detail = await api(`/devices/${d.udid}`);
    expect(detail.statusCode).toBe(200);
    expect(detail.json()).toMatchObject({ id: d.udid, status: "enrolled", udid: d.udid, platform: "iOS", serialNumber: `SN${d.udid.slice(0, 8)}`, osVersion: "17.4", enrollmentKind: "device", enrollmentStatus: "active", counts: { apps: 0, profiles: 0, certificates: 0, channels: 1 } });

    const bySerial = (await api(`/devices?serial=SN${d.udid.slice(0, 8)}`)).json();
    expect(bySerial.devices.map((x: { id: string }) => x.id)).toEqual([d.udid]);
    expect((await api(`/devices?platform=IOS&udid=${d.udid}`)).json().devices).toHaveLength(1);
    expect((await api(`/devices?platform=macos&udid=${d.udid}`)).json().devices).toHaveLength(0);
    expect((await api(`/devices?name=Test%20iPhone&udid=${d.udid}`)).json().devices).toHaveLength(1);
    expect((await api(`/devices?platform=windows`)).statusCode).toBe(400);
    const unknown = await api(`/devices?serialNumber=x`);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.message).toContain("unknown query parameter: serialNumber");
    expect((await api(`/devices/nope`)).statusCode).toBe(404);
    expect((await api(`/devices/nope/apps`)).statusCode).toBe(404);

    const other = await enroll();
    const page1 = (await api(`/devices?limit=1`)).json();
    expect(page1.devices).toHaveLength(1);
    const page2 = (await api(`/devices?limit=1000&cursor=${page1.nextCursor as string}`)).json();
    expect([page1.devices[0].id, ...page2.devices.map((x: { id: string }) => x.id)]).toEqual(expect.arrayContaining([d.udid, other.udid]));
    expect((await api(`/devices?cursor=!!`)).statusCode).toBe(400);

    await deliverAll();
    expect(hook.got.some((g) => g.body.event === "device.enrolled" && g.body.data.deviceId === d.udid)).toBe(true);
  });

  it("lands inventory results in the device's detail, and records history and device.updated for what changes", async () => {
    const d = await enroll();
    expect(await answer(d, "DeviceInformation", { QueryResponses: { OSVersion: "17.4", IsSupervised: true, BatteryLevel: 0.5, DeviceCapacity: 128, AvailableDeviceCapacity: 64.5, WiFiMAC: "aa:bb:cc:dd:ee:ff", UnknownKey: "kept raw" } }, { Queries: ["OSVersion"] })).toBe(200);
    expect(await answer(d, "SecurityInfo", { SecurityInfo: { PasscodePresent: true, PasscodeCompliant: false, FirewallSettings: { FirewallEnabled: true }, ManagementStatus: { EnrolledViaDEP: true } } })).toBe(200);
    expect(await answer(d, "InstalledApplicationList", { InstalledApplicationList: [app("com.example.keep", "1.0"), app("com.example.old", "2.0")] })).toBe(200);
    expect(await answer(d, "ProfileList", { ProfileList: [{ PayloadIdentifier: "com.orchard.mdm", PayloadUUID: randomUUID(), PayloadDisplayName: "Orchard MDM", PayloadOrganization: "Orchard", PayloadRemovalDisallowed: false, IsManaged: true }] })).toBe(200);
    const ca = s.t.ctx.credentials.ca.certDer;
    expect(await answer(d, "CertificateList", { CertificateList: [{ CommonName: d.udid, IsIdentity: true, Data: d.identity.certDer }, { CommonName: "Orchard CA", IsIdentity: false, Data: ca }] })).toBe(200);

    const detail = (await api(`/devices/${d.udid}`)).json();
    expect(detail).toMatchObject({ supervised: true, batteryLevel: 0.5, capacityGb: 128, availableGb: 64.5, wifiMac: "aa:bb:cc:dd:ee:ff", passcodePresent: true, passcodeCompliant: false, firewallEnabled: true, depCapable: true, counts: { apps: 2, profiles: 1, certificates: 2 } });
    expect(detail.lastInventoryAt).not.toBeNull();
    expect((await api(`/devices/${d.udid}/apps`)).json().apps).toEqual([
      { bundleId: "com.example.keep", name: "com.example.keep", version: "1.0", shortVersion: "1.0", managed: null, size: 1234, installing: false },
      { bundleId: "com.example.old", name: "com.example.old", version: "2.0", shortVersion: "2.0", managed: null, size: 1234, installing: false },
    ]);
    expect((await api(`/devices/${d.udid}/profiles`)).json().profiles).toEqual([expect.objectContaining({ identifier: "com.orchard.mdm", displayName: "Orchard MDM", installedByOrchard: true, removalDisallowed: false })]);
    const certs = (await api(`/devices/${d.udid}/certificates`)).json().certificates as Array<{ commonName: string; isIdentity: boolean; issuer: string; notAfter: string }>;
    const identity = certs.find((c) => c.isIdentity)!;
    expect(identity).toMatchObject({ commonName: d.udid });
    expect(identity.issuer).toContain("CN=");
    expect(Date.parse(identity.notAfter)).toBeGreaterThan(Date.now());
    const firstPage = (await api(`/devices/${d.udid}/apps?limit=1`)).json();
    expect(firstPage.apps.map((a: { bundleId: string }) => a.bundleId)).toEqual(["com.example.keep"]);
    expect((await api(`/devices/${d.udid}/apps?limit=1&cursor=${firstPage.nextCursor as string}`)).json()).toMatchObject({ apps: [{ bundleId: "com.example.old" }], nextCursor: null });

    await deliverAll();
    const before = hook.got.length;
    expect(await answer(d, "DeviceInformation", { QueryResponses: { OSVersion: "17.5", BuildVersion: "21F79" } }, { Queries: ["OSVersion"] })).toBe(200);
    expect(await answer(d, "InstalledApplicationList", { InstalledApplicationList: [app("com.example.keep", "1.0"), app("com.example.new", "3.1")] })).toBe(200);

    const detailAfter = (await api(`/devices/${d.udid}`)).json();
    expect(detailAfter).toMatchObject({ osVersion: "17.5", buildVersion: "21F79", counts: { apps: 2 } });
    // The engine's own facts on the enrollment stay true as before.
    expect((await api(`/enrollments/${d.udid}`)).json()).toMatchObject({ osVersion: "17.5", supervised: true });

    const history = (await api(`/devices/${d.udid}/history?limit=1000`)).json().history as Array<{ at: string; kind: string; field: string; from: string | null; to: string | null }>;
    expect(history).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: "attribute", field: "osVersion", from: "17.4", to: "17.5" }),
        expect.objectContaining({ kind: "attribute", field: "buildVersion", from: "21E219", to: "21F79" }),
        expect.objectContaining({ kind: "app", field: "com.example.new", from: null, to: "3.1" }),
        expect.objectContaining({ kind: "app", field: "com.example.old", from: "2.0", to: null }),
      ]),
    );
    // The first app list was a baseline: it said what was there, not what changed.
    expect(history.filter((h) => h.kind === "app")).toHaveLength(2);
    const times = history.map((h) => Date.parse(h.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const p1 = (await api(`/devices/${d.udid}/history?limit=2`)).json();
    const p2 = (await api(`/devices/${d.udid}/history?limit=1000&cursor=${p1.nextCursor as string}`)).json();
    expect(p1.history.length + p2.history.length).toBe(history.length);

    await deliverAll();
    const sent = hook.got.slice(before).map((g) => g.body).filter((b) => b.data.deviceId === d.udid);
    expect(sent).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: "device.updated", data: { deviceId: d.udid, changed: ["osVersion", "buildVersion"] } }),
        expect.objectContaining({ event: "device.updated", data: { deviceId: d.udid, changed: ["apps"] } }),
        expect.objectContaining({ event: "device.app.installed", data: { deviceId: d.udid, bundleId: "com.example.new", version: "3.1" } }),
        expect.objectContaining({ event: "device.app.removed", data: { deviceId: d.udid, bundleId: "com.example.old" } }),
      ]),
    );
  });

  it("keeps what is valid in a malformed result, answers 200 and the device stays usable", async () => {
    const d = await enroll();
    // Came through ADE, so corporate: every app it reports may be kept (data separation).
    expect(await answer(d, "SecurityInfo", { SecurityInfo: { ManagementStatus: { EnrolledViaDEP: true } } })).toBe(200);
    expect(await answer(d, "InstalledApplicationList", { InstalledApplicationList: [app("com.example.one", "1")] })).toBe(200);

    // Wrong types, unknown keys: the valid keys are applied, the rest is a warning.
    expect(await answer(d, "DeviceInformation", { QueryResponses: { OSVersion: 18, DeviceName: "Renamed", IsSupervised: "yes", BatteryLevel: "full", Surprise: { Nested: [1, 2] } } }, { Queries: ["OSVersion"] })).toBe(200);
    // The whole answer of the wrong type.
    expect(await answer(d, "SecurityInfo", { SecurityInfo: ["not", "a", "dict"] })).toBe(200);
    expect(await answer(d, "ProfileList", { ProfileList: "nope" })).toBe(200);
    expect(await answer(d, "CertificateList", { CertificateList: [{ CommonName: "garbage", Data: new Uint8Array([1, 2, 3]) }, { CommonName: "no data" }, 7] })).toBe(200);
    // 10,000 apps, some of them malformed.
    const apps: PlistInput[] = [];
    for (let i = 0; i < 10_000; i++) apps.push(app(`com.example.bulk${String(i).padStart(5, "0")}`, String(i)));
    apps.push({ Name: "no identifier" }, "a string", { Identifier: 42 });
    expect(await answer(d, "InstalledApplicationList", { InstalledApplicationList: apps })).toBe(200);

    const detail = await api(`/devices/${d.udid}`);
    expect(detail.statusCode).toBe(200);
    const body = detail.json();
    expect(body).toMatchObject({ name: "Renamed", osVersion: "17.4", supervised: null, counts: { apps: 10_000, profiles: 0, certificates: 1 } });
    const warnings = Object.fromEntries((body.inventoryWarnings as Array<{ queryType: string; warnings: string[] }>).map((w) => [w.queryType, w.warnings]));
    expect(warnings.DeviceInformation).toEqual(expect.arrayContaining(["QueryResponses.OSVersion: expected a string, got an integer", "QueryResponses.IsSupervised: expected a boolean, got a string"]));
    expect(warnings.SecurityInfo).toEqual(["SecurityInfo.SecurityInfo: expected a dictionary, got an array"]);
    expect(warnings.ProfileList).toEqual(["ProfileList.ProfileList: expected an array, got a string"]);
    expect(warnings.CertificateList).toEqual(expect.arrayContaining(["CertificateList[0].Data is not a DER certificate", "CertificateList[1].Data is missing", "CertificateList[2]: expected a dictionary, got an integer"]));
    expect(warnings.InstalledApplicationList).toEqual(expect.arrayContaining(["InstalledApplicationList[10000].Identifier is missing", "InstalledApplicationList[10002].Identifier: expected a string, got an integer"]));

    // A list of which no item can be read says nothing of what is installed: the stored list stays.
    expect(await answer(d, "InstalledApplicationList", { InstalledApplicationList: [1, "two", { Name: "three" }] })).toBe(200);
    const afterUnreadable = (await api(`/devices/${d.udid}`)).json();
    expect(afterUnreadable.counts.apps).toBe(10_000);
    expect(afterUnreadable.inventoryWarnings.find((w: { queryType: string }) => w.queryType === "InstalledApplicationList").warnings).toContain("InstalledApplicationList.InstalledApplicationList: no item could be read; the stored list is kept");

    // The device still gets its commands and the API still pages its apps.
    expect(await answer(d, "DeviceInformation", { QueryResponses: { OSVersion: "18.0" } }, { Queries: ["OSVersion"] })).toBe(200);
    expect((await api(`/devices/${d.udid}`)).json().osVersion).toBe("18.0");
    const page = (await api(`/devices/${d.udid}/apps?limit=1000`)).json();
    expect(page.apps).toHaveLength(1000);
    expect(page.nextCursor).not.toBeNull();
    const history = (await api(`/devices/${d.udid}/history?limit=5`)).json();
    expect(history.history).toHaveLength(5);
  });

  it("owns its user channels, ignores a user channel's answers as device inventory, and is unenrolled by the device channel's CheckOut", async () => {
    const d = await enroll({ DeviceName: "Test Mac", Model: "Mac14,2", ModelName: "MacBook Air", ProductName: "Mac14,2", OSVersion: "14.4" });
    const userId = randomUUID().toUpperCase();
    const userChannel = `${d.udid}:${userId}`;
    const tu = await checkinOf(s.port, d, { MessageType: "TokenUpdate", UserID: userId, UserShortName: "alice", Token: new Uint8Array(32).fill(9), PushMagic: randomUUID() });
    expect(tu.status).toBe(200);
    expect((await api(`/devices/${d.udid}`)).json().counts).toMatchObject({ channels: 2 });
    expect((await api(`/devices/${userChannel}`)).statusCode).toBe(404);

    const queued = await s.app.inject({ method: "POST", url: "/api/v1/commands", headers: s.auth, payload: { targets: [userChannel], requestType: "ProfileList", params: {} } });
    expect(queued.statusCode, queued.body).toBe(201);
    const uuid = queued.json().commandUuid as string;
    expect((await connect(d, { UserID: userId, Status: "Idle" })).status).toBe(200);
    expect((await connect(d, { UserID: userId, Status: "Acknowledged", CommandUUID: uuid, ProfileList: [{ PayloadIdentifier: "com.example.user", PayloadUUID: randomUUID() }] })).status).toBe(200);
    expect((await api(`/devices/${d.udid}`)).json().counts).toMatchObject({ profiles: 0 });

    // A user channel's CheckOut leaves the device enrolled; the device channel's unenrolls it.
    expect((await checkinOf(s.port, d, { MessageType: "CheckOut", UserID: userId })).status).toBe(200);
    expect((await api(`/devices/${d.udid}`)).json().status).toBe("enrolled");
    const before = hook.got.length;
    expect((await checkinOf(s.port, d, { MessageType: "CheckOut" })).status).toBe(200);
    expect((await api(`/devices/${d.udid}`)).json()).toMatchObject({ status: "unenrolled", enrollmentStatus: "checked_out" });
    expect((await api(`/devices/${d.udid}`)).json().unenrolledAt).not.toBeNull();
    await deliverAll();
    expect(hook.got.slice(before).map((g) => g.body)).toContainEqual(expect.objectContaining({ event: "device.unenrolled", data: { deviceId: d.udid } }));

    // Enrolling again makes it enrolled again, and says so as a re-enrollment.
    await checkinOf(s.port, d, { MessageType: "Authenticate", SerialNumber: `SN${d.udid.slice(0, 8)}` });
    expect((await api(`/devices/${d.udid}`)).json()).toMatchObject({ status: "enrolled", unenrolledAt: null, osVersion: "14.4", platform: "macOS" });
    await deliverAll();
    expect(hook.got.some((g) => g.body.event === "device.enrolled" && g.body.data.deviceId === d.udid && g.body.data.reenrollment === true)).toBe(true);
  });
});
