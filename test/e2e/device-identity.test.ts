// The ways a device proves its identity besides Mdm-Signature: the TLS client certificate on Orchard's own
// HTTPS listener, and a certificate forwarded by a trusted TLS-terminating proxy; and an external CA.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash, randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig, type OrchardConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { issueDeviceCertificate } from "../../src/pki/issue.ts";
import { generatePrivateKey, exportPrivateKeyPem } from "../../src/pki/keys.ts";
import { derToPem } from "../../src/pki/pem.ts";
import { parseCertificate, isIssuedBy } from "../../src/pki/certificate.ts";
import { buildPlist } from "../../src/wire/plist.ts";
import { describeEachDatabase } from "../databases.ts";
import { ScepClient } from "../../sim/scep-client.ts";
import { PROFILE_DEFAULTS } from "../../src/manage/enrollment-profiles/enrollment-profiles.ts";

function put(port: number, path: string, body: string, opts: { ca: string; cert?: string; key?: string; headers?: Record<string, string> }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: "PUT", ca: opts.ca, servername: "localhost", ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}), headers: { "content-type": "application/x-apple-aspen-mdm-checkin", ...opts.headers } },
      (res) => {
        let b = "";
        res.on("data", (c) => (b += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: b }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describeEachDatabase("device identity without Mdm-Signature", (database) => {
  let server: RunningServer;
  let dir: string;
  let cleanupDb: () => Promise<void>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orchard-id-"));
    // An external CA made by openssl: Orchard must issue from it instead of generating its own.
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "ca.key"), "-out", join(dir, "ca.pem"), "-days", "30", "-subj", "/CN=Acme Corp Device CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], { stdio: "ignore" });
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    const config: OrchardConfig = {
      ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_PUBLIC_URL: "https://localhost:8443", ORCHARD_CA_CERT_FILE: join(dir, "ca.pem"), ORCHARD_CA_KEY_FILE: join(dir, "ca.key"), ORCHARD_CERT_HEADER: "X-Client-Cert" }),
      databaseUrl: fresh.url,
      httpsPort: 0,
      httpPort: 0,
      host: "127.0.0.1",
    };
    server = await startServer(config, { logger: createLogger("silent") });
  });
  afterAll(async () => {
    await server.stop();
    await cleanupDb();
    rmSync(dir, { recursive: true, force: true });
  });

  it("issues from an imported external CA, TLS certificate included", async () => {
    expect(parseCertificate(server.ctx.credentials.ca.certDer).fingerprint).toBe(parseCertificate(new Uint8Array(execFileSync("openssl", ["x509", "-in", join(dir, "ca.pem"), "-outform", "DER"]))).fingerprint);
    expect(server.caPem).toContain("BEGIN CERTIFICATE");
    const r = await new Promise<number>((resolve, reject) => {
      request({ host: "127.0.0.1", port: server.httpsPort, path: "/healthz", ca: server.caPem, servername: "localhost" }, (res) => resolve(res.statusCode ?? 0)).on("error", reject).end();
    });
    expect(r).toBe(200);
    expect(isIssuedBy(parseCertificate(server.ctx.credentials.scepRa.certDer), parseCertificate(server.ctx.credentials.ca.certDer))).toBe(true);
  });

  it("accepts the identity as a TLS client certificate, and binds it", async () => {
    const base = `http://127.0.0.1:${server.httpPort}`;
    const auth = { authorization: `Bearer ${(await server.ctx.tokens.create("identity-test", "admin", "system:test")).token}` };
    const api = async (path: string): Promise<Record<string, unknown>> => {
      const r = await fetch(`${base}/api/v1${path}`, { headers: auth });
      expect(r.status, path).toBe(200);
      return (await r.json()) as Record<string, unknown>;
    };
    const issuedRecord = async (fingerprint: string) =>
      ((await api("/certificates?expiringWithinDays=400")).certificates as Array<{ fingerprint: string; enrollmentId: string | null }>).find((c) => c.fingerprint === fingerprint);

    // The identity comes from Orchard's SCEP server, as a device's would, so Orchard keeps a record of it.
    const profile = await server.ctx.enrollmentProfiles.create({ ...PROFILE_DEFAULTS, name: `identity-${database.dialect}` }, "system:test");
    const { challenge } = await server.ctx.enrollmentProfiles.createChallenge({ profileId: profile.id }, "system:test");
    const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
    const udid = randomUUID().toUpperCase();
    const scep = await new ScepClient({ url: `${base}/scep` }).enroll({ key, subject: `CN=${udid}`, challenge });
    expect(scep.status).toBe("SUCCESS");
    const der = scep.certDer!;
    const sha256 = createHash("sha256").update(der).digest("hex");
    expect(await issuedRecord(sha256)).toMatchObject({ enrollmentId: null });

    const tls = { ca: server.caPem, cert: derToPem(der), key: exportPrivateKeyPem(key) };
    expect((await put(server.httpsPort, "/mdm/checkin", buildPlist({ MessageType: "Authenticate", UDID: udid, Topic: "t" }), tls)).status).toBe(200);
    // Authenticate bound it: the enrollment names the certificate, and the certificate's record the enrollment.
    expect((await api(`/enrollments/${udid}`)).certificateFingerprint).toBe(sha256);
    expect(await issuedRecord(sha256)).toMatchObject({ enrollmentId: udid });
    expect((await put(server.httpsPort, "/mdm/checkin", buildPlist({ MessageType: "TokenUpdate", UDID: udid, Topic: "t", Token: new Uint8Array(32), PushMagic: "m" }), tls)).status).toBe(200);
    expect((await put(server.httpsPort, "/mdm/connect", buildPlist({ Status: "Idle", UDID: udid }), tls)).status).toBe(200);
    // The binding is enforced: another certificate from the same CA, for the same UDID, is refused.
    const otherKey = await generatePrivateKey({ type: "rsa", bits: 2048 });
    const other = { ca: server.caPem, cert: derToPem(issueDeviceCertificate(server.ctx.credentials.ca, { subject: `CN=${udid}`, publicKey: otherKey })), key: exportPrivateKeyPem(otherKey) };
    const refused = await put(server.httpsPort, "/mdm/connect", buildPlist({ Status: "Idle", UDID: udid }), other);
    expect(refused.status).toBe(401);
    expect((await api(`/enrollments/${udid}`)).certificateFingerprint).toBe(sha256);
    // Without any certificate: refused.
    expect((await put(server.httpsPort, "/mdm/connect", buildPlist({ Status: "Idle", UDID: udid }), { ca: server.caPem })).status).toBe(401);
  });

  it("accepts the identity forwarded by a trusted proxy (RFC 9440 and URL-escaped PEM), and refuses garbage", async () => {
    const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
    const udid = randomUUID().toUpperCase();
    const der = issueDeviceCertificate(server.ctx.credentials.ca, { subject: `CN=${udid}`, publicKey: key });
    const sf = `:${Buffer.from(der).toString("base64")}:`;
    const escaped = encodeURIComponent(derToPem(der));
    const plain = { ca: server.caPem };
    expect((await put(server.httpsPort, "/mdm/checkin", buildPlist({ MessageType: "Authenticate", UDID: udid, Topic: "t" }), { ...plain, headers: { "x-client-cert": sf } })).status).toBe(200);
    expect((await put(server.httpsPort, "/mdm/checkin", buildPlist({ MessageType: "TokenUpdate", UDID: udid, Topic: "t", Token: new Uint8Array(32), PushMagic: "m" }), { ...plain, headers: { "x-client-cert": escaped } })).status).toBe(200);
    const bad = await put(server.httpsPort, "/mdm/connect", buildPlist({ Status: "Idle", UDID: udid }), { ...plain, headers: { "x-client-cert": "not a certificate" } });
    expect(bad.status).toBe(401);
    expect(bad.body).toContain("malformed-header");
    // A certificate from a CA Orchard does not trust, forwarded by the proxy, is refused like any other.
    const self = execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "/dev/null", "-days", "1", "-subj", `/CN=${udid}`, "-outform", "DER"]);
    const foreign = await put(server.httpsPort, "/mdm/connect", buildPlist({ Status: "Idle", UDID: udid }), { ...plain, headers: { "x-client-cert": `:${self.toString("base64")}:` } });
    expect(foreign.status).toBe(401);
    writeFileSync(join(dir, "done"), "");
  });
});
