// `orchard serve` for real: HTTPS with Orchard's CA, the admin token file, restarts, and no secret in
// clear in the database or the logs.
import { execFile } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { request } from "node:https";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig, type OrchardConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { loadCredential } from "../../src/server/credential-store.ts";
import { describeEachDatabase } from "../databases.ts";
import { orchard } from "../cli.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const run = promisify(execFile);

function get(port: number, path: string, ca: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, ca, servername: "localhost", headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describeEachDatabase("orchard serve", (database) => {
  let dataDir: string;
  let config: OrchardConfig;
  let server: RunningServer;
  let logs = "";
  let cleanupDb: () => Promise<void>;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "orchard-serve-"));
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    config = { ...loadConfig({ ORCHARD_DATA_DIR: dataDir, ORCHARD_PUBLIC_URL: "https://localhost:8443" }), databaseUrl: fresh.url, httpsPort: 0, httpPort: 0, host: "127.0.0.1" };
    const sink = new Writable({ write(chunk, _enc, cb) { logs += chunk.toString(); cb(); } });
    server = await startServer(config, { logger: createLogger("debug", sink) });
  });
  afterAll(async () => {
    await server?.stop();
    await cleanupDb();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("serves health over HTTPS with a certificate from Orchard's CA, and plain HTTP when asked", async () => {
    // The CA certificate a client needs to trust the server is in the data folder.
    expect(server.caFile).toBe(join(dataDir, "ca.pem"));
    expect((await get(server.httpsPort, "/healthz", readFileSync(server.caFile, "utf8"))).status).toBe(200);
    expect((await get(server.httpsPort, "/readyz", server.caPem)).status).toBe(200);
    const plain = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`);
    expect(plain.status).toBe(200);
    // Behind a load balancer (TLS terminated there), idle connections must outlive its usual 60 s idle timeout.
    expect(plain.headers.get("keep-alive")).toBe("timeout=72");
    const metrics = await get(server.httpsPort, "/metrics", server.caPem);
    expect(metrics.body).toContain('orchard_http_requests_total{method="GET",route="/healthz",status="200"}');
  });

  it("writes the initial admin token to a 0600 file, and it works on the API", async () => {
    expect(server.adminTokenFile).toBe(join(dataDir, "admin-token"));
    expect(statSync(server.adminTokenFile!).mode & 0o777).toBe(0o600);
    const token = readFileSync(server.adminTokenFile!, "utf8").trim();
    expect((await get(server.httpsPort, "/api/v1/tokens", server.caPem)).status).toBe(401);
    const ok = await get(server.httpsPort, "/api/v1/tokens", server.caPem, token);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).tokens[0].name).toBe("initial-admin");
  });

  it("keeps private keys and API tokens out of the database in clear, and out of the logs", async () => {
    const token = readFileSync(server.adminTokenFile!, "utf8").trim();
    const ca = await loadCredential(server.ctx, "ca");
    const caKeyDer = Buffer.from(ca!.key.export({ format: "der", type: "pkcs8" }));
    const caKeyPemBody = ca!.key.export({ format: "pem", type: "pkcs8" }).toString().split("\n")[1]!;
    // Everything the database holds, as bytes.
    let dump: Buffer;
    if (database.dialect === "sqlite") {
      server.ctx.store.sqlite!.pragma("wal_checkpoint(TRUNCATE)");
      dump = readFileSync(config.databaseUrl.slice("sqlite:".length));
    } else {
      const parts: Buffer[] = [];
      for (const table of ["api_tokens", "pki_credentials", "audit_log"] as const) {
        const rows = await server.ctx.store.db.selectFrom(table).selectAll().execute();
        for (const row of rows) for (const v of Object.values(row)) parts.push(v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v)));
      }
      dump = Buffer.concat(parts);
      expect(dump.length).toBeGreaterThan(1000);
    }
    expect(dump.includes(caKeyDer.subarray(0, 64))).toBe(false);
    expect(dump.includes(Buffer.from(caKeyPemBody))).toBe(false);
    expect(dump.includes(Buffer.from(token))).toBe(false);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(caKeyPemBody);
  });

  it("applies no migration twice on restart and keeps its CA", async () => {
    const caBefore = server.caPem;
    await server.stop();
    let restartLogs = "";
    const sink = new Writable({ write(chunk, _enc, cb) { restartLogs += chunk.toString(); cb(); } });
    server = await startServer(config, { logger: createLogger("info", sink) });
    expect(restartLogs).not.toContain("database migrations applied");
    expect(server.caPem).toBe(caBefore);
    expect((await get(server.httpsPort, "/healthz", server.caPem)).status).toBe(200);
  });
});

it("refuses to start on a bad setting with one line naming it", async () => {
  const err = await run("node", ["bin/orchard.js", "serve"], { env: { ...process.env, ORCHARD_HTTPS_PORT: "abc" } }).catch((e: { code: number; stderr: string }) => e);
  expect((err as { code: number }).code).not.toBe(0);
  const stderr = (err as { stderr: string }).stderr.trim();
  expect(stderr.split("\n")).toHaveLength(1);
  expect(stderr).toContain("ORCHARD_HTTPS_PORT");
  expect(stderr).toContain("abc");
});

it("drains in-flight requests and exits cleanly on SIGTERM", async () => {
  const { spawn } = await import("node:child_process");
  const dir = mkdtempSync(join(tmpdir(), "orchard-sigterm-"));
  const { freePort } = await import("../../bench/lib/server-process.ts");
  const [http, https] = [await freePort(), await freePort()];
  const child = spawn("node", ["bin/orchard.js", "serve"], { env: { ...process.env, ORCHARD_DATA_DIR: dir, ORCHARD_HTTP_PORT: String(http), ORCHARD_HTTPS_PORT: String(https), ORCHARD_HOST: "127.0.0.1", ORCHARD_LOG_LEVEL: "info", ORCHARD_LISTEN_PORT: "9443" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  for (let i = 0; i < 100 && !out.includes("Orchard is running"); i++) await new Promise((r) => setTimeout(r, 100));
  expect(out).toContain("Admin token file");
  // A variable that is no setting (here a guess at the port's name) is named, not silently ignored.
  expect(out).toMatch(/"variable":"ORCHARD_LISTEN_PORT".*no setting/);
  // …and said first, before the startup lines and the banner, where the operator reads it.
  expect(out.split("\n")[0]).toContain('"variable":"ORCHARD_LISTEN_PORT"');
  expect(out).toContain(`"msg":"Server listening at https://127.0.0.1:${https}"`);
  expect(out).toMatch(/Enrollment URL: +https:\/\/\S+\/enroll\/[A-Za-z0-9_-]{20,}/);
  const token = readFileSync(join(dir, "admin-token"), "utf8").trim();
  // The token itself, not a token-like pattern: the host name and temporary paths printed beside it are the CI
  // machine's and may look like anything.
  expect(out).not.toContain(token);
  // A request in flight when the signal arrives still gets its answer: its headers and half its body are sent
  // before SIGTERM, the rest after.
  const { request } = await import("node:http");
  const body = JSON.stringify({ name: "late", role: "readonly" });
  const answer = new Promise<number>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: http, method: "POST", path: "/api/v1/tokens", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.write(body.slice(0, 10));
    setTimeout(() => {
      child.kill("SIGTERM");
      setTimeout(() => req.end(body.slice(10)), 300);
    }, 500);
  });
  expect(await answer).toBe(201);
  expect(await exited).toBe(0);
  expect(out).toContain("stopped");
  rmSync(dir, { recursive: true, force: true });
});

// In-process (test/cli.ts): five child processes with tsx each took ~12 s and timed out on a loaded machine.
it("manages tokens from the CLI: create, list, revoke", async () => {
  const dir = mkdtempSync(join(tmpdir(), "orchard-cli-"));
  const env = { ORCHARD_DATA_DIR: dir, ORCHARD_LOG_LEVEL: "silent" };
  const ok = async (args: string[], e: Record<string, string> = env) => {
    const r = await orchard(args, e);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    return r.stdout;
  };
  const created = JSON.parse(await ok(["token", "create", "--name", "ci", "--role", "readonly", "--json"]));
  expect(created).toMatchObject({ name: "ci", role: "readonly", token: expect.stringMatching(/^orch_/) });
  const listed = JSON.parse(await ok(["token", "list", "--json"]));
  expect(listed.map((t: { name: string }) => t.name)).toEqual(["ci"]);
  expect(JSON.stringify(listed)).not.toContain(created.token);
  await ok(["token", "revoke", "ci"]);
  const after = JSON.parse(await ok(["token", "list", "--json"]));
  expect(after[0].revokedAt).not.toBeNull();
  const bad = await orchard(["token", "create", "--name", "x", "--role", "root"], env);
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain("--role");
  const cfg = await ok(["config"], { ...env, ORCHARD_MASTER_KEY: Buffer.alloc(32, 1).toString("base64"), ORCHARD_DATABASE_URL: "postgres://u:hunter2@db/x" });
  expect(cfg).toContain("ORCHARD_HTTPS_PORT");
  expect(cfg).not.toContain("hunter2");
  expect(cfg).not.toContain(Buffer.alloc(32, 1).toString("base64"));
  rmSync(dir, { recursive: true, force: true });
});
