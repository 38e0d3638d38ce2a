// A virtual device enrolls the way a person would: it downloads the enrollment link over HTTPS, installs the
// signed .mobileconfig (root CA, SCEP identity, MDM payload), checks in and runs commands. Then its identity
// nears expiry and the renewal job re-sends the profile: the device renews in place and keeps its queue.
import { request } from "node:https";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { enqueueJob } from "../../src/store/jobs.ts";
import { VirtualDevice } from "../../sim/device.ts";
import type { ConnectSummary } from "../../sim/mdm-client.ts";
import { INVENTORY_UUID_PREFIX } from "../../src/manage/devices/inventory-collection.ts";
import { freePort } from "../../bench/lib/server-process.ts";
import { describeEachDatabase } from "../databases.ts";

/** The commands of a session other than inventory collection's (queued at activation, whenever its job runs). */
function adminCommands(summary: ConnectSummary): Array<[string, string]> {
  return summary.commands.filter((c) => !c.commandUuid.startsWith(INVENTORY_UUID_PREFIX)).map((c) => [c.requestType, c.status]);
}

function download(url: string, ca: string): Promise<{ status: number; type: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body: Buffer.concat(chunks) }));
    })
      .on("error", reject)
      .end();
  });
}

describeEachDatabase("enrollment through the download link, and identity renewal", (database) => {
  let server: RunningServer;
  let dir: string;
  let cleanupDb: () => Promise<void>;
  let auth: Record<string, string>;

  const api = (method: string, url: string, payload?: object) => server.app.inject({ method: method as "GET", url, headers: auth, ...(payload ? { payload } : {}) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orchard-flow-"));
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    const port = await freePort();
    const config = { ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_PUBLIC_URL: `https://localhost:${port}` }), databaseUrl: fresh.url, httpsPort: port, host: "127.0.0.1" };
    server = await startServer(config, { logger: createLogger("silent") });
    auth = { authorization: `Bearer ${(await server.ctx.tokens.create("t", "admin", "system:test")).token}` };
  });
  afterAll(async () => {
    await server.stop();
    await cleanupDb();
    rmSync(dir, { recursive: true, force: true });
  });

  it("enrolls an iPhone from the link, runs commands, then renews its identity without losing queued work", async () => {
    const profile = (await api("POST", "/api/v1/enrollment-profiles", { name: "Staff iPhones", userAffinity: "user", ownership: "corporate" })).json();
    const file = await download(profile.links.enroll, server.caPem);
    expect(file.status).toBe(200);
    expect(file.type).toBe("application/x-apple-aspen-config");

    const device = VirtualDevice.create({ platform: "iOS", supervised: true, seed: `flow-${database.dialect}` });
    await device.enroll(new Uint8Array(file.body), { trust: [server.caPem] });
    const udid = device.udid;

    const enrollment = (await api("GET", `/api/v1/enrollments/${udid}`)).json();
    expect(enrollment).toMatchObject({ status: "active", enrollmentProfileId: profile.id, platform: expect.stringMatching(/iOS|iPadOS/) });
    const listed = (await api("GET", `/api/v1/enrollment-profiles/${profile.id}/devices`)).json();
    expect(listed.enrollments).toEqual([expect.objectContaining({ id: udid, ownership: "corporate", userAffinity: "user" })]);
    const firstFingerprint = enrollment.certificateFingerprint as string;

    const info = (await api("POST", "/api/v1/commands", { targets: [udid], requestType: "DeviceInformation", params: { Queries: ["SerialNumber", "OSVersion", "IsSupervised"] } })).json();
    const summary = await device.mdm.connect();
    expect(adminCommands(summary)).toEqual([["DeviceInformation", "Acknowledged"]]);
    const result = (await api("GET", `/api/v1/commands/${info.commandUuid}`)).json().targets[0];
    expect(result).toMatchObject({ status: "acknowledged", result: { QueryResponses: { SerialNumber: device.state.serialNumber } } });

    // ClearPasscode: Orchard fills in the UnlockToken the device escrowed at TokenUpdate, one device at a time.
    expect((await api("POST", "/api/v1/commands", { targets: [udid, "other"], requestType: "ClearPasscode" })).statusCode).toBe(400);
    const clear = await api("POST", "/api/v1/commands", { targets: [udid], requestType: "ClearPasscode" });
    expect(clear.statusCode, clear.body).toBe(201);
    expect(adminCommands(await device.mdm.connect())).toEqual([["ClearPasscode", "Acknowledged"]]);

    // Work queued before the renewal must survive it.
    const pending = (await api("POST", "/api/v1/commands", { targets: [udid], requestType: "ProfileList" })).json();
    // The identity now expires within the renewal window.
    await server.ctx.store.db.updateTable("issued_certificates").set({ not_after: Date.now() + 10 * 86_400_000 }).where("fingerprint", "=", firstFingerprint).execute();
    await enqueueJob(server.ctx.store, { kind: "identity.renew", payload: {} });
    await server.ctx.jobs.runDue();

    const renewal = await device.mdm.connect();
    expect(adminCommands(renewal)).toEqual([
      ["InstallProfile", "Acknowledged"],
      ["ProfileList", "Acknowledged"],
    ]);
    const after = (await api("GET", `/api/v1/enrollments/${udid}`)).json();
    expect(after.status).toBe("active");
    expect(after.certificateFingerprint).not.toBe(firstFingerprint);
    expect((await api("GET", `/api/v1/commands/${pending.commandUuid}`)).json().targets[0].status).toBe("acknowledged");
    const certs = (await api("GET", "/api/v1/certificates?expiringWithinDays=400")).json().certificates as Array<{ fingerprint: string; enrollmentId: string }>;
    expect(certs.find((c) => c.fingerprint === after.certificateFingerprint)?.enrollmentId).toBe(udid);
    // Renewal is not queued twice while one is on its way, and the device keeps working with its new identity.
    await enqueueJob(server.ctx.store, { kind: "identity.renew", payload: {} });
    await server.ctx.jobs.runDue();
    expect((await device.mdm.connect()).commands).toEqual([]);
  });
});
