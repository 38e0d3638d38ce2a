// Inventory collection end to end: a device activates over a real socket (Mdm-Signature on every message) and
// its inventory plan is queued through the outbox's job, below admin commands and expiring in an hour; the
// device fetches exactly what planInventory says it may be asked; a second activation or an operator's refresh
// adds nothing while those commands are outstanding; the schedule collects only the devices that are due.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeEachDatabase } from "../databases.ts";
import { newSignedDevice, putSigned, startDeviceSocketServer, type DeviceSocketServer, type SignedDevice } from "../device-socket.ts";
import { parsePlist, type PlistDict, type PlistInput } from "../../src/wire/plist.ts";
import { ALL_ACCESS_RIGHTS } from "../../src/wire/schema/index.ts";
import { planInventory, type InventoryPlan, type InventoryTarget } from "../../src/manage/devices/inventory-plan.ts";
import { getCommand } from "../../src/store/command-queue.ts";
import { inventoryDueAt, setInventoryDue } from "../../src/store/devices.ts";
import { enqueueJob } from "../../src/store/jobs.ts";
import { INVENTORY_ACTOR, INVENTORY_EXPIRY_MS, INVENTORY_PRIORITY, INVENTORY_SCHEDULE_JOB, InventoryCollection, inventoryJitterMs } from "../../src/manage/devices/inventory-collection.ts";

const HOUR = 3_600_000;

/** How a device names itself in its messages: UDID, or EnrollmentID for a User Enrollment. */
interface Enrolled {
  d: SignedDevice;
  id: string;
  key: "UDID" | "EnrollmentID";
}

interface Delivered {
  uuid: string;
  requestType: string;
  command: PlistDict;
}

describeEachDatabase("inventory collection", (database) => {
  let s: DeviceSocketServer;

  beforeAll(async () => {
    s = await startDeviceSocketServer(database, { inventoryIntervalHours: 8 });
  });
  afterAll(async () => s.close());

  const api = (method: "GET" | "POST" | "DELETE", url: string, payload?: Record<string, unknown>) =>
    s.app.inject({ method, url: `/api/v1${url}`, headers: s.auth, ...(payload ? { payload } : {}) });

  const put = (e: Enrolled, path: string, message: Record<string, PlistInput>, contentType?: string) => putSigned(s.port, e.d, path, { [e.key]: e.id, ...message }, contentType);
  const checkin = (e: Enrolled, message: Record<string, PlistInput>) => put(e, "/mdm/checkin", { Topic: "com.apple.mgmt.test", ...message }, "application/x-apple-aspen-mdm-checkin");

  async function activate(e: Enrolled, facts: Record<string, PlistInput>): Promise<void> {
    expect((await checkin(e, { MessageType: "Authenticate", ...facts })).status).toBe(200);
    expect((await checkin(e, { MessageType: "TokenUpdate", Token: new Uint8Array(32).fill(7), PushMagic: randomUUID() })).status).toBe(200);
    // The activation's outbox job, then the pushes the queued commands owe.
    await s.t.ctx.events.drain();
    await s.t.ctx.jobs.runDue();
  }

  const IPHONE = { DeviceName: "Test iPhone", Model: "iPhone15,2", ModelName: "iPhone", ProductName: "iPhone15,2", OSVersion: "17.4", BuildVersion: "21E219" };

  async function enrollIPhone(): Promise<Enrolled> {
    const d = await newSignedDevice(s);
    const e: Enrolled = { d, id: d.udid, key: "UDID" };
    await activate(e, { ...IPHONE, SerialNumber: `SN${d.udid.slice(0, 8)}` });
    return e;
  }

  const iPhoneTarget: InventoryTarget = { platform: "iOS", osVersion: "17.4", enrollmentType: "device", supervised: false, accessRights: ALL_ACCESS_RIGHTS };

  /** The device's outstanding commands, as the enrollment's queue shows them. */
  async function queueOf(id: string): Promise<Array<{ commandUuid: string; requestType: string; status: string }>> {
    const r = await api("GET", `/enrollments/${id}/commands`);
    expect(r.statusCode, r.body).toBe(200);
    return r.json().queue;
  }

  /** Fetches every command the device is given, answering each NotNow so it stays outstanding. */
  async function fetchAll(e: Enrolled): Promise<Delivered[]> {
    const out: Delivered[] = [];
    let r = await put(e, "/mdm/connect", { Status: "Idle" });
    while (r.body.length > 0) {
      expect(r.status).toBe(200);
      const plist = parsePlist(Buffer.from(r.body)) as PlistDict;
      const command = plist.Command as PlistDict;
      out.push({ uuid: plist.CommandUUID as string, requestType: command.RequestType as string, command });
      expect(out.length, "the device is given each command once").toBeLessThan(30);
      r = await put(e, "/mdm/connect", { Status: "NotNow", CommandUUID: plist.CommandUUID as string });
    }
    return out;
  }

  /** The command.queue audit entries naming the device, by command. */
  async function auditedQueues(id: string): Promise<Map<string, { actor: string; detail: Record<string, unknown> }>> {
    const r = await api("GET", `/audit?action=command.queue&target=${id}&limit=500`);
    expect(r.statusCode, r.body).toBe(200);
    const entries = r.json().entries as Array<{ actor: string; detail: Record<string, unknown> }>;
    return new Map(entries.map((x) => [x.detail.commandUuid as string, x]));
  }

  function expectDeliveredIsPlan(delivered: Delivered[], plan: InventoryPlan): void {
    expect(delivered.map((c) => c.requestType).sort()).toEqual(plan.commands.map((c) => c.requestType).sort());
    for (const planned of plan.commands) {
      const got = delivered.find((c) => c.requestType === planned.requestType)!;
      const { RequestType: _, ...params } = got.command;
      expect(params, planned.requestType).toEqual(planned.params);
    }
  }

  it("queues an iPhone's plan at activation: exactly planInventory's commands and queries, below admin commands, expiring in an hour", async () => {
    const before = Date.now();
    const e = await enrollIPhone();
    const plan = planInventory(iPhoneTarget);
    expect(plan.commands.length).toBeGreaterThan(3);

    const queue = await queueOf(e.id);
    expect(queue.map((q) => q.requestType).sort()).toEqual(plan.commands.map((c) => c.requestType).sort());
    const audited = await auditedQueues(e.id);
    for (const q of queue) {
      const cmd = (await getCommand(s.t.ctx.store, q.commandUuid))!;
      expect(cmd.created_by).toBe(INVENTORY_ACTOR);
      expect(audited.get(q.commandUuid)).toMatchObject({ actor: INVENTORY_ACTOR, detail: { requestType: q.requestType, priority: INVENTORY_PRIORITY, expiresAt: new Date(Number(cmd.expires_at)).toISOString() } });
      expect(Number(cmd.expires_at)).toBeGreaterThanOrEqual(before + INVENTORY_EXPIRY_MS);
      expect(Number(cmd.expires_at)).toBeLessThanOrEqual(Date.now() + INVENTORY_EXPIRY_MS);
    }

    const delivered = await fetchAll(e);
    expectDeliveredIsPlan(delivered, plan);
    const info = delivered.find((c) => c.requestType === "DeviceInformation")!;
    expect(info.command.Queries).toEqual(plan.commands.find((c) => c.requestType === "DeviceInformation")!.params.Queries);
    expect(info.command.Queries).toEqual(expect.arrayContaining(["SerialNumber", "UDID", "OSVersion"]));

    // An admin's command, queued after them, is delivered before them.
    const admin = await api("POST", "/commands", { targets: [e.id], requestType: "ProfileList", params: {} });
    expect(admin.statusCode, admin.body).toBe(201);
    const next = await put(e, "/mdm/connect", { Status: "Idle" });
    expect((parsePlist(Buffer.from(next.body)) as PlistDict).CommandUUID).toBe(admin.json().commandUuid);

    // Its next scheduled collection: the interval and its own jitter after the activation.
    const due = (await inventoryDueAt(s.t.ctx.store, e.id))!;
    const jitter = inventoryJitterMs(e.id, 8 * HOUR);
    expect(due).toBeGreaterThanOrEqual(before + 8 * HOUR + jitter);
    expect(due).toBeLessThanOrEqual(Date.now() + 8 * HOUR + jitter);
  });

  it("queues a User Enrollment's plan: no serial, UDID or IMEI queries, managed apps only", async () => {
    const d = await newSignedDevice(s);
    const e: Enrolled = { d, id: `UE-${randomUUID().toUpperCase()}`, key: "EnrollmentID" };
    await activate(e, { DeviceName: "BYOD iPhone", Model: "iPhone15,2", ModelName: "iPhone", ProductName: "iPhone15,2", OSVersion: "17.4", BuildVersion: "21E219" });
    const plan = planInventory({ ...iPhoneTarget, enrollmentType: "user-enrollment" });

    const delivered = await fetchAll(e);
    expectDeliveredIsPlan(delivered, plan);
    const queries = delivered.find((c) => c.requestType === "DeviceInformation")!.command.Queries as string[];
    for (const forbidden of ["SerialNumber", "UDID", "IMEI", "MEID", "EthernetMAC"]) expect(queries).not.toContain(forbidden);
    expect(delivered.find((c) => c.requestType === "InstalledApplicationList")!.command.ManagedAppsOnly).toBe(true);
  });

  it("does not queue a command twice while it is outstanding: not at a second activation, not at a refresh", async () => {
    const e = await enrollIPhone();
    const plan = planInventory(iPhoneTarget);
    const first = (await queueOf(e.id)).map((q) => q.commandUuid).sort();
    expect(first).toHaveLength(plan.commands.length);

    // Enrolling again and activating again: the outstanding commands stand, nothing is added.
    await activate(e, { ...IPHONE, SerialNumber: `SN${e.id.slice(0, 8)}` });
    expect((await queueOf(e.id)).map((q) => q.commandUuid).sort()).toEqual(first);

    const refresh = await api("POST", `/devices/${e.id}/refresh`);
    expect(refresh.statusCode, refresh.body).toBe(202);
    expect(refresh.json().queued).toEqual([]);
    const skipped = refresh.json().skipped as Array<{ requestType: string; reason: string }>;
    for (const c of plan.commands) expect(skipped).toContainEqual({ requestType: c.requestType, reason: `an inventory ${c.requestType} is still outstanding for this device` });
    // What the plan leaves out is said too.
    expect(skipped).toContainEqual(expect.objectContaining({ requestType: "AvailableOSUpdates" }));
    expect((await queueOf(e.id)).map((q) => q.commandUuid).sort()).toEqual(first);

    // Once the device answers SecurityInfo, a refresh asks it again, and only it, in the operator's name.
    let r = await put(e, "/mdm/connect", { Status: "Idle" });
    for (let i = 0; ; i++) {
      expect(r.body.length > 0 && i < 30, "SecurityInfo is delivered").toBe(true);
      const plist = parsePlist(Buffer.from(r.body)) as PlistDict;
      if ((plist.Command as PlistDict).RequestType === "SecurityInfo") {
        expect((await put(e, "/mdm/connect", { Status: "Acknowledged", CommandUUID: plist.CommandUUID as string, SecurityInfo: { PasscodePresent: true } })).status).toBe(200);
        break;
      }
      r = await put(e, "/mdm/connect", { Status: "NotNow", CommandUUID: plist.CommandUUID as string });
    }
    const again = await api("POST", `/devices/${e.id}/refresh`);
    expect(again.statusCode, again.body).toBe(202);
    expect(again.json().queued).toEqual([{ requestType: "SecurityInfo", commandUuid: expect.any(String) }]);
    const uuid = again.json().queued[0].commandUuid as string;
    expect((await getCommand(s.t.ctx.store, uuid))!.created_by).toBe("token:admin");
    expect((await auditedQueues(e.id)).get(uuid)).toMatchObject({ actor: "token:admin", detail: { requestType: "SecurityInfo", priority: INVENTORY_PRIORITY } });
  });

  it("answers a refresh of an unknown device with 404, an unenrolled one with 409, and refuses a body it does not know", async () => {
    expect((await api("POST", `/devices/nope/refresh`)).statusCode).toBe(404);
    const e = await enrollIPhone();
    const unknownField = await api("POST", `/devices/${e.id}/refresh`, { force: true });
    expect(unknownField.statusCode).toBe(400);
    expect(unknownField.body).toContain("force");
    expect((await checkin(e, { MessageType: "CheckOut" })).status).toBe(200);
    await s.t.ctx.events.drain();
    const gone = await api("POST", `/devices/${e.id}/refresh`);
    expect(gone.statusCode).toBe(409);
    expect(gone.json().error.message).toContain("not enrolled");
    // Unenrolling took it off the schedule.
    expect(await inventoryDueAt(s.t.ctx.store, e.id)).toBeUndefined();
  });

  it("collects on schedule only the devices that are due, each at most once, and bounds a run", async () => {
    const [due, notDue, alsoDue] = [await enrollIPhone(), await enrollIPhone(), await enrollIPhone()];
    // Their activation's commands answered (cancelled here), so only the schedule can queue more.
    for (const e of [due, notDue, alsoDue]) for (const q of await queueOf(e.id)) expect((await api("DELETE", `/commands/${q.commandUuid}`)).statusCode).toBe(200);
    const now = Date.now();
    await s.t.ctx.store.transaction(async (tx) => {
      await setInventoryDue(tx, due.id, now - 2 * HOUR);
      await setInventoryDue(tx, alsoDue.id, now - HOUR);
      await setInventoryDue(tx, notDue.id, now + HOUR);
    });

    // A run of one device takes the longest overdue first.
    const collection = new InventoryCollection({
      store: s.t.ctx.store,
      outbox: s.t.ctx.outbox,
      commands: () => s.t.ctx.mdm.commands,
      accessRights: (id, ex) => s.t.ctx.enrollmentProfiles.accessRights(id, ex),
      intervalHours: 8,
      onEnroll: true,
      logger: s.t.ctx.logger,
      batch: 1,
    });
    // Every other test's device was activated (due hours from now) or unenrolled (off the schedule).
    expect(await collection.runSchedule()).toMatchObject({ devices: 1 });
    const planned = planInventory(iPhoneTarget).commands.length;
    expect(await queueOf(due.id)).toHaveLength(planned);
    expect(await queueOf(alsoDue.id)).toHaveLength(0);
    expect(await inventoryDueAt(s.t.ctx.store, due.id)).toBeGreaterThanOrEqual(now + 8 * HOUR);

    // The module's own schedule job: the other due device, and not the one due in an hour, nor the first again.
    expect(await enqueueJob(s.t.ctx.store, { kind: INVENTORY_SCHEDULE_JOB, payload: {} })).toBe(true);
    await s.t.ctx.jobs.runDue();
    expect(await queueOf(alsoDue.id)).toHaveLength(planned);
    expect(await queueOf(notDue.id)).toHaveLength(0);
    expect(await queueOf(due.id)).toHaveLength(planned);
    for (const q of await queueOf(alsoDue.id)) expect((await getCommand(s.t.ctx.store, q.commandUuid))!.created_by).toBe(INVENTORY_ACTOR);
  });
});

describe("inventory collection's jitter", () => {
  it("is stable per device, below a fifth of the interval, and spreads a fleet across it", () => {
    const interval = 8 * HOUR;
    const ids = Array.from({ length: 2000 }, () => randomUUID().toUpperCase());
    const jitters = ids.map((id) => inventoryJitterMs(id, interval));
    expect(ids.map((id) => inventoryJitterMs(id, interval))).toEqual(jitters);
    for (const j of jitters) {
      expect(j).toBeGreaterThanOrEqual(0);
      expect(j).toBeLessThan(0.2 * interval);
    }
    // Ten equal slices of the window each hold a fair share (2000 devices: ~200 a slice).
    const slices = new Array<number>(10).fill(0);
    for (const j of jitters) slices[Math.floor(j / (0.02 * interval))]!++;
    for (const n of slices) expect(n).toBeGreaterThan(120);
    expect(inventoryJitterMs(ids[0]!, 0)).toBe(0);
  });
});
