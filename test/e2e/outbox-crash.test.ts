// The transactional outbox, seen from outside: a replica that commits a change and is killed (SIGKILL) before
// any reaction to it has run loses none of them. The first replica runs no background work
// (ORCHARD_WORKERS=false), so every reaction is certainly still owed when it dies; a second replica, started
// after the kill, performs each one exactly once: the push a queued command owes (counted at the local APNs
// endpoint), the webhook deliveries of every event (counted at a receiver), and the effect of a result
// processor (the enrollment facts a DeviceInformation result updates, committed with the result itself).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../databases.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { buildContext } from "../../src/server/context.ts";
import { startApnsDev, type ApnsDev } from "../../src/push/apns-dev/apns-dev.ts";
import { issuePushCertificate } from "../../src/push/apns-dev/authority.ts";
import { createMdmBodySigner, type MdmBodySigner } from "../../src/pki/mdm-signature-sign.ts";
import { issueDeviceCertificate } from "../../src/pki/issue.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import { buildPlist, parsePlist, type PlistDict, type PlistInput } from "../../src/wire/plist.ts";
import { freePort } from "../../bench/lib/server-process.ts";
import { buildTestContext } from "../context.ts";
import { buildHttpApp } from "../../src/http/app.ts";
import { PUSH_JOB } from "../../src/push/push-dispatcher.ts";
import { WEBHOOK_JOB } from "../../src/events/webhooks.ts";
import { INVENTORY_UUID_PREFIX } from "../../src/manage/devices/inventory-collection.ts";

interface Replica {
  child: ChildProcess;
  url: string;
}

async function waitFor(check: () => Promise<boolean> | boolean, what: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describeEachDatabase("outbox: reactions survive a replica killed between commit and reaction", (database) => {
  let dataDir: string;
  let env: Record<string, string>;
  let apns: ApnsDev;
  let hooks: HttpServer;
  const deliveries: Array<{ id: string; event: string; body: Record<string, unknown> }> = [];
  let token: string;
  let sign: MdmBodySigner;
  let topic: string;
  let cleanupDb: () => Promise<void>;
  const replicas: ChildProcess[] = [];
  const udid = randomUUID().toUpperCase();
  const pushToken = randomBytes(32);

  async function startReplica(workers: boolean): Promise<Replica> {
    const port = await freePort();
    const child = spawn(process.execPath, [resolve("bin/orchard.js"), "serve"], {
      env: { ...process.env, ...env, ORCHARD_HTTP_PORT: String(port), ORCHARD_HTTPS_PORT: String(await freePort()), ORCHARD_WORKERS: String(workers) },
      stdio: ["ignore", "ignore", "inherit"],
    });
    replicas.push(child);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => {
      try {
        return (await fetch(`${url}/readyz`)).ok;
      } catch {
        return false;
      }
    }, "the replica to be ready", 60_000);
    return { child, url };
  }

  const device = async (r: Replica, path: string, message: PlistInput) => {
    const body = Buffer.from(buildPlist(message));
    const res = await fetch(`${r.url}${path}`, { method: "PUT", headers: { "mdm-signature": sign(body) }, body });
    return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
  };
  const api = async (r: Replica, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${r.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  // The activation also queues the device's inventory (its own commands, by CommandUUID prefix): counted apart.
  const isInventory = (d: (typeof deliveries)[number]) => d.event === "command.queued" && String((d.body.data as Record<string, unknown>).commandUuid).startsWith(INVENTORY_UUID_PREFIX);
  const count = (event: string) => deliveries.filter((d) => d.event === event && !isInventory(d)).length;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "orchard-outbox-"));
    apns = await startApnsDev({ devicePort: false });
    const caFile = join(dataDir, "apns-ca.pem");
    writeFileSync(caFile, apns.caPem);
    hooks = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        deliveries.push({ id: String(req.headers["x-orchard-delivery"]), event: String(req.headers["x-orchard-event"]), body: JSON.parse(body) as Record<string, unknown> });
        res.end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, "127.0.0.1", r));
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    env = {
      ORCHARD_DATA_DIR: dataDir,
      ORCHARD_DATABASE_URL: fresh.url,
      ORCHARD_MASTER_KEY: randomBytes(32).toString("base64"),
      ORCHARD_PUBLIC_URL: "http://127.0.0.1:1",
      ORCHARD_DEV: "true",
      ORCHARD_HOST: "127.0.0.1",
      ORCHARD_LOG_LEVEL: "warn",
      ORCHARD_APNS_URL: apns.url,
      ORCHARD_APNS_CA_FILE: caFile,
      ORCHARD_PUSH_THREADS: "0",
    };

    // Provisioned as an admin would, through the services: a push certificate, a webhook, a token, a device identity.
    const ctx = await buildContext({ ...loadConfig(env), logLevel: "silent" }, createLogger("silent"));
    try {
      const cert = await issuePushCertificate(apns.authority.ca);
      topic = cert.topic;
      await ctx.push.certificates.upload({ certificate: cert.certPem, privateKey: cert.keyPem }, "system:test");
      const port = (hooks.address() as { port: number }).port;
      await ctx.webhooks.create({ url: `http://127.0.0.1:${port}/hook`, events: [], format: "orchard" }, "system:test");
      token = (await ctx.tokens.create("outbox-test", "admin", "system:test")).token;
      const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
      sign = createMdmBodySigner(issueDeviceCertificate(ctx.credentials.ca, { subject: `CN=${udid}`, publicKey: key }), key);
    } finally {
      await ctx.store.close();
    }
  }, 120_000);

  afterAll(async () => {
    for (const c of replicas) c.kill("SIGKILL");
    hooks?.close();
    await apns?.close();
    await cleanupDb?.();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("performs every push, webhook and result reaction exactly once after a SIGKILL", async () => {
    // Replica A commits changes and dies before reacting to any of them.
    const a = await startReplica(false);
    expect((await device(a, "/mdm/checkin", { MessageType: "Authenticate", UDID: udid, Topic: topic, OSVersion: "17.0", ProductName: "iPhone15,2" })).status).toBe(200);
    expect((await device(a, "/mdm/checkin", { MessageType: "TokenUpdate", UDID: udid, Topic: topic, Token: pushToken, PushMagic: "magic" })).status).toBe(200);
    const queued = await api(a, "POST", "/commands", { targets: [udid], requestType: "DeviceInformation", params: { Queries: ["OSVersion", "IsSupervised"] } });
    expect(queued.status).toBe(201);
    const commandUuid = queued.json.commandUuid as string;
    const handed = await device(a, "/mdm/connect", { Status: "Idle", UDID: udid });
    expect((parsePlist(handed.body) as PlistDict).CommandUUID).toBe(commandUuid);
    const report = { Status: "Acknowledged", UDID: udid, CommandUUID: commandUuid, QueryResponses: { OSVersion: "99.1", IsSupervised: true } };
    expect((await device(a, "/mdm/connect", report)).status).toBe(200);

    const pushesBefore = apns.apns.pushes({ afterSeq: 0 }).length;
    a.child.kill("SIGKILL");
    await new Promise((r) => a.child.once("exit", r));
    // Nothing reacted yet: no push was sent, no webhook delivered.
    expect(pushesBefore).toBe(0);
    expect(deliveries).toHaveLength(0);

    // Replica B finds the work A recorded, and does it.
    const b = await startReplica(true);
    const expected = { "enrollment.authenticated": 1, "enrollment.activated": 1, "enrollment.token_updated": 1, "command.queued": 1, "command.completed": 1 };
    await waitFor(() => apns.apns.pushes({ afterSeq: 0 }).length >= 1 && deliveries.some(isInventory) && Object.entries(expected).every(([e, n]) => count(e) >= n), "the reactions on replica B");
    // Past a few job polls: nothing happens twice.
    await new Promise((r) => setTimeout(r, 2_500));
    const pushes = apns.apns.pushes({ afterSeq: 0 });
    // The admin command's push; the inventory's, queued on B by the activation's job, is a second one unless
    // it coalesced with the first (it does when the first is sent after the inventory was queued).
    expect(pushes.length).toBeGreaterThanOrEqual(1);
    expect(pushes.length).toBeLessThanOrEqual(2);
    for (const p of pushes) expect(p).toMatchObject({ status: 200, topic, token: pushToken.toString("hex") });
    for (const [event, n] of Object.entries(expected)) expect(count(event), event).toBe(n);
    // The activation's inventory collection, recorded by A, ran once on B: each planned command queued once.
    const inventory = deliveries.filter(isInventory).map((d) => (d.body.data as Record<string, unknown>).requestType);
    expect(inventory).toContain("DeviceInformation");
    expect(new Set(inventory).size).toBe(inventory.length);
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(deliveries.length);
    const completed = deliveries.find((d) => d.event === "command.completed")!.body.data as Record<string, unknown>;
    expect(completed).toMatchObject({ commandUuid, requestType: "DeviceInformation", enrollmentId: udid, status: "acknowledged" });

    // The result processor's effect was committed with the result, on A.
    const enrollment = await api(b, "GET", `/enrollments/${udid}`);
    expect(enrollment.json).toMatchObject({ osVersion: "99.1", supervised: true });
    b.child.kill("SIGKILL");
  }, 120_000);
});

describeEachDatabase("outbox: reactions are rows of the change's own transaction", (database) => {
  it("has every reaction in the database at commit, with nothing run in memory afterwards", async () => {
    const apns = await startApnsDev({ devicePort: false });
    const t = await buildTestContext(database);
    const app = await buildHttpApp(t.ctx);
    try {
      // A process that dies right after a commit runs nothing in memory: no bus event, no job.
      t.ctx.events.emit = () => {};
      const cert = await issuePushCertificate(apns.authority.ca);
      await t.ctx.push.certificates.upload({ certificate: cert.certPem, privateKey: cert.keyPem }, "system:test");
      await t.ctx.webhooks.create({ url: "http://127.0.0.1:9/hook", events: [], format: "orchard" }, "system:test");
      const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
      const udid = randomUUID().toUpperCase();
      const sign = createMdmBodySigner(issueDeviceCertificate(t.ctx.credentials.ca, { subject: `CN=${udid}`, publicKey: key }), key);
      await app.listen({ host: "127.0.0.1", port: 0 });
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const put = async (m: PlistInput) => {
        const body = Buffer.from(buildPlist(m));
        return (await fetch(`${url}/mdm/checkin`, { method: "PUT", headers: { "mdm-signature": sign(body) }, body })).status;
      };
      expect(await put({ MessageType: "Authenticate", UDID: udid, Topic: cert.topic })).toBe(200);
      expect(await put({ MessageType: "TokenUpdate", UDID: udid, Topic: cert.topic, Token: randomBytes(32), PushMagic: "m" })).toBe(200);
      await t.ctx.mdm.commands.queue("DeviceInformation", { Queries: ["OSVersion"] }, { targets: [udid], createdBy: "system:test" });

      const jobs = await t.ctx.store.db.selectFrom("jobs").select(["kind", "payload"]).execute();
      expect(jobs.filter((j) => j.kind === PUSH_JOB).map((j) => (JSON.parse(j.payload) as { ids: string[] }).ids)).toEqual([[udid]]);
      const events = jobs.filter((j) => j.kind === WEBHOOK_JOB).map((j) => (JSON.parse(j.payload) as { event: string }).event).sort();
      // device.enrolled: the devices module's reaction to the Authenticate, recorded in its transaction.
      expect(events).toEqual(["command.queued", "device.enrolled", "enrollment.activated", "enrollment.authenticated", "enrollment.token_updated"]);
      expect(await t.ctx.store.db.selectFrom("webhook_deliveries").select("id").execute()).toHaveLength(5);
    } finally {
      await app.close();
      await t.cleanup();
      await apns.close();
    }
  });

  it("rolls the reactions back with the change", async () => {
    const t = await buildTestContext(database);
    try {
      await t.ctx.webhooks.create({ url: "http://127.0.0.1:9/hook", events: [], format: "orchard" }, "system:test");
      await expect(
        t.ctx.store.transaction(async (tx) => {
          await t.ctx.outbox.record(tx, "enrollment.checked_out", { enrollmentId: "X", deviceId: "X" });
          throw new Error("the change failed");
        }),
      ).rejects.toThrow("the change failed");
      expect(await t.ctx.store.db.selectFrom("jobs").select("id").where("kind", "=", WEBHOOK_JOB).execute()).toEqual([]);
      expect(await t.ctx.store.db.selectFrom("webhook_deliveries").select("id").execute()).toEqual([]);
    } finally {
      await t.cleanup();
    }
  });
});
