// Horizontal scaling: three `orchard serve` replicas on one PostgreSQL database behind a round-robin TCP load
// balancer, with the virtual fleet spread across them. Every command reaches every target exactly once, every
// result is stored, background jobs (webhook deliveries) run once, and when a replica is killed with SIGKILL in
// the middle of a command round the survivors finish it: a command in flight may be delivered again, as Apple's
// protocol allows, but none is lost.
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VirtualDevice } from "../../sim/device.ts";
import { freePort } from "../../bench/lib/server-process.ts";
import { TEST_PG_URL } from "../databases.ts";

interface Replica {
  child: ChildProcess;
  port: number;
  dataDir: string;
  alive: boolean;
}

/** Spreads each TCP connection over the live replicas, like a layer-4 load balancer. */
function loadBalancer(replicas: Replica[]): Server {
  let next = 0;
  return createServer((client: Socket) => {
    const live = replicas.filter((r) => r.alive);
    if (live.length === 0) return client.destroy();
    const target = live[next++ % live.length]!;
    const upstream = connect(target.port, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on("error", drop);
    client.on("error", drop);
    upstream.on("close", drop);
  });
}

const pgDescribe = TEST_PG_URL ? describe : describe.skip;

pgDescribe("three replicas on one database [postgres]", () => {
  const replicas: Replica[] = [];
  let lb: Server;
  let lbUrl: string;
  let dbName: string;
  let token: string;
  let hooks: HttpServer;
  const deliveries: Array<{ id: string; event: string }> = [];
  const devices: VirtualDevice[] = [];
  const keys = Array.from({ length: 4 }, () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey);

  async function api(method: string, path: string, body?: unknown) {
    const r = await fetch(`${lbUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> & { targets?: Array<{ enrollmentId: string; status: string }> } };
  }

  async function connectWithRetry(d: VirtualDevice, attempts = 6): Promise<string[]> {
    const seen: string[] = [];
    for (let i = 0; i < attempts; i++) {
      try {
        const s = await d.mdm.connect();
        seen.push(...s.commands.map((c) => c.commandUuid));
        return seen;
      } catch {
        // The replica behind this connection died: a real device retries later, through the load balancer.
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new Error(`device ${d.udid} could not finish its connect`);
  }

  beforeAll(async () => {
    const base = new URL(TEST_PG_URL!);
    dbName = `orchard_rep_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    base.pathname = `/${dbName}`;
    const lbPort = await freePort();
    lbUrl = `http://127.0.0.1:${lbPort}`;
    const masterKey = randomBytes(32).toString("base64");
    for (let i = 0; i < 3; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), `orchard-rep${i}-`));
      const [port, httpsPort] = [await freePort(), await freePort()];
      const child = spawn(process.execPath, [resolve("bin/orchard.js"), "serve"], {
        env: {
          ...process.env,
          ORCHARD_DATA_DIR: dataDir,
          ORCHARD_DATABASE_URL: base.toString(),
          ORCHARD_MASTER_KEY: masterKey,
          ORCHARD_PUBLIC_URL: lbUrl,
          ORCHARD_DEV: "true",
          ORCHARD_HOST: "127.0.0.1",
          ORCHARD_HTTP_PORT: String(port),
          ORCHARD_HTTPS_PORT: String(httpsPort),
          ORCHARD_LOG_LEVEL: "warn",
          // The round counts each command.completed delivery: no inventory commands at enrollment.
          ORCHARD_INVENTORY_ON_ENROLL: "false",
        },
        stdio: ["ignore", "ignore", "inherit"],
      });
      replicas.push({ child, port, dataDir, alive: true });
    }
    // All three start at once: migrations, the CA and the admin token are created by whoever gets there first.
    for (const r of replicas) {
      for (let i = 0; i < 300; i++) {
        try {
          if ((await fetch(`http://127.0.0.1:${r.port}/readyz`)).ok) break;
        } catch {
          // starting
        }
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    lb = loadBalancer(replicas);
    await new Promise<void>((res) => lb.listen(lbPort, "127.0.0.1", res));
    token = replicas.map((r) => join(r.dataDir, "admin-token")).filter(existsSync).map((f) => readFileSync(f, "utf8").trim())[0]!;

    hooks = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        deliveries.push({ id: String(req.headers["x-orchard-delivery"]), event: String(req.headers["x-orchard-event"]) });
        res.end();
      });
    });
    await new Promise<void>((res) => hooks.listen(0, "127.0.0.1", res));
  }, 120_000);

  afterAll(async () => {
    lb?.close();
    hooks?.close();
    for (const r of replicas) {
      r.child.kill("SIGKILL");
      rmSync(r.dataDir, { recursive: true, force: true });
    }
    await new Promise((res) => setTimeout(res, 300));
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  });

  it("starts three replicas that share one CA and one set of tokens", async () => {
    expect(token).toMatch(/^orch_/);
    const cas = await Promise.all(replicas.map(async (r) => Buffer.from(await (await fetch(`http://127.0.0.1:${r.port}/scep?operation=GetCACert`)).arrayBuffer()).toString("base64")));
    expect(new Set(cas).size).toBe(1);
    for (const r of replicas) expect((await fetch(`http://127.0.0.1:${r.port}/api/v1/tokens`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it("enrolls a fleet across the replicas and delivers a command round exactly once per target", async () => {
    const hook = await api("POST", "/api/v1/webhooks", { url: `http://127.0.0.1:${(hooks.address() as { port: number }).port}/`, events: ["command.completed"] });
    expect(hook.status).toBe(201);
    const profile = await api("POST", "/api/v1/enrollment-profiles", { name: "replicas" });
    const file = new Uint8Array(await (await fetch(`${(profile.json.links as { enroll: string }).enroll}`)).arrayBuffer());
    let k = 0;
    for (let i = 0; i < 24; i++) devices.push(VirtualDevice.create({ platform: i % 3 === 0 ? "macOS" : "iOS", seed: `replica-${i}` }, { keyProvider: async () => keys[k++ % keys.length]!, historySize: 20 }));
    for (let i = 0; i < devices.length; i += 6) await Promise.all(devices.slice(i, i + 6).map((d) => d.enroll(file)));

    const cmd = await api("POST", "/api/v1/commands", { targets: devices.map((d) => d.udid), requestType: "DeviceInformation", params: { Queries: ["SerialNumber"] } });
    expect(cmd.json.targets).toBe(devices.length);
    const received = (await Promise.all(devices.map((d) => connectWithRetry(d)))).flat();
    expect(received.filter((u) => u === cmd.json.commandUuid)).toHaveLength(devices.length);
    const status = await api("GET", `/api/v1/commands/${cmd.json.commandUuid as string}`);
    expect(status.json.targets!.every((t) => t.status === "acknowledged")).toBe(true);

    // Webhook deliveries are jobs: each result is delivered once, whichever replica stored it and whichever ran the job.
    for (let i = 0; i < 100 && deliveries.length < devices.length; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1500));
    expect(deliveries.filter((d) => d.event === "command.completed")).toHaveLength(devices.length);
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(deliveries.length);
  }, 120_000);

  it("finishes a command round when a replica is killed in the middle of it, losing nothing", async () => {
    const cmd = await api("POST", "/api/v1/commands", { targets: devices.map((d) => d.udid), requestType: "ProfileList" });
    const uuid = cmd.json.commandUuid as string;
    let done = 0;
    const victim = replicas[1]!;
    await Promise.all(
      devices.map(async (d, i) => {
        await new Promise((r) => setTimeout(r, i * 15));
        await connectWithRetry(d);
        done++;
        if (done === Math.floor(devices.length / 3) && victim.alive) {
          victim.alive = false;
          victim.child.kill("SIGKILL");
        }
      }),
    );
    expect(victim.alive).toBe(false);
    // Delivered at least once to everyone (twice only for a command in flight at the kill). Counted from what each
    // device executed, not from what its connect returned: a connect whose last answer died with the replica throws
    // after the device has already run the command and its result may already be stored.
    for (const d of devices) expect(d.mdm.processed.filter((p) => p.commandUuid === uuid).length, d.udid).toBeGreaterThanOrEqual(1);
    // A device whose answer was lost with the replica gets the command again at its next Idle.
    for (const d of devices) await connectWithRetry(d);
    const status = await api("GET", `/api/v1/commands/${uuid}`);
    expect(status.json.targets!.filter((t) => t.status !== "acknowledged")).toEqual([]);
    expect(status.json.targets).toHaveLength(devices.length);
  }, 120_000);
});
