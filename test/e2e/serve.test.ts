// `orchard serve` for real: HTTPS with Orchard's CA, the admin token file, restarts, and no secret in
// clear in the database or the logs.
import { execFile } from "node:child_process";
import { createPrivateKey, randomBytes, randomUUID, type KeyObject } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { request } from "node:https";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig, type OrchardConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { loadCredential } from "../../src/server/credential-store.ts";
import { describeEachDatabase, TEST_PG_URL } from "../databases.ts";
import { buildPlist, parsePlist, type PlistDict } from "../../src/wire/plist.ts";
import { signCms } from "../../src/pki/cms-signed-data.ts";
import { issueDeviceCertificate, type SigningIdentity } from "../../src/pki/issue.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import { parseCertificate } from "../../src/pki/certificate.ts";
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

/** The purpose push-certificates.ts seals a CSR's key under (not exported there). */
const PUSH_REQUEST_KEY_PURPOSE = "push-certificate-request.key";

interface Device {
  udid: string;
  identity: SigningIdentity;
}

/** The private part of a key (RSA's private exponent, EC's scalar), which nothing but the key holds. */
function privatePart(key: KeyObject): Buffer {
  return Buffer.from(key.export({ format: "jwk" }).d!, "base64url").subarray(0, 32);
}

/** The SCEP challenge in a configuration profile (plain or signed: the signed content is the plist's bytes). */
function challengeIn(profile: Uint8Array): Buffer {
  const m = /<key>Challenge<\/key>\s*<string>([^<]+)<\/string>/.exec(Buffer.from(profile).toString("latin1"));
  expect(m, "a SCEP challenge in the profile").not.toBeNull();
  return Buffer.from(m![1]!);
}

/**
 * The ways a secret shows in a database or a dump without being sealed: its bytes, hex (bytea), and base64 at
 * each of the three alignments it can have inside a longer base64 text (a plist's <data>, a PEM), standard and URL-safe.
 */
function clearForms(secret: Buffer): Buffer[] {
  const forms = [secret, Buffer.from(secret.toString("hex")), Buffer.from(secret.toString("hex").toUpperCase())];
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad), secret]).toString("base64");
    // Only the characters that depend on the secret's bits alone.
    const core = b64.slice(Math.ceil((pad * 8) / 6), Math.floor(((pad + secret.length) * 8) / 6));
    forms.push(Buffer.from(core), Buffer.from(core.replace(/\+/g, "-").replace(/\//g, "_")));
  }
  return forms;
}

describeEachDatabase("orchard serve", (database) => {
  let dataDir: string;
  let config: OrchardConfig;
  let server: RunningServer;
  let logs = "";
  let cleanupDb: () => Promise<void>;
  let schema: string | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "orchard-serve-"));
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    schema = fresh.schema;
    config = { ...loadConfig({ ORCHARD_DATA_DIR: dataDir, ORCHARD_PUBLIC_URL: "https://localhost:8443" }), databaseUrl: fresh.url, httpsPort: 0, httpPort: 0, host: "127.0.0.1" };
    const sink = new Writable({ write(chunk, _enc, cb) { logs += chunk.toString(); cb(); } });
    server = await startServer(config, { logger: createLogger("debug", sink) });
  });
  const deviceKey = generatePrivateKey({ type: "rsa", bits: 2048 });
  /** A device identity from Orchard's CA, issued for an enrollment profile (as SCEP would record it). */
  async function device(profileId: string): Promise<Device> {
    const udid = randomUUID().toUpperCase();
    const certDer = issueDeviceCertificate(server.ctx.credentials.ca, { subject: `CN=${udid}`, publicKey: await deviceKey });
    const c = parseCertificate(certDer);
    await server.ctx.store.db
      .insertInto("issued_certificates")
      .values({ serial: c.serialNumberHex, kind: "identity", subject: `CN=${udid}`, not_before: c.notBefore.getTime(), not_after: c.notAfter.getTime(), fingerprint: c.fingerprint, enrollment_id: null, enrollment_profile_id: profileId, revoked_at: null, created_at: Date.now() })
      .execute();
    return { udid, identity: { certDer, key: await deviceKey } };
  }

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

  it("keeps every secret it holds out of the database in clear (the whole SQLite file and WAL, a full pg_dump), and out of the logs", async () => {
    const ctx = server.ctx;
    const token = readFileSync(server.adminTokenFile!, "utf8").trim();
    const base = `http://127.0.0.1:${server.httpPort}`;
    const api = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${base}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: r.status, json: (await r.json()) as Record<string, unknown> };
    };
    const secrets: Array<[string, Buffer]> = [["API token", Buffer.from(token)]];

    // Keys: the CA's, the SCEP RA's, the TLS server's, the profile signer's, and a push certificate's.
    for (const name of ["ca", "scep-ra", "tls", "profile-signing"] as const) {
      const cred = await loadCredential(ctx, name);
      expect(cred, name).toBeDefined();
      secrets.push([`${name} private key`, privatePart(cred!.key)]);
    }
    expect((await api("POST", "/push-certificates/csr", { subject: "CN=Orchard test push,O=Example" })).status).toBe(201);
    const pushRequest = await ctx.store.db.selectFrom("push_certificate_requests").select("key_sealed").executeTakeFirstOrThrow();
    secrets.push(["push private key", privatePart(createPrivateKey({ key: ctx.secrets.open(pushRequest.key_sealed, PUSH_REQUEST_KEY_PURPOSE), format: "der", type: "pkcs8" }))]);

    // A webhook's signing secret (events no step of this test causes: nothing is sent).
    const hook = await api("POST", "/webhooks", { url: "https://hooks.example.invalid/orchard", events: ["command.completed"] });
    expect(hook.status).toBe(201);
    secrets.push(["webhook secret", Buffer.from(hook.json.secret as string)]);

    // An enrollment profile: its link token and its SCEP challenge, and a one-time challenge.
    const profile = await api("POST", "/enrollment-profiles", { name: `at-rest-${database.dialect}` });
    expect(profile.status).toBe(201);
    const profileId = profile.json.id as string;
    secrets.push(["enrollment link token", Buffer.from(/\/enroll\/([^/?#]+)$/.exec((profile.json.links as { enroll: string }).enroll)![1]!)]);
    const row = await ctx.enrollmentProfiles.rowIncludingDeleted(profileId);
    secrets.push(["enrollment profile's SCEP challenge", challengeIn(await ctx.enrollmentProfiles.mobileconfig(row!, { signed: false }))]);
    secrets.push(["one-time SCEP challenge", Buffer.from((await ctx.enrollmentProfiles.createChallenge({ profileId }, "system:test")).challenge)]);

    // Devices over the device routes: an iPhone escrows an UnlockToken, a Mac a bootstrap token.
    const unlockToken = randomBytes(48);
    const bootstrapToken = randomBytes(48);
    secrets.push(["UnlockToken", unlockToken], ["bootstrap token", bootstrapToken]);
    const phone = await device(profileId);
    const mac = await device(profileId);
    const put = async (d: Device, path: string, message: PlistDict) => {
      const body = Buffer.from(buildPlist({ UDID: d.udid, ...message }));
      const signature = Buffer.from(signCms(body, d.identity, { detached: true, digest: "sha256", certificates: [d.identity.certDer] })).toString("base64");
      const r = await fetch(`${base}${path}`, { method: "PUT", headers: { "mdm-signature": signature, ...(path === "/mdm/checkin" ? { "content-type": "application/x-apple-aspen-mdm-checkin" } : {}) }, body });
      expect(r.status, `${path} ${String(message.MessageType ?? message.Status)}`).toBe(200);
      return Buffer.from(await r.arrayBuffer());
    };
    const facts = (model: string, os: string) => ({ Topic: "com.apple.mgmt.test", DeviceName: "At rest", Model: model, ProductName: model, OSVersion: os, BuildVersion: "21E219", SerialNumber: `SN${randomBytes(4).toString("hex")}` });
    await put(phone, "/mdm/checkin", { MessageType: "Authenticate", ...facts("iPhone15,2", "17.4") });
    await put(phone, "/mdm/checkin", { MessageType: "TokenUpdate", Topic: "com.apple.mgmt.test", Token: randomBytes(32), PushMagic: randomUUID(), UnlockToken: unlockToken });
    await put(mac, "/mdm/checkin", { MessageType: "Authenticate", ...facts("Mac14,2", "14.4") });
    await put(mac, "/mdm/checkin", { MessageType: "TokenUpdate", Topic: "com.apple.mgmt.test", Token: randomBytes(32), PushMagic: randomUUID() });
    await put(mac, "/mdm/checkin", { MessageType: "SetBootstrapToken", Topic: "com.apple.mgmt.test", BootstrapToken: bootstrapToken });

    // Commands that carry secrets: ClearPasscode (the escrowed UnlockToken) and an identity renewal (an
    // InstallProfile whose profile holds a one-time SCEP challenge). The device is handed the renewal.
    expect((await api("POST", "/commands", { targets: [phone.udid], requestType: "ClearPasscode" })).status).toBe(201);
    const renewal = await ctx.identityRenewal.renewEnrollment(phone.udid, "system:test");
    expect(renewal.ok).toBe(true);
    const delivered = parsePlist(await put(phone, "/mdm/connect", { Status: "Idle" })) as PlistDict;
    const command = delivered.Command as PlistDict;
    expect(command.RequestType).toBe("InstallProfile");
    secrets.push(["renewal profile's SCEP challenge", challengeIn(command.Payload as Uint8Array)]);
    // The command view shows no body.
    const view = await api("GET", `/commands/${delivered.CommandUUID as string}`);
    expect(JSON.stringify(view.json)).not.toContain(Buffer.from(command.Payload as Uint8Array).toString("base64").slice(0, 40));

    // Everything the database holds, as bytes: the SQLite file and its WAL as they are, or a full dump.
    let dump: Buffer;
    if (database.dialect === "sqlite") {
      const file = config.databaseUrl.slice("sqlite:".length);
      dump = Buffer.concat([readFileSync(file), existsSync(`${file}-wal`) ? readFileSync(`${file}-wal`) : Buffer.alloc(0)]);
    } else {
      dump = (await run("pg_dump", [`--schema=${schema!}`, TEST_PG_URL!], { encoding: "buffer", maxBuffer: 256 * 1024 * 1024 })).stdout;
    }
    expect(dump.length).toBeGreaterThan(10_000);
    // Text forms are found across the line breaks plists and dumps put in base64 and escaped text.
    const flat = Buffer.from(dump.toString("latin1").replace(/\\[ntr]|[\s]/g, ""), "latin1");
    for (const [name, secret] of secrets) {
      for (const form of clearForms(secret)) {
        expect.soft(dump.includes(form) || flat.includes(form), `${name} is in the database in clear (as ${form.toString("latin1").slice(0, 20)}…)`).toBe(false);
      }
    }
    expect(logs.length).toBeGreaterThan(0);
    for (const [name, secret] of secrets) {
      for (const form of clearForms(secret).filter((f) => f.toString("utf8") === f.toString("latin1"))) expect(logs.includes(form.toString("latin1")), `${name} is in the logs`).toBe(false);
    }
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
