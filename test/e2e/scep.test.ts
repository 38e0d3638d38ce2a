// The SCEP server over real HTTPS, driven by the RFC 8894 client in sim/scep-client.ts, with openssl as
// the independent judge of what it issues.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { ScepClient, transactionIdFor, type FetchLike } from "../../sim/scep-client.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import { createCsr } from "../../src/pki/csr.ts";
import { selfSignedCertificate, issueDeviceCertificate } from "../../src/pki/issue.ts";
import { createCa } from "../../src/pki/ca.ts";
import { derToPem } from "../../src/pki/pem.ts";
import { parseCertificate } from "../../src/pki/certificate.ts";
import { describeEachDatabase } from "../databases.ts";
import { buildTestContext } from "../context.ts";
import { buildHttpApp } from "../../src/http/app.ts";
import { PROFILE_DEFAULTS } from "../../src/manage/enrollment-profiles/enrollment-profiles.ts";

function httpsFetch(ca: string): FetchLike {
  return (url, init) =>
    new Promise((resolve, reject) => {
      const u = new URL(url);
      const req = request({ host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: init?.method ?? "GET", headers: init?.headers ?? {}, ca, servername: "localhost" }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: { get: (n: string) => (res.headers[n.toLowerCase()] as string | undefined) ?? null },
            arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength),
          });
        });
      });
      req.on("error", reject);
      if (init?.body) req.write(init.body);
      req.end();
    });
}

describeEachDatabase("SCEP server", (database) => {
  let server: RunningServer;
  let dir: string;
  let cleanupDb: () => Promise<void>;
  let challenge: string;
  let url: string;
  let fetcher: FetchLike;
  let auth: Record<string, string>;

  async function issuedCount(): Promise<number> {
    const r = await server.ctx.store.db.selectFrom("issued_certificates").select((eb) => eb.fn.countAll<number>().as("n")).where("kind", "=", "identity").executeTakeFirst();
    return Number(r?.n ?? 0);
  }
  async function api(method: string, path: string, payload?: unknown) {
    return server.app.inject({ method: method as "GET", url: path, headers: auth, ...(payload ? { payload: payload as object } : {}) });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orchard-scep-"));
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    const config = { ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_PUBLIC_URL: "https://localhost:8443" }), databaseUrl: fresh.url, httpsPort: 0, host: "127.0.0.1" };
    server = await startServer(config, { logger: createLogger("silent") });
    url = `https://127.0.0.1:${server.httpsPort}/scep`;
    fetcher = httpsFetch(server.caPem);
    auth = { authorization: `Bearer ${(await server.ctx.tokens.create("t", "admin", "system:test")).token}` };
    const profile = (await api("POST", "/api/v1/enrollment-profiles", { name: "scep" })).json();
    const row = await server.ctx.enrollmentProfiles.row(profile.id);
    const { parsePlist } = await import("../../src/wire/plist.ts");
    const p = parsePlist(await server.ctx.enrollmentProfiles.mobileconfig(row, { signed: false })) as { PayloadContent: Array<{ PayloadContent: { Challenge: string } }> };
    challenge = p.PayloadContent[1]!.PayloadContent.Challenge;
  });
  afterAll(async () => {
    await server.stop();
    await cleanupDb();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers GetCACaps and GetCACert (CA and RA, application/x-x509-ca-ra-cert)", async () => {
    const client = new ScepClient({ url, fetch: fetcher });
    const caps = await client.getCaCaps();
    for (const c of ["POSTPKIOperation", "SHA-256", "SHA-1", "AES", "DES3", "SCEPStandard", "Renewal"]) expect(caps).toContain(c);
    const ca = await client.getCaCert();
    expect(ca.contentType).toBe("application/x-x509-ca-ra-cert");
    expect(Buffer.from(ca.caCertDer).equals(Buffer.from(server.ctx.credentials.ca.certDer))).toBe(true);
    expect(Buffer.from(ca.recipientCertDer).equals(Buffer.from(server.ctx.credentials.scepRa.certDer))).toBe(true);
  });

  const variants = [
    { name: "POST, AES, SHA-256", force: { method: "POST" as const } },
    { name: "GET, AES, SHA-256", force: { method: "GET" as const } },
    { name: "POST, 3DES, SHA-1", force: { method: "POST" as const, encryption: "des-ede3-cbc" as const, digest: "sha1" as const } },
    { name: "GET, 3DES, SHA-256", force: { method: "GET" as const, encryption: "des-ede3-cbc" as const } },
  ];
  for (const v of variants) {
    it(`issues an identity certificate that openssl verifies (${v.name})`, async () => {
      const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
      const client = new ScepClient({ url, fetch: fetcher, force: v.force });
      const r = await client.enroll({ key, subject: "CN=device-1,O=Orchard", challenge });
      expect(r.status).toBe("SUCCESS");
      const ca = await client.getCaCert();
      writeFileSync(join(dir, "ca.pem"), ca.certificates.map((c) => derToPem(c)).join(""));
      writeFileSync(join(dir, "leaf.pem"), derToPem(r.certDer!));
      const out = execFileSync("openssl", ["verify", "-CAfile", join(dir, "ca.pem"), join(dir, "leaf.pem")]).toString();
      expect(out).toContain("OK");
      const rec = (await api("GET", "/api/v1/certificates?expiringWithinDays=400")).json().certificates.find((c: { fingerprint: string }) => c.fingerprint === parseCertificate(r.certDer!).fingerprint);
      expect(rec).toMatchObject({ kind: "identity", revokedAt: null });
      expect(rec.subject).toContain("device-1");
      expect(rec.enrollmentProfileId).toBeTruthy();
    });
  }

  it("refuses single DES with badAlg unless ORCHARD_SCEP_ALLOW_LEGACY_DES is set", async () => {
    const before = await issuedCount();
    const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
    const des = new ScepClient({ url, fetch: fetcher, force: { encryption: "des-cbc" } });
    const r = await des.enroll({ key, subject: "CN=old-client", challenge });
    expect(r.status).toBe("FAILURE");
    expect(r.failInfo).toBe("badAlg");
    expect(await issuedCount()).toBe(before);
  });

  it("accepts single DES from legacy clients when ORCHARD_SCEP_ALLOW_LEGACY_DES=true", async () => {
    const t = await buildTestContext(database, { scepAllowLegacyDes: true });
    const app = await buildHttpApp(t.ctx);
    try {
      const p = await t.ctx.enrollmentProfiles.create({ ...PROFILE_DEFAULTS, name: "legacy" }, "system:test");
      const one = await t.ctx.enrollmentProfiles.createChallenge({ profileId: p.id }, "system:test");
      const injected: FetchLike = async (u, init) => {
        const r = await app.inject({ method: (init?.method ?? "GET") as "GET", url: u.replace(/^https?:\/\/[^/]+/, ""), headers: init?.headers ?? {}, ...(init?.body ? { payload: Buffer.from(init.body) } : {}) });
        return { status: r.statusCode, headers: { get: (n: string) => (r.headers[n.toLowerCase()] as string | undefined) ?? null }, arrayBuffer: async () => new Uint8Array(r.rawPayload).buffer };
      };
      const des = new ScepClient({ url: "https://orchard.test/scep", fetch: injected, force: { encryption: "des-cbc" } });
      const r = await des.enroll({ key: await generatePrivateKey({ type: "rsa", bits: 2048 }), subject: "CN=old-but-allowed", challenge: one.challenge });
      expect(r.status).toBe("SUCCESS");
    } finally {
      await app.close();
      await t.cleanup();
    }
  });

  it("renews with a valid certificate and refuses a revoked or foreign one", async () => {
    const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
    const client = new ScepClient({ url, fetch: fetcher });
    const first = await client.enroll({ key, subject: "CN=renew-me", challenge });
    const current = { certDer: first.certDer!, key };
    const key2 = await generatePrivateKey({ type: "rsa", bits: 2048 });
    const renewed = await client.renew({ key: key2, subject: "CN=renew-me", current });
    expect(renewed.status).toBe("SUCCESS");

    const serial = parseCertificate(renewed.certDer!).serialNumberHex;
    expect((await api("POST", `/api/v1/certificates/${serial}/revoke`)).statusCode).toBe(200);
    const again = await client.renew({ key: await generatePrivateKey({ type: "rsa", bits: 2048 }), subject: "CN=renew-me", current: { certDer: renewed.certDer!, key: key2 } });
    expect(again.status).toBe("FAILURE");

    const foreignCa = await createCa({ subject: "CN=Elsewhere" });
    const foreignCert = issueDeviceCertificate(foreignCa, { subject: "CN=intruder", publicKey: key });
    const foreign = await client.renew({ key: await generatePrivateKey({ type: "rsa", bits: 2048 }), subject: "CN=intruder", current: { certDer: foreignCert, key } });
    expect(foreign.status).toBe("FAILURE");
  });

  it("refuses wrong, expired and reused challenges, weak keys and envelopes for another recipient, issuing nothing", async () => {
    const client = new ScepClient({ url, fetch: fetcher });
    const before = await issuedCount();
    const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
    expect((await client.enroll({ key, subject: "CN=x", challenge: "wrong" })).status).toBe("FAILURE");
    expect((await client.enroll({ key, subject: "CN=x" })).status).toBe("FAILURE");

    const once = (await api("POST", "/api/v1/scep/challenges", {})).json().challenge as string;
    expect((await client.enroll({ key, subject: "CN=once", challenge: once })).status).toBe("SUCCESS");
    expect((await client.enroll({ key: await generatePrivateKey({ type: "rsa", bits: 2048 }), subject: "CN=once", challenge: once })).status).toBe("FAILURE");

    const stale = (await api("POST", "/api/v1/scep/challenges", {})).json().challenge as string;
    await server.ctx.store.db.updateTable("scep_challenges").set({ expires_at: Date.now() - 1 }).where("used_at", "is", null).execute();
    expect((await client.enroll({ key, subject: "CN=stale", challenge: stale })).status).toBe("FAILURE");

    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
    const w = await client.enroll({ key: weak, subject: "CN=weak", challenge });
    expect(w.status).toBe("FAILURE");

    const otherRecipient = await createCa({ subject: "CN=Not the RA" });
    const csr = createCsr({ subject: "CN=misdirected", key, challengePassword: challenge });
    const misdirected = await client.request("PKCSReq", csr, { certDer: selfSignedCertificate(key, "CN=misdirected"), key }, transactionIdFor(key), key, otherRecipient.certDer);
    expect(misdirected.status).toBe("FAILURE");
    // Only the one-time challenge's certificate was issued.
    expect(await issuedCount()).toBe(before + 1);
  });

  it("answers garbage and truncated messages with HTTP 400", async () => {
    const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
    const client = new ScepClient({ url, fetch: fetcher });
    await client.getCaCert();
    const csr = createCsr({ subject: "CN=t", key, challengePassword: challenge });
    const { buildPkiRequest } = await import("../../src/pki/scep-message.ts");
    const ca = await client.getCaCert();
    const { der } = buildPkiRequest({ messageType: "PKCSReq", transactionId: "T1", messageData: csr, recipientCertDer: ca.recipientCertDer, signer: { certDer: selfSignedCertificate(key, "CN=t"), key }, encryption: "aes-256-cbc", digest: "sha256" });
    for (const body of [Buffer.from("hello"), Buffer.from(der).subarray(0, der.length - 40)]) {
      const r = await fetcher(`${url}?operation=PKIOperation`, { method: "POST", body, headers: { "content-type": "application/x-pki-message" } });
      expect(r.status).toBe(400);
    }
    expect((await fetcher(`${url}?operation=Teleport`)).status).toBe(400);
  });
});
