// The fleet runner against a real Orchard: a fleet file of mixed devices enrolls from the .mobileconfig across
// worker threads with a shared key pool, runs a command round, stays online and answers a wake-up (where a push
// will plug in), and unenrolls, on SQLite and PostgreSQL.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { createFleet } from "../../sim/fleet-commands.ts";
import { runFleet, runFleetOnline } from "../../sim/fleet-runner.ts";
import { FleetStore } from "../../sim/fleet-store.ts";
import { startDemoFleet } from "../../sim/demo-fleet.ts";
import { freePort } from "../../bench/lib/server-process.ts";
import { describeEachDatabase } from "../databases.ts";

describeEachDatabase("fleet runner against Orchard", (database) => {
  let server: RunningServer;
  let dir: string;
  let fleet: string;
  let cleanupDb: () => Promise<void>;
  let token: string;
  let profile: Uint8Array;
  const udids: string[] = [];

  const api = async (method: string, url: string, payload?: unknown) =>
    server.app.inject({ method: method as "GET", url, headers: { authorization: `Bearer ${token}` }, ...(payload !== undefined ? { payload: payload as string } : {}) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orchard-sim-fleet-"));
    fleet = join(dir, "fleet.db");
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    const port = await freePort();
    const config = { ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_PUBLIC_URL: `https://127.0.0.1:${port}` }), databaseUrl: fresh.url, httpsPort: port, host: "127.0.0.1" };
    server = await startServer(config, { logger: createLogger("silent") });
    token = (await server.ctx.tokens.create("sim-fleet", "admin", "system:test")).token;
    const id = (await api("POST", "/api/v1/enrollment-profiles", { name: "fleet" })).json().id;
    profile = new Uint8Array((await api("GET", `/api/v1/enrollment-profiles/${id}/mobileconfig`)).rawPayload);
    createFleet(fleet, { count: 10, platforms: ["iOS", "iPadOS", "macOS", "tvOS", "visionOS"], supervised: true, seed: "e2e-fleet" });
    const store = FleetStore.open(fleet);
    udids.push(...store.load(store.select()).map((d) => d.state.udid));
    store.close();
  });
  afterAll(async () => {
    await server?.stop();
    await cleanupDb?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it("enrolls the fleet across worker threads with a shared key pool", async () => {
    const progress: number[] = [];
    const summary = await runFleet({ fleetPath: fleet, input: { operation: "enroll", profile }, workers: 2, concurrency: 4, keyPool: 3, onProgress: (p) => progress.push(p.done) });
    expect(summary).toMatchObject({ operation: "enroll", devices: 10, ok: 10, failed: 0, workers: 2, errors: [] });
    // Authenticate + TokenUpdate per device, plus the user channel's TokenUpdate on the two Macs.
    expect(summary.requests).toBe(10 * 2 + 2);
    expect(summary.requestLatency.count).toBe(summary.requests);
    expect(summary.deviceLatency.p99).toBeGreaterThan(0);
    expect(progress.at(-1)).toBe(10);
    const store = FleetStore.open(fleet);
    expect(store.stats()).toMatchObject({ total: 10, enrolled: 10 });
    const states = store.load(store.select()).map((d) => d.state);
    expect(new Set(states.map((s) => s.keychain.identities[0]!.key)).size).toBe(3);
    expect(new Set(states.map((s) => s.keychain.identities[0]!.certificate)).size).toBe(10);
    store.close();
    for (const udid of udids) expect((await api("GET", `/api/v1/enrollments/${udid}`)).json().status).toBe("active");
  });

  it("runs a command round and counts what the devices answered", async () => {
    const queued = await api("POST", "/api/v1/commands", { targets: udids, requestType: "DeviceInformation", params: { Queries: ["SerialNumber"] } });
    expect(queued.statusCode, queued.body).toBe(201);
    const summary = await runFleet({ fleetPath: fleet, input: { operation: "connect" }, workers: 0, concurrency: 5 });
    // Activation also queued each device's inventory (its own DeviceInformation among it): at least the 10 asked here.
    expect(summary).toMatchObject({ devices: 10, ok: 10, failed: 0 });
    expect(summary.commands["DeviceInformation:Acknowledged"]).toBeGreaterThanOrEqual(10);
    const status = (await api("GET", `/api/v1/commands/${queued.json().commandUuid}`)).json() as { targets: Array<{ status: string }> };
    expect(status.targets.map((t) => t.status)).toEqual(Array(10).fill("acknowledged"));
  });

  it("stays online and answers at once when a device is woken (the push hook)", async () => {
    const target = udids[0]!;
    const online = runFleetOnline({ fleetPath: fleet, intervalSec: 3600, workers: 1, concurrency: 4 });
    const queued = (await api("POST", "/api/v1/commands", { targets: [target], requestType: "ProfileList" })).json().commandUuid as string;
    online.wake(target);
    let status = "pending";
    for (let i = 0; i < 100 && status !== "acknowledged"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await api("GET", `/api/v1/commands/${queued}`)).json().targets[0].status;
    }
    const summary = await online.stop();
    expect(status).toBe("acknowledged");
    // At least this ProfileList (the device's inventory may still hold its own).
    expect(summary.commands["ProfileList:Acknowledged"]).toBeGreaterThanOrEqual(1);
  });

  it("runs the demo fleet: mixed devices enroll, stay online and answer a wake-up by push token", async () => {
    const errors: string[] = [];
    const demo = await startDemoFleet({ profile, count: 5, intervalSec: 3600, seed: "e2e-demo", onError: (udid, e) => errors.push(`${udid}: ${e}`) });
    try {
      expect(errors).toEqual([]);
      expect(new Set(demo.devices.map((d) => d.state.platform)).size).toBe(5);
      expect(demo.devices.every((d) => d.enrolled)).toBe(true);
      const mac = demo.devices.find((d) => d.state.platform === "macOS")!;
      const queued = (await api("POST", "/api/v1/commands", { targets: [mac.udid], requestType: "SecurityInfo" })).json().commandUuid as string;
      await demo.wake(Buffer.from(mac.state.mdm!.pushToken, "base64").toString("hex"));
      expect((await api("GET", `/api/v1/commands/${queued}`)).json().targets[0].status).toBe("acknowledged");
    } finally {
      await demo.stop();
    }
  });

  it("unenrolls the fleet, each device checking out", async () => {
    const summary = await runFleet({ fleetPath: fleet, input: { operation: "unenroll" }, concurrency: 8 });
    expect(summary).toMatchObject({ devices: 10, ok: 10, failed: 0, requests: 10 });
    for (const udid of udids) expect((await api("GET", `/api/v1/enrollments/${udid}`)).json().status).toBe("checked_out");
    const store = FleetStore.open(fleet);
    expect(store.stats().enrolled).toBe(0);
    store.close();
  });
});
