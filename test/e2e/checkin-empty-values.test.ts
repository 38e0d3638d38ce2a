// Devices send empty values for what they do not have: <data></data> for UnlockToken, <string></string> for IMEI
// and MEID on a Wi-Fi-only iPad. Empty means absent: nothing is stored or escrowed, and a value Orchard already
// knows is kept. Through the real device front end, over a socket.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../databases.ts";
import { checkinOf, newSignedDevice, startDeviceSocketServer, type DeviceSocketServer, type SignedDevice } from "../device-socket.ts";
import { getEnrollment } from "../../src/store/enrollments.ts";

describeEachDatabase("empty check-in values", (database) => {
  let s: DeviceSocketServer;
  beforeAll(async () => {
    s = await startDeviceSocketServer(database);
  });
  afterAll(() => s.close());

  const checkin = (d: SignedDevice, msg: Parameters<typeof checkinOf>[2]) => checkinOf(s.port, d, msg);
  const view = async (id: string) => {
    const r = await s.app.inject({ method: "GET", url: `/api/v1/enrollments/${encodeURIComponent(id)}`, headers: s.auth });
    expect(r.statusCode).toBe(200);
    return r.json<Record<string, unknown>>();
  };
  const tokenUpdate = (extra: Record<string, Parameters<typeof checkinOf>[2][string]> = {}) => ({ MessageType: "TokenUpdate", Token: new Uint8Array(32).fill(5), PushMagic: randomUUID(), ...extra });
  const emptyData = new Uint8Array(0);

  it("does not escrow an empty UnlockToken, nor let one replace an escrowed token", async () => {
    const d = await newSignedDevice(s);
    expect((await checkin(d, { MessageType: "Authenticate", SerialNumber: "C02EMPTY01", ProductName: "iPad13,1" })).status).toBe(200);
    expect((await checkin(d, tokenUpdate({ UnlockToken: emptyData }))).status).toBe(200);
    expect((await view(d.udid)).hasUnlockToken).toBe(false);
    expect(await s.t.ctx.mdm.checkin.unlockToken(d.udid)).toBeUndefined();

    const real = new Uint8Array([9, 8, 7, 6]);
    expect((await checkin(d, tokenUpdate({ UnlockToken: real }))).status).toBe(200);
    expect((await view(d.udid)).hasUnlockToken).toBe(true);
    expect((await checkin(d, tokenUpdate({ UnlockToken: emptyData }))).status).toBe(200);
    expect((await view(d.udid)).hasUnlockToken).toBe(true);
    expect(await s.t.ctx.mdm.checkin.unlockToken(d.udid)).toEqual(real);
  });

  it("stores no empty IMEI, MEID or other fact, and keeps known values when a later message sends them empty", async () => {
    const d = await newSignedDevice(s);
    const empties = { IMEI: "", MEID: "", DeviceName: "", OSVersion: "", BuildVersion: "", Model: "", ModelName: "", ProductName: "", SerialNumber: "" };
    expect((await checkin(d, { MessageType: "Authenticate", ...empties })).status).toBe(200);
    let row = await getEnrollment(s.t.ctx.store, d.udid);
    for (const column of ["imei", "meid", "device_name", "os_version", "build_version", "model", "model_name", "product_name", "serial_number"] as const) expect(row?.[column], column).toBeNull();
    expect(row?.topic).toBe("com.apple.mgmt.test");

    const facts = { IMEI: "35 209900 176148 1", MEID: "35209900176148", DeviceName: "Reception iPad", OSVersion: "17.4", BuildVersion: "21E219", Model: "iPad13,1", ModelName: "iPad", ProductName: "iPad13,1", SerialNumber: "C02EMPTY02" };
    expect((await checkin(d, { MessageType: "Authenticate", ...facts })).status).toBe(200);
    // A re-enrollment that sends them empty (and an empty Topic) keeps what Orchard knows.
    expect((await checkin(d, { MessageType: "Authenticate", ...empties, Topic: "" })).status).toBe(200);
    row = await getEnrollment(s.t.ctx.store, d.udid);
    expect(row).toMatchObject({ imei: facts.IMEI, meid: facts.MEID, device_name: facts.DeviceName, os_version: "17.4", build_version: "21E219", model: "iPad13,1", serial_number: "C02EMPTY02", topic: "com.apple.mgmt.test" });
    const shown = await view(d.udid);
    expect(shown.imei).toBe(facts.IMEI);

    expect((await checkin(d, tokenUpdate({ Topic: "" }))).status).toBe(200);
    expect((await getEnrollment(s.t.ctx.store, d.udid))?.topic).toBe("com.apple.mgmt.test");
  });

  it("keeps a user channel's known UserLongName when a TokenUpdate sends it empty", async () => {
    const d = await newSignedDevice(s);
    expect((await checkin(d, { MessageType: "Authenticate", ProductName: "Mac14,2" })).status).toBe(200);
    expect((await checkin(d, tokenUpdate())).status).toBe(200);
    const userId = randomUUID().toUpperCase();
    const user = { UserID: userId, UserShortName: "ada" };
    expect((await checkin(d, tokenUpdate({ ...user, UserLongName: "" }))).status).toBe(200);
    expect((await getEnrollment(s.t.ctx.store, `${d.udid}:${userId}`))?.user_long_name).toBeNull();
    expect((await checkin(d, tokenUpdate({ ...user, UserLongName: "Ada Lovelace" }))).status).toBe(200);
    expect((await checkin(d, tokenUpdate({ ...user, UserLongName: "" }))).status).toBe(200);
    expect((await getEnrollment(s.t.ctx.store, `${d.udid}:${userId}`))?.user_long_name).toBe("Ada Lovelace");
  });

  it("refuses a TokenUpdate with an empty Token or PushMagic (nothing could be pushed to it) with 400 naming it", async () => {
    const d = await newSignedDevice(s);
    expect((await checkin(d, { MessageType: "Authenticate" })).status).toBe(200);
    const noToken = await checkin(d, tokenUpdate({ Token: emptyData }));
    expect(noToken.status).toBe(400);
    expect(noToken.body).toMatch(/empty Token/);
    const noMagic = await checkin(d, tokenUpdate({ PushMagic: "" }));
    expect(noMagic.status).toBe(400);
    expect(noMagic.body).toMatch(/empty PushMagic/);
    expect((await getEnrollment(s.t.ctx.store, d.udid))?.push_magic).toBeNull();
  });
});
