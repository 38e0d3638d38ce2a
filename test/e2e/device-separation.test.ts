// Data separation where inventory is stored and where the API answers (issue 17, item 5): a User Enrollment
// device that nevertheless reports its serial number, UDID, IMEI, MEID, MAC addresses, phone number and personal
// apps keeps none of them (device row, apps, raw answers, history) and the API answers lack those keys; a
// corporate device keeps and shows them. Devices talk over a real socket, on SQLite and PostgreSQL.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../databases.ts";
import { checkinOf, newSignedDevice, putSigned, startDeviceSocketServer, type DeviceSocketServer, type SignedDevice } from "../device-socket.ts";
import { parsePlist, type PlistDict, type PlistInput } from "../../src/wire/plist.ts";

const FORBIDDEN_KEYS = ["serialNumber", "udid", "imei", "meid", "wifiMac", "bluetoothMac", "activationLockEnabled"];
const app = (bundleId: string, extra: Record<string, PlistInput> = {}) => ({ Identifier: bundleId, Name: bundleId, Version: "1.0", ShortVersion: "1.0", ...extra });

describeEachDatabase("data separation of stored and shown inventory", (database) => {
  let s: DeviceSocketServer;
  beforeAll(async () => {
    s = await startDeviceSocketServer(database);
  });
  afterAll(async () => {
    await s.close();
  });

  const api = async (url: string) => s.app.inject({ url: `/api/v1${url}`, headers: s.auth });

  /** A device's messages: a User Enrollment identifies itself by EnrollmentID alone, never by UDID. */
  const identity = (d: SignedDevice, userEnrollment: boolean): Record<string, PlistInput> => (userEnrollment ? { EnrollmentID: d.udid } : { UDID: d.udid });

  async function enroll(userEnrollment: boolean, facts: Record<string, PlistInput>): Promise<SignedDevice> {
    const d = await newSignedDevice(s);
    const checkin = (m: Record<string, PlistInput>) =>
      userEnrollment ? putSigned(s.port, d, "/mdm/checkin", { EnrollmentID: d.udid, Topic: "com.apple.mgmt.test", ...m }, "application/x-apple-aspen-mdm-checkin") : checkinOf(s.port, d, m);
    expect((await checkin({ MessageType: "Authenticate", Model: "iPhone15,2", ModelName: "iPhone", ProductName: "iPhone15,2", OSVersion: "17.4", BuildVersion: "21E219", ...facts })).status).toBe(200);
    expect((await checkin({ MessageType: "TokenUpdate", Token: new Uint8Array(32).fill(7), PushMagic: randomUUID() })).status).toBe(200);
    return d;
  }

  async function answer(d: SignedDevice, userEnrollment: boolean, requestType: string, report: Record<string, PlistInput>, params: Record<string, unknown> = {}): Promise<void> {
    const queued = await s.app.inject({ method: "POST", url: "/api/v1/commands", headers: s.auth, payload: { targets: [d.udid], requestType, params } });
    expect(queued.statusCode, queued.body).toBe(201);
    const uuid = queued.json().commandUuid as string;
    const idle = await putSigned(s.port, d, "/mdm/connect", { ...identity(d, userEnrollment), Status: "Idle" });
    expect((parsePlist(Buffer.from(idle.body)) as PlistDict).CommandUUID).toBe(uuid);
    const r = await putSigned(s.port, d, "/mdm/connect", { ...identity(d, userEnrollment), Status: "Acknowledged", CommandUUID: uuid, ...report });
    expect(r.status).toBe(200);
  }

  /** Everything stored about a device, as text, to search for a value that must not be there. */
  async function storedText(id: string): Promise<string> {
    const db = s.t.ctx.store.db;
    const rows = await Promise.all([
      db.selectFrom("devices").selectAll().where("id", "=", id).execute(),
      db.selectFrom("device_apps").selectAll().where("device_id", "=", id).execute(),
      db.selectFrom("device_inventory_raw").selectAll().where("device_id", "=", id).execute(),
      db.selectFrom("device_history").selectAll().where("device_id", "=", id).execute(),
    ]);
    return JSON.stringify(rows);
  }

  const secrets = (tag: string) => ({
    SerialNumber: `SERIAL${tag}`,
    UDID: `UDIDLEAK${tag}`,
    IMEI: `35 ${tag} 1`,
    MEID: `MEID${tag}`,
    WiFiMAC: `aa:${tag}`,
    BluetoothMAC: `bb:${tag}`,
    PhoneNumber: `+1555${tag}`,
    IsActivationLockEnabled: true,
  });

  it("keeps and shows nothing a User Enrollment forbids, even when the device reports it", async () => {
    const tag = randomUUID().slice(0, 8);
    const d = await enroll(true, { SerialNumber: `SERIAL${tag}`, IMEI: `35 ${tag} 1`, MEID: `MEID${tag}`, DeviceName: "Personal iPhone" });
    await answer(d, true, "DeviceInformation", { QueryResponses: { ...secrets(tag), OSVersion: "17.5", DeviceName: "Personal iPhone" } }, { Queries: ["OSVersion"] });
    // The admin asked for every app; a User Enrollment must only ever show the managed ones.
    await answer(d, true, "InstalledApplicationList", { InstalledApplicationList: [app(`com.personal.diary${tag}`), app(`com.personal.bank${tag}`)] });
    await answer(d, true, "InstalledApplicationList", { InstalledApplicationList: [app("com.example.managed"), app("com.example.ddm", { Source: "Declarative Device Management" })] }, { ManagedAppsOnly: true });
    await answer(d, true, "DeviceInformation", { QueryResponses: { ...secrets(`${tag}x`), OSVersion: "17.6" } }, { Queries: ["OSVersion"] });
    // Apple's schema forbids a User Enrollment's PasscodePresent and AutoLockTime on iOS; PasscodeCompliant is allowed.
    await answer(d, true, "SecurityInfo", { SecurityInfo: { PasscodePresent: true, AutoLockTime: 314159, PasscodeCompliant: true } });

    const stored = await storedText(d.udid);
    for (const value of [tag, "UDIDLEAK", "SERIAL", "+1555", "com.personal.diary", "com.personal.bank"]) expect(stored, value).not.toContain(value);
    expect(stored).not.toContain("314159");
    for (const key of ["SerialNumber", "IMEI", "MEID", "WiFiMAC", "BluetoothMAC", "PhoneNumber", "PasscodePresent", "AutoLockTime"]) {
      // Named in the warnings (names only), never stored as an answer key.
      expect(stored).not.toContain(`"${key}":`);
    }
    const row = await s.t.ctx.store.db.selectFrom("devices").selectAll().where("id", "=", d.udid).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ serial_number: null, udid: null, imei: null, meid: null, wifi_mac: null, bluetooth_mac: null, activation_lock_enabled: null, passcode_present: null, passcode_compliant: 1, os_version: "17.6" });
    // Nor does the engine's own enrollment row, though Authenticate and DeviceInformation both carried them.
    expect(await s.t.ctx.store.db.selectFrom("enrollments").select(["serial_number", "imei", "meid"]).where("id", "=", d.udid).executeTakeFirstOrThrow()).toEqual({ serial_number: null, imei: null, meid: null });

    const detail = (await api(`/devices/${d.udid}`)).json() as Record<string, unknown>;
    for (const key of FORBIDDEN_KEYS) expect(detail, key).not.toHaveProperty(key);
    expect(detail).toMatchObject({ id: d.udid, enrollmentKind: "user-enrollment", ownership: "personal", osVersion: "17.6", name: "Personal iPhone", counts: { apps: 2 } });
    const warnings = (detail.inventoryWarnings as Array<{ queryType: string; warnings: string[] }>).flatMap((w) => w.warnings).join("\n");
    expect(warnings).toContain("SerialNumber");
    expect(warnings).not.toContain(tag);

    const listed = ((await api(`/devices?limit=1000`)).json().devices as Array<Record<string, unknown>>).find((x) => x.id === d.udid)!;
    for (const key of FORBIDDEN_KEYS) expect(listed, key).not.toHaveProperty(key);
    expect(listed).toHaveProperty("osVersion", "17.6");

    // Asked ManagedAppsOnly, the device lists managed apps alone; an app Declarative Device Management manages says so.
    expect((await api(`/devices/${d.udid}/apps`)).json().apps).toEqual([expect.objectContaining({ bundleId: "com.example.ddm", managed: true }), expect.objectContaining({ bundleId: "com.example.managed", managed: true })]);
    const history = (await api(`/devices/${d.udid}/history?limit=1000`)).json().history as Array<{ field: string; from: string | null; to: string | null }>;
    expect(history.map((h) => h.field)).toContain("osVersion");
    for (const h of history) {
      expect(["serialNumber", "udid", "imei", "meid", "wifiMac", "bluetoothMac", "activationLockEnabled"]).not.toContain(h.field);
      expect(`${h.from} ${h.to}`).not.toContain(tag);
    }
  });

  it("leaves out of the API what a User Enrollment's row holds from before the rule", async () => {
    const d = await enroll(true, {});
    // A row written before ingestion filtered: the views must still not show it.
    await s.t.ctx.store.db.updateTable("devices").set({ serial_number: "OLDSERIAL", imei: "OLDIMEI", udid: "OLDUDID" }).where("id", "=", d.udid).execute();
    const detail = (await api(`/devices/${d.udid}`)).json() as Record<string, unknown>;
    for (const key of FORBIDDEN_KEYS) expect(detail, key).not.toHaveProperty(key);
    const listed = ((await api(`/devices?limit=1000`)).json().devices as Array<Record<string, unknown>>).find((x) => x.id === d.udid)!;
    for (const key of FORBIDDEN_KEYS) expect(listed, key).not.toHaveProperty(key);
    expect(JSON.stringify([detail, listed])).not.toContain("OLD");
  });

  it("keeps and shows the identifiers and every app of a corporate device", async () => {
    const tag = randomUUID().slice(0, 8);
    const d = await enroll(false, { SerialNumber: `SERIAL${tag}` });
    // EnrolledViaDEP: the device came through Automated Device Enrollment, so it is the organisation's.
    await answer(d, false, "SecurityInfo", { SecurityInfo: { ManagementStatus: { EnrolledViaDEP: true } } });
    await answer(d, false, "DeviceInformation", { QueryResponses: { ...secrets(tag), UDID: d.udid, OSVersion: "17.5" } }, { Queries: ["OSVersion"] });
    await answer(d, false, "InstalledApplicationList", { InstalledApplicationList: [app(`com.personal.diary${tag}`), app("com.example.managed")] });

    const detail = (await api(`/devices/${d.udid}`)).json();
    expect(detail).toMatchObject({ ownership: null, serialNumber: `SERIAL${tag}`, udid: d.udid, imei: `35 ${tag} 1`, meid: `MEID${tag}`, wifiMac: `aa:${tag}`, bluetoothMac: `bb:${tag}`, activationLockEnabled: true, counts: { apps: 2 } });
    const listed = ((await api(`/devices?serial=SERIAL${tag}`)).json().devices as Array<Record<string, unknown>>)[0];
    expect(listed).toMatchObject({ id: d.udid, serialNumber: `SERIAL${tag}`, imei: `35 ${tag} 1` });
    expect(((await api(`/devices/${d.udid}/apps`)).json().apps as Array<{ bundleId: string }>).map((a) => a.bundleId)).toEqual(["com.example.managed", `com.personal.diary${tag}`]);
    const stored = await storedText(d.udid);
    for (const value of [`SERIAL${tag}`, `+1555${tag}`, `com.personal.diary${tag}`]) expect(stored).toContain(value);
  });

  it("marks the separated fields optional in the OpenAPI document and says why", async () => {
    const doc = (await s.app.inject("/api/v1/openapi.json")).json() as { paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: { required?: string[]; properties: Record<string, { description?: string }> } }> }> } }> };
    const schema = doc.paths["/api/v1/devices/{id}"]!.get.responses["200"]!.content["application/json"]!.schema;
    for (const key of FORBIDDEN_KEYS) {
      expect(schema.required ?? [], key).not.toContain(key);
      expect(schema.properties[key]?.description, key).toContain("data separation");
    }
    expect(schema.required).toContain("osVersion");
  });
});
