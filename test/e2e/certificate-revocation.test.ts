// Revoking a device's identity certificate shuts it out of every device route: at once on the replica that took
// the revocation, and within a few seconds on another replica (its own process state, the same database).
// The device enrolls for real (SCEP, then Authenticate and TokenUpdate signed with Mdm-Signature over a socket).
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig, type OrchardConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import { parseCertificate } from "../../src/pki/certificate.ts";
import { signCms } from "../../src/pki/cms-signed-data.ts";
import { buildPlist, type PlistInput } from "../../src/wire/plist.ts";
import type { SigningIdentity } from "../../src/pki/issue.ts";
import { PROFILE_DEFAULTS } from "../../src/manage/enrollment-profiles/enrollment-profiles.ts";
import { ScepClient } from "../../sim/scep-client.ts";
import { describeEachDatabase } from "../databases.ts";

function put(port: number, path: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "PUT", agent: false, headers: { ...headers, "content-length": String(body.length) } }, (res) => {
      let b = "";
      res.on("data", (c) => (b += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describeEachDatabase("a revoked identity certificate", (database) => {
  const dirs: string[] = [];
  const servers: RunningServer[] = [];
  let cleanupDb: () => Promise<void>;

  beforeAll(async () => {
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    // Two replicas: their own data folders and in-memory revocation sets, one database and one master key.
    const masterKey = randomBytes(32).toString("base64");
    for (let i = 0; i < 2; i++) {
      const dir = mkdtempSync(join(tmpdir(), "orchard-revoke-"));
      dirs.push(dir);
      const config: OrchardConfig = {
        ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_MASTER_KEY: masterKey, ORCHARD_PUBLIC_URL: "https://localhost:8443" }),
        databaseUrl: fresh.url,
        httpsPort: 0,
        httpPort: 0,
        host: "127.0.0.1",
        workers: i === 0,
      };
      servers.push(await startServer(config, { logger: createLogger("silent") }));
    }
  }, 60_000);
  afterAll(async () => {
    for (const s of servers.reverse()) await s.stop();
    await cleanupDb();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("is refused with 401 naming revocation on every device route, here at once and on another replica within 3 s", async () => {
    const [a, b] = servers as [RunningServer, RunningServer];
    const base = `http://127.0.0.1:${a.httpPort}`;
    const token = (await a.ctx.tokens.create("revoker", "admin", "system:test")).token;

    const profile = await a.ctx.enrollmentProfiles.create({ ...PROFILE_DEFAULTS, name: `revocation-${database.dialect}` }, "system:test");
    const { challenge } = await a.ctx.enrollmentProfiles.createChallenge({ profileId: profile.id }, "system:test");
    const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
    const udid = randomUUID().toUpperCase();
    const scep = await new ScepClient({ url: `${base}/scep` }).enroll({ key, subject: `CN=${udid}`, challenge });
    expect(scep.status).toBe("SUCCESS");
    const identity: SigningIdentity = { certDer: scep.certDer!, key };
    const serial = parseCertificate(identity.certDer).serialNumberHex;

    const send = (port: number, path: string, message: PlistInput, contentType?: string) => {
      const body = Buffer.from(buildPlist(message), "utf8");
      const sig = Buffer.from(signCms(body, identity, { detached: true, digest: "sha256", certificates: [identity.certDer] })).toString("base64");
      return put(port, path, body, { "mdm-signature": sig, ...(contentType ? { "content-type": contentType } : {}) });
    };
    const checkin = (port: number, msg: Record<string, PlistInput>) => send(port, "/mdm/checkin", { UDID: udid, Topic: "com.apple.mgmt.test", ...msg }, "application/x-apple-aspen-mdm-checkin");
    const tokenUpdate = { MessageType: "TokenUpdate", Token: new Uint8Array(32).fill(3), PushMagic: randomUUID() };
    // Every device route, with messages the enrolled device would send.
    const everyRoute = (port: number) =>
      Promise.all([
        checkin(port, tokenUpdate),
        send(port, "/mdm/connect", { UDID: udid, Status: "Idle" }),
        // The ServerURL also takes check-in messages when a profile has no CheckInURL.
        send(port, "/mdm/connect", { UDID: udid, Topic: "com.apple.mgmt.test", ...tokenUpdate }, "application/x-apple-aspen-mdm-checkin"),
      ]);

    expect((await checkin(a.httpPort!, { MessageType: "Authenticate", SerialNumber: "C02REVOKE1", ProductName: "iPhone15,2", Model: "iPhone15,2" })).status).toBe(200);
    for (const s of [a, b]) for (const r of await everyRoute(s.httpPort!)) expect(r.status).toBe(200);

    const revoked = await fetch(`${base}/api/v1/certificates/${serial}/revoke`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { revokedAt: string | null }).revokedAt).not.toBeNull();

    const expectRevoked = (answers: Array<{ status: number; body: string }>) => {
      for (const r of answers) {
        expect(r.status).toBe(401);
        expect(r.body).toMatch(/revoked/);
      }
    };
    // The replica that took the revocation: at once.
    expectRevoked(await everyRoute(a.httpPort!));

    // The other replica: as soon as its next refresh reads the row (every 2 s), and within 3 s.
    const started = Date.now();
    let answers = await everyRoute(b.httpPort!);
    while (answers.some((r) => r.status !== 401) && Date.now() - started < 5_000) {
      // Until then the device is still served there, as before the revocation.
      for (const r of answers) expect([200, 401]).toContain(r.status);
      await new Promise((r) => setTimeout(r, 100));
      answers = await everyRoute(b.httpPort!);
    }
    expect(Date.now() - started).toBeLessThan(3_000);
    expectRevoked(answers);
    // A fresh Authenticate (a re-enrollment with the revoked identity) is refused too.
    expectRevoked([await checkin(b.httpPort!, { MessageType: "Authenticate" }), await checkin(a.httpPort!, { MessageType: "Authenticate" })]);
  }, 60_000);
});
