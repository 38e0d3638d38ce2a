// Push end to end over real HTTP and HTTP/2: a push certificate issued by a test CA is uploaded through the
// admin API, commands are queued through the admin API, Orchard pushes through its APNs client to the local
// APNs endpoint (TLS client-certificate auth), and a device woken by the push connects (Mdm-Signature) and
// answers. Covers coalescing, 410, 429 backoff, a killed connection, the re-push sweep and the topic rules,
// on SQLite and PostgreSQL.
import { createPrivateKey, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../databases.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { startApnsDev, type ApnsDev } from "../../src/push/apns-dev/apns-dev.ts";
import { issuePushCertificate, type IssuedPushCertificate } from "../../src/push/apns-dev/authority.ts";
import type { LocalPush } from "../../src/push/apns-dev/local-apns.ts";
import { createCa } from "../../src/pki/ca.ts";
import { buildCertificate, issueDeviceCertificate, type SigningIdentity } from "../../src/pki/issue.ts";
import { parseCsr } from "../../src/pki/csr.ts";
import { basicConstraints, extendedKeyUsage } from "../../src/pki/extensions.ts";
import { OID } from "../../src/pki/oids.ts";
import { UID_OID } from "../../src/push/push-certificate.ts";
import { PUSH_KEY_PURPOSE } from "../../src/push/push-certificates.ts";
import { dueRetriesQuery } from "../../src/store/push-state.ts";
import { SecretBox } from "../../src/secrets/envelope.ts";
import { parseKeyring } from "../../src/secrets/keyring.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import { signCms } from "../../src/pki/cms-signed-data.ts";
import { certificateFingerprint, derToPem, pemToDer } from "../../src/pki/pem.ts";
import { buildPlist, parsePlist, type PlistDict } from "../../src/wire/plist.ts";

const DAY = 86_400_000;
const RETRY_BASE_MS = 150;

interface Device {
  udid: string;
  identity: SigningIdentity;
  token: string;
  magic: string;
  topic: string;
  answered: string[];
  connects: number;
  /** The connection session in progress, if any. */
  busy?: Promise<void>;
  error?: unknown;
  stop?: () => void;
}

describeEachDatabase("push over HTTP/2 to the local APNs endpoint", (database) => {
  let dir: string;
  let server: RunningServer;
  let dev: ApnsDev;
  let base: string;
  let auth: Record<string, string>;
  let cleanupDb: () => Promise<void>;
  let testCa: SigningIdentity;
  let pushCert: IssuedPushCertificate;
  const keyPromise = generatePrivateKey({ type: "rsa", bits: 2048 });
  const masterKey = randomBytes(32).toString("base64");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orchard-push-e2e-"));
    testCa = await createCa({ subject: "CN=Test Apple Push CA" });
    pushCert = await issuePushCertificate(testCa);
    dev = await startApnsDev({ devicePort: 0, trustedCaPem: [derToPem(testCa.certDer)] });
    writeFileSync(join(dir, "apns-ca.pem"), dev.caPem);
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    const config = {
      ...loadConfig({ ORCHARD_DATA_DIR: join(dir, "data"), ORCHARD_MASTER_KEY: masterKey, ORCHARD_PUBLIC_URL: "https://orchard.test:8443" }),
      databaseUrl: fresh.url,
      httpsPort: 0,
      httpPort: 0,
      host: "127.0.0.1",
      logLevel: "silent" as const,
      apnsUrl: dev.url,
      apnsCaFile: join(dir, "apns-ca.pem"),
      apnsExpirationSeconds: 3600,
      // Wide enough that a burst of API calls lands in one window even on a loaded machine.
      pushCoalesceMs: 300,
      pushRetryBaseMs: RETRY_BASE_MS,
      // These tests count and time each push: no inventory collection (and its pushes) at enrollment.
      inventoryOnEnroll: false,
    };
    server = await startServer(config, { logger: createLogger("silent") });
    base = `http://127.0.0.1:${server.httpPort}`;
    auth = { authorization: `Bearer ${readFileSync(server.adminTokenFile!, "utf8").trim()}`, "content-type": "application/json" };
  });
  afterAll(async () => {
    await server?.stop();
    await dev?.close();
    await cleanupDb?.();
    rmSync(dir, { recursive: true, force: true });
  });

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const r = await fetch(`${base}/api/v1${path}`, { method, headers: auth, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await r.text();
    return { status: r.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  async function put(d: Device, path: string, message: PlistDict): Promise<{ status: number; body: Buffer }> {
    const body = Buffer.from(buildPlist(message), "utf8");
    const sig = Buffer.from(signCms(body, d.identity, { detached: true, certificates: [d.identity.certDer] })).toString("base64");
    const r = await fetch(`${base}${path}`, { method: "PUT", headers: { "mdm-signature": sig, "content-type": path.endsWith("checkin") ? "application/x-apple-aspen-mdm-checkin" : "application/xml" }, body });
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
  }

  async function enroll(topic = pushCert.topic): Promise<Device> {
    const udid = randomUUID().toUpperCase();
    const identity = { certDer: issueDeviceCertificate(server.ctx.credentials.ca, { subject: `CN=${udid}`, publicKey: await keyPromise }), key: await keyPromise };
    const d: Device = { udid, identity, token: randomBytes(32).toString("hex"), magic: randomUUID().toUpperCase(), topic, answered: [], connects: 0 };
    expect((await put(d, "/mdm/checkin", { MessageType: "Authenticate", UDID: udid, Topic: topic, Model: "iPhone15,2", ProductName: "iPhone15,2", OSVersion: "17.4", SerialNumber: `SN${udid.slice(0, 8)}` })).status).toBe(200);
    await tokenUpdate(d);
    return d;
  }

  async function tokenUpdate(d: Device): Promise<void> {
    expect((await put(d, "/mdm/checkin", { MessageType: "TokenUpdate", UDID: d.udid, Topic: d.topic, Token: new Uint8Array(Buffer.from(d.token, "hex")), PushMagic: d.magic })).status).toBe(200);
  }

  /** What a device does when woken: check the PushMagic, connect, run every command, stop at the empty answer. */
  async function session(d: Device): Promise<void> {
    d.connects++;
    let r = await put(d, "/mdm/connect", { UDID: d.udid, Status: "Idle" });
    while (r.status === 200 && r.body.length > 0) {
      const cmd = parsePlist(r.body) as PlistDict;
      const uuid = cmd.CommandUUID as string;
      r = await put(d, "/mdm/connect", { UDID: d.udid, Status: "Acknowledged", CommandUUID: uuid });
      d.answered.push(uuid);
    }
    expect(r.status).toBe(200);
  }

  /** Subscribes the device to the local APNs endpoint like a real device holds its APNs connection. */
  function online(d: Device): void {
    d.stop = dev.apns.subscribe(d.token, (p) => {
      if (p.pushMagic !== d.magic || p.topic !== d.topic) return;
      const tracked: Promise<void> = (d.busy ?? Promise.resolve())
        .then(() => session(d))
        .catch((err: unknown) => void (d.error = err))
        .finally(() => {
          if (d.busy === tracked) d.busy = undefined;
        });
      d.busy = tracked;
    });
  }

  async function queue(d: Device, requestType = "ProfileList", params: Record<string, unknown> = {}): Promise<string> {
    const r = await api("POST", "/commands", { targets: [d.udid], requestType, params });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    return r.json.commandUuid as string;
  }

  async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, timeoutMs = 8000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await f();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  const pushesTo = (d: Device, status?: number): LocalPush[] => dev.apns.pushes({ token: d.token, ...(status === undefined ? {} : { status }) });
  const pushState = async (d: Device) => (await api("GET", `/enrollments/${d.udid}`)).json.push as { topic: string; tokenInvalidAt: string | null; lastPushAt: string | null; lastPushResult: string | null };
  const settle = (ms = 700) => new Promise((r) => setTimeout(r, ms));

  it("refuses an expired push certificate at upload, with a clear message", async () => {
    const expired = await issuePushCertificate(testCa, { notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
    const r = await api("PUT", "/push-certificates", { certificate: expired.certPem, privateKey: expired.keyPem });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: "invalid_push_certificate", details: { problem: "expired" } });
    expect((r.json.error as { message: string }).message).toMatch(/expired on .* renew it/);
    expect((await api("GET", "/push-certificates")).json).toEqual({ activeTopic: null, certificates: [] });
  });

  it("uploads a push certificate issued by a test CA: the answer has the topic, the key is sealed, profiles carry the topic", async () => {
    const r = await api("PUT", "/push-certificates", { certificate: pushCert.certPem, privateKey: pushCert.keyPem });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json).toMatchObject({ kind: "first", previousTopic: null, certificate: { topic: pushCert.topic, active: true, expiringSoon: false, warning: null, fingerprint: certificateFingerprint(pemToDer(pushCert.certPem)) } });
    // The raw row, read past the push service: what a database dump would show.
    const row = await server.ctx.store.db.selectFrom("push_certificates").select(["key_sealed"]).where("topic", "=", pushCert.topic).executeTakeFirstOrThrow();
    const stored = Buffer.from(row.key_sealed);
    const keyDer = createPrivateKey(pushCert.keyPem).export({ format: "der", type: "pkcs8" });
    const pemBody = pushCert.keyPem.replace(/-----[^-]+-----|\s/g, "");
    expect(stored.includes(keyDer)).toBe(false);
    expect(stored.includes(Buffer.from(pemBody.slice(0, 64)))).toBe(false);
    // A keyring built from the master key alone (not the server's) opens it to exactly the uploaded key.
    const keyring = new SecretBox(parseKeyring(masterKey, "test master key"));
    expect(keyring.open(stored, PUSH_KEY_PURPOSE).equals(keyDer)).toBe(true);
    const profile = await api("POST", "/enrollment-profiles", { name: `push-${database.dialect}` });
    expect(profile.status, JSON.stringify(profile.json)).toBe(201);
    expect(profile.json).toMatchObject({ topic: pushCert.topic, deliverable: true });
  });

  it("pushes once per queued command with Apple's headers and body; the woken device connects and acknowledges", async () => {
    const d = await enroll();
    online(d);
    const before = Math.floor(Date.now() / 1000);
    const uuid = await queue(d, "DeviceInformation", { Queries: ["OSVersion", "SerialNumber"] });
    await until("the device to acknowledge", () => d.answered.includes(uuid));
    const pushes = pushesTo(d);
    expect(pushes).toHaveLength(1);
    const p = pushes[0]!;
    expect(p).toMatchObject({ status: 200, token: d.token, topic: pushCert.topic, pushMagic: d.magic, body: JSON.stringify({ mdm: d.magic }) });
    expect(p.headers).toMatchObject({ "apns-push-type": "mdm", "apns-topic": pushCert.topic, "apns-priority": "10" });
    expect(Number(p.headers["apns-expiration"])).toBeGreaterThanOrEqual(before + 3600);
    expect(Number(p.headers["apns-expiration"])).toBeLessThan(before + 3600 + 30);
    expect(p.certificateFingerprint).toBe(certificateFingerprint(pemToDer(pushCert.certPem)));
    const status = await api("GET", `/commands/${uuid}`);
    expect((status.json.targets as Array<{ status: string }>)[0]!.status).toBe("acknowledged");
    expect(await until("the outcome to be recorded", async () => ((await pushState(d)).lastPushResult === "ok" ? pushState(d) : undefined))).toMatchObject({ lastPushResult: "ok", tokenInvalidAt: null });
    await settle();
    expect(pushesTo(d)).toHaveLength(1);
    d.stop?.();
  });

  it("coalesces a burst of commands to one device into one push, and the device receives them all", async () => {
    const d = await enroll();
    online(d);
    const first = await Promise.all(Array.from({ length: 5 }, () => queue(d)));
    // The job runner's own poll landing mid-burst (here, or on another replica) must not push before the window closes.
    await server.ctx.jobs.runDue();
    const uuids = [...first, ...(await Promise.all(Array.from({ length: 5 }, () => queue(d))))];
    await until("all ten answered", () => uuids.every((u) => d.answered.includes(u)));
    await settle();
    expect(pushesTo(d)).toHaveLength(1);
    expect(d.connects).toBe(1);
    d.stop?.();
  });

  it("queues commands at once while APNs does not answer: pushing never holds up the admin API", async () => {
    const d = await enroll();
    const stalled = await dev.apns.stall();
    try {
      const started = Date.now();
      await queue(d);
      expect(Date.now() - started).toBeLessThan(2000);
      await until("the push to reach the stalled endpoint", () => stalled.waiting() > 0);
      expect(pushesTo(d)).toHaveLength(0);
    } finally {
      stalled.release();
    }
    await until("the push to be answered once released", () => pushesTo(d, 200).length === 1);
  });

  it("POST /push wakes enrollments now and reports unknown ids", async () => {
    const d = await enroll();
    const r = await api("POST", "/push", { enrollmentIds: [d.udid, "NOT-ENROLLED"] });
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ queued: 1, unknown: ["NOT-ENROLLED"] });
    await until("the push", () => pushesTo(d, 200).length === 1);
  });

  it("410 Unregistered marks the token bad: no further push until the next TokenUpdate", async () => {
    const d = await enroll();
    online(d);
    dev.apns.unregister(d.token);
    const first = await queue(d);
    await until("the token to be marked invalid", async () => ((await pushState(d)).tokenInvalidAt ? true : undefined));
    expect((await pushState(d)).lastPushResult).toBe("410 Unregistered");
    const second = await queue(d);
    await settle();
    expect(pushesTo(d)).toHaveLength(1);
    expect(pushesTo(d)[0]).toMatchObject({ status: 410, reason: "Unregistered" });
    // The device comes back (a new TokenUpdate): pushing resumes and it fetches everything queued meanwhile.
    dev.apns.register(d.token);
    await tokenUpdate(d);
    expect((await pushState(d)).tokenInvalidAt).toBeNull();
    const third = await queue(d);
    await until("all answered", () => [first, second, third].every((u) => d.answered.includes(u)));
    expect(pushesTo(d, 200)).toHaveLength(1);
    d.stop?.();
  });

  it("429 backs off (doubling) and retries until delivered", async () => {
    const d = await enroll();
    online(d);
    dev.apns.fail(d.token, 429, "TooManyRequests", 2);
    const uuid = await queue(d);
    await until("the device to acknowledge", () => d.answered.includes(uuid));
    const attempts = pushesTo(d);
    expect(attempts.map((p) => p.status)).toEqual([429, 429, 200]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(RETRY_BASE_MS * 0.85);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(2 * RETRY_BASE_MS * 0.85);
    await until("ok recorded", async () => ((await pushState(d)).lastPushResult === "ok" ? true : undefined));
    d.stop?.();
  });

  it("reconnects after the HTTP/2 connection is killed", async () => {
    const d = await enroll();
    online(d);
    const a = await queue(d);
    await until("first answer", () => d.answered.includes(a));
    // Let the device finish its session, so the next command can only reach it through a new push.
    await until("the session to end", () => d.busy === undefined);
    const connections = dev.apns.stats.connections;
    expect(dev.apns.killConnections()).toBeGreaterThan(0);
    const b = await queue(d);
    await until("second answer", () => d.answered.includes(b));
    expect(dev.apns.stats.connections).toBe(connections + 1);
    expect(pushesTo(d, 200)).toHaveLength(2);
    d.stop?.();
  });

  it("re-pushes a device with pending commands that has not connected, through the due index, and forgets it once it connects", async () => {
    const d = await enroll();
    const uuid = await queue(d);
    await until("the first push", () => pushesTo(d, 200).length === 1);
    const dispatcher = server.ctx.push.dispatcher;
    const row = () => server.ctx.store.db.selectFrom("push_retries").selectAll().where("enrollment_id", "=", d.udid).executeTakeFirst();
    const scheduled = await until("the retry row", row);
    expect(scheduled.attempts).toBe(0);
    // Not due yet: nothing happens to it (devices of earlier tests may be due).
    await dispatcher.sweep(scheduled.retry_at - 1);
    expect(pushesTo(d, 200)).toHaveLength(1);
    expect(await row()).toEqual(scheduled);
    const swept = await dispatcher.sweep(scheduled.retry_at + 1);
    expect(swept.repushed).toBeGreaterThanOrEqual(1);
    expect(pushesTo(d, 200)).toHaveLength(2);
    const again = await row();
    expect(again!.attempts).toBe(1);
    expect(again!.retry_at).toBeGreaterThan(scheduled.retry_at);
    // The device connects and drains its queue: the next sweep forgets it without pushing.
    await session(d);
    expect(d.answered).toContain(uuid);
    await dispatcher.sweep(again!.retry_at + 1);
    expect(await row()).toBeUndefined();
    expect(pushesTo(d, 200)).toHaveLength(2);

    // The sweep's query (the builder dueRetries runs) reads the due index, not the table.
    const query = dueRetriesQuery(server.ctx.store.db, Date.now(), 100).compile();
    if (database.dialect === "sqlite") {
      const plan = server.ctx.store.sqlite!.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...(query.parameters as unknown[])) as Array<{ detail: string }>;
      // SEARCH: a range of the index by due time (a SCAN would walk all of it).
      expect(plan.map((p) => p.detail).join("\n")).toMatch(/SEARCH \w+ USING (COVERING )?INDEX push_retries_due \(retry_at<\?\)/);
    } else {
      const plan = await server.ctx.store.db.transaction().execute(async (tx) => {
        await sql`SET LOCAL enable_seqscan = off`.execute(tx);
        return (await sql.raw(`EXPLAIN ${query.sql.replace(/\$(\d+)/g, (_, i: string) => String(query.parameters[Number(i) - 1]))}`).execute(tx)).rows as Array<Record<string, string>>;
      });
      // The due index bounded by retry_at (without the Index Cond it would be walked end to end).
      expect(plan.map((r) => Object.values(r)[0]).join("\n")).toMatch(/Index (Only )?Scan using push_retries_due[^\n]*\n\s*Index Cond: \(retry_at <=/);
    }
  });

  it("refuses a renewal with another topic with a clear message; a same-topic renewal replaces the certificate in use", async () => {
    const other = await issuePushCertificate(testCa);
    const refused = await api("PUT", "/push-certificates", { certificate: other.certPem, privateKey: other.keyPem });
    expect(refused.status).toBe(409);
    const err = refused.json.error as { code: string; message: string; details: { activeTopic: string; newTopic: string; enrollmentsOnActiveTopic: number } };
    expect(err.code).toBe("push_topic_change");
    expect(err.message).toContain(other.topic);
    expect(err.message).toContain(pushCert.topic);
    expect(err.message).toMatch(/re-enroll/);
    expect(err.message).toMatch(/Renew/);
    expect(err.details).toMatchObject({ activeTopic: pushCert.topic, newTopic: other.topic });
    expect(err.details.enrollmentsOnActiveTopic).toBeGreaterThan(0);

    const renewed = await issuePushCertificate(testCa, { topic: pushCert.topic });
    const ok = await api("PUT", "/push-certificates", { certificate: renewed.certPem, privateKey: renewed.keyPem });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ kind: "renewal", certificate: { topic: pushCert.topic, active: true } });
    const d = await enroll();
    online(d);
    const uuid = await queue(d);
    await until("answer", () => d.answered.includes(uuid));
    expect(pushesTo(d, 200)[0]!.certificateFingerprint).toBe(certificateFingerprint(pemToDer(renewed.certPem)));
    d.stop?.();

    // Forced, the new topic becomes active; devices on the old topic are still pushed with its certificate.
    const forced = await api("PUT", "/push-certificates", { certificate: other.certPem, privateKey: other.keyPem, force: true });
    expect(forced.json).toMatchObject({ kind: "new-topic", previousTopic: pushCert.topic, certificate: { topic: other.topic, active: true } });
    const list = await api("GET", "/push-certificates");
    expect(list.json.activeTopic).toBe(other.topic);
    expect((list.json.certificates as unknown[]).length).toBe(2);
    const old = await enroll(pushCert.topic);
    const fresh = await enroll(other.topic);
    online(old);
    online(fresh);
    const [u1, u2] = [await queue(old), await queue(fresh)];
    await until("both answered", () => old.answered.includes(u1) && fresh.answered.includes(u2));
    expect(pushesTo(old, 200)[0]!.topic).toBe(pushCert.topic);
    expect(pushesTo(fresh, 200)[0]!.topic).toBe(other.topic);
    old.stop?.();
    fresh.stop?.();
  });

  it("pairs a certificate with the key `push csr` kept, and warns from 30 days before expiry", async () => {
    const made = await api("POST", "/push-certificates/csr", { subject: "CN=Orchard test push,O=Example" });
    expect(made.status).toBe(201);
    const csr = parseCsr(pemToDer(made.json.csr as string, "CERTIFICATE REQUEST"));
    expect(csr.signatureValid).toBe(true);
    // What Apple's portal would do: certify the CSR's key under a new topic; here the test CA plays Apple.
    const topic = `com.apple.mgmt.External.${randomUUID()}`;
    const certDer = buildCertificate(
      { subject: `${UID_OID}=${topic},CN=APSP:test,C=US`, publicKey: csr.spkiDer, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 10 * DAY), extensions: [basicConstraints(false), extendedKeyUsage([OID.clientAuth])] },
      testCa,
    );
    const up = await api("PUT", "/push-certificates", { certificate: derToPem(certDer), force: true });
    expect(up.status, JSON.stringify(up.json)).toBe(200);
    expect(up.json.certificate).toMatchObject({ topic, active: true, expiringSoon: true, expired: false, expiresInDays: 9 });
    expect((up.json.certificate as { warning: string }).warning).toMatch(/expires in 9 days .*Renew, not Create/);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`orchard_push_certificate_expiry_seconds\\{topic="${topic}"\\} (\\d+)`));
    // The pending key was used once: the same certificate without a key cannot be paired again.
    await api("DELETE", `/push-certificates/${topic}`);
    const again = await api("PUT", "/push-certificates", { certificate: derToPem(certDer), force: true });
    expect(again.status).toBe(400);
    expect(again.json.error).toMatchObject({ details: { problem: "no_key" } });
  });

  it("raises an alert when APNs refuses the certificate (403)", async () => {
    const stranger = await issuePushCertificate(await createCa({ subject: "CN=Not trusted by APNs" }));
    expect((await api("PUT", "/push-certificates", { certificate: stranger.certPem, privateKey: stranger.keyPem, force: true })).status).toBe(200);
    const d = await enroll(stranger.topic);
    await queue(d);
    const cert = await until("the alert", async () => {
      const c = await api("GET", `/push-certificates/${stranger.topic}`);
      return c.json.lastError ? c.json : undefined;
    });
    expect(cert.lastError).toBe("403 BadCertificate");
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain(`orchard_push_certificate_errors_total{topic="${stranger.topic}"} 1`);
    expect((await pushState(d)).tokenInvalidAt).toBeNull();
  });
});
