// One device cannot create unlimited user channels: TokenUpdates with new UserIDs, each signed by the device's own
// certificate, create channels up to ORCHARD_MAX_USER_CHANNELS_PER_DEVICE; beyond it a new channel is refused with
// 403 (logged as a warning) and the existing channels keep working. Over a real socket.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { describeEachDatabase } from "../databases.ts";
import { checkinOf, newSignedDevice, putSigned, startDeviceSocketServer, type DeviceSocketServer, type SignedDevice } from "../device-socket.ts";
import { loadConfig } from "../../src/config.ts";

const LIMIT = 3;

describeEachDatabase("user channels per device", (database) => {
  let s: DeviceSocketServer;
  beforeAll(async () => {
    s = await startDeviceSocketServer(database, { maxUserChannelsPerDevice: LIMIT });
  });
  afterAll(() => s.close());

  const tokenUpdate = (d: SignedDevice, userId?: string) =>
    checkinOf(s.port, d, { MessageType: "TokenUpdate", Token: new Uint8Array(32).fill(1), PushMagic: randomUUID(), ...(userId ? { UserID: userId, UserShortName: `u${userId.slice(0, 6)}` } : {}) });
  const enrolled = async () => {
    const d = await newSignedDevice(s);
    expect((await checkinOf(s.port, d, { MessageType: "Authenticate", ProductName: "Mac14,2", Model: "Mac14,2" })).status).toBe(200);
    expect((await tokenUpdate(d)).status).toBe(200);
    return d;
  };
  const userChannels = async (d: SignedDevice) =>
    (await s.t.ctx.store.db.selectFrom("enrollments").select("id").where("device_id", "=", d.udid).where("channel", "!=", "device").execute()).map((r) => r.id);

  it("creates channels up to the limit, refuses the next with 403 and a warning, and keeps serving the existing ones", async () => {
    const d = await enrolled();
    const users = Array.from({ length: LIMIT }, () => randomUUID().toUpperCase());
    for (const u of users) expect((await tokenUpdate(d, u)).status).toBe(200);

    const warn = vi.spyOn(s.t.ctx.logger, "warn");
    try {
      const refused = await tokenUpdate(d, randomUUID().toUpperCase());
      expect(refused.status).toBe(403);
      expect(refused.body).toMatch(new RegExp(`already has ${LIMIT} user channels.*ORCHARD_MAX_USER_CHANNELS_PER_DEVICE=${LIMIT}`));
      expect(warn.mock.calls.some(([fields]) => typeof fields === "object" && fields !== null && (fields as { status?: number }).status === 403 && /user channels/.test(String((fields as { reason?: string }).reason)))).toBe(true);
    } finally {
      warn.mockRestore();
    }
    expect((await userChannels(d)).length).toBe(LIMIT);

    // Existing channels: their TokenUpdates and connects still work, and so does the device channel.
    for (const u of users) expect((await tokenUpdate(d, u)).status).toBe(200);
    expect((await putSigned(s.port, d, "/mdm/connect", { UDID: d.udid, UserID: users[0]!, Status: "Idle" })).status).toBe(200);
    expect((await putSigned(s.port, d, "/mdm/connect", { UDID: d.udid, Status: "Idle" })).status).toBe(200);
    expect((await tokenUpdate(d)).status).toBe(200);
    // The limit is per device: another device has its own.
    const other = await enrolled();
    expect((await tokenUpdate(other, randomUUID().toUpperCase())).status).toBe(200);
  });

  it("holds when new channels arrive at once (the count is read in the TokenUpdate's transaction)", async () => {
    const d = await enrolled();
    const answers = await Promise.all(Array.from({ length: 12 }, () => tokenUpdate(d, randomUUID().toUpperCase())));
    expect(answers.filter((a) => a.status === 200).length).toBe(LIMIT);
    expect(answers.filter((a) => a.status === 403).length).toBe(12 - LIMIT);
    expect((await userChannels(d)).length).toBe(LIMIT);
  });

  it("is 64 by default, set by ORCHARD_MAX_USER_CHANNELS_PER_DEVICE", () => {
    expect(loadConfig({}).maxUserChannelsPerDevice).toBe(64);
    expect(loadConfig({ ORCHARD_MAX_USER_CHANNELS_PER_DEVICE: "8" }).maxUserChannelsPerDevice).toBe(8);
    expect(() => loadConfig({ ORCHARD_MAX_USER_CHANNELS_PER_DEVICE: "none" })).toThrow(/ORCHARD_MAX_USER_CHANNELS_PER_DEVICE/);
  });
});
