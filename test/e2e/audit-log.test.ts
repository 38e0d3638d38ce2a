// The audit log says who did what to which target, whatever the entry point: every audited change is made once
// through the API and (where the CLI offers it) once through `orchard …`, plus the system's identity renewal and a
// failed sign-in; then GET /api/v1/audit must hold exactly one entry per change, with the right actor, target and
// detail, no secret anywhere in the table, and a change that was refused must leave only the refused attempt.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../databases.ts";
import { orchard } from "../cli.ts";
import { checkinOf, newSignedDevice, startDeviceSocketServer, type DeviceSocketServer } from "../device-socket.ts";
import { cliActor } from "../../src/events/actor.ts";
import { createCa } from "../../src/pki/ca.ts";
import { certificateFingerprint } from "../../src/pki/pem.ts";
import { issuePushCertificate } from "../../src/push/apns-dev/authority.ts";
import { recordIssued } from "../../src/store/issued-certificates.ts";
import { recordServerSettings } from "../../src/store/server-settings.ts";

const DAY = 86_400_000;

interface Entry {
  actor: string;
  action: string;
  target: string | null;
  outcome: "ok" | "error";
  statusCode: number;
  detail: Record<string, unknown> | null;
}

describeEachDatabase("the audit log", (database) => {
  let s: DeviceSocketServer;
  let dir: string;
  let env: Record<string, string>;
  /** Every secret this test saw: none may appear anywhere in the audit table. */
  const secrets: string[] = [];
  const cli = cliActor();

  beforeAll(async () => {
    s = await startDeviceSocketServer(database);
    secrets.push(s.auth.authorization.slice("Bearer ".length));
    dir = mkdtempSync(join(tmpdir(), "orchard-audit-"));
    // The CLI builds enrollment profiles with the settings a server recorded.
    await recordServerSettings(s.t.ctx.store, { publicUrl: s.t.ctx.config.publicUrl, httpsPort: 8443, httpPort: null, dev: false });
    env = {
      ORCHARD_DATA_DIR: s.t.dataDir,
      ORCHARD_DATABASE_URL: s.t.ctx.config.databaseUrl,
      ORCHARD_MASTER_KEY: s.t.ctx.config.masterKey!,
      ORCHARD_PUBLIC_URL: s.t.ctx.config.publicUrl,
      ORCHARD_LOG_LEVEL: "silent",
    };
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function api(method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE", url: string, payload?: unknown, headers = s.auth) {
    const r = await s.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
    return { status: r.statusCode, json: (r.body ? r.json() : {}) as Record<string, unknown> & { [k: string]: never } };
  }

  async function run(args: string[]): Promise<string> {
    const r = await orchard(args, env);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  }

  it("records each change once, from the API, the CLI and the system, and every refused attempt and failed sign-in", async () => {
    // ---- API tokens
    const created = await api("POST", "/tokens", { name: "api-made", role: "operator" });
    expect(created.status).toBe(201);
    const apiToken = created.json as unknown as { token: string; info: { id: string; prefix: string } };
    secrets.push(apiToken.token);
    // A second live token of the name: refused, and the transaction it ran in leaves no "ok" entry.
    expect((await api("POST", "/tokens", { name: "api-made", role: "admin" })).status).toBe(409);
    expect((await api("DELETE", `/tokens/${apiToken.info.id}`)).status).toBe(204);
    const cliToken = JSON.parse(await run(["token", "create", "--name", "cli-made", "--role", "readonly", "--json"])) as { token: string; id: string };
    secrets.push(cliToken.token);
    await run(["token", "revoke", "cli-made"]);

    // ---- push certificates, key requests and pushes
    const pushCa = await createCa({ subject: "CN=Test Apple Push CA" });
    const push = await issuePushCertificate(pushCa);
    secrets.push(push.keyPem.replace(/-----[^-]+-----|\s/g, "").slice(0, 64));
    expect((await api("PUT", "/push-certificates", { certificate: push.certPem, privateKey: push.keyPem })).status).toBe(200);
    const renewal = await issuePushCertificate(pushCa, { topic: push.topic });
    writeFileSync(join(dir, "push.pem"), renewal.certPem);
    writeFileSync(join(dir, "push.key"), renewal.keyPem);
    secrets.push(renewal.keyPem.replace(/-----[^-]+-----|\s/g, "").slice(0, 64));
    await run(["push", "upload", "--certificate", join(dir, "push.pem"), "--key", join(dir, "push.key")]);
    expect((await api("POST", "/push-certificates/csr", { subject: "CN=API push,O=Orchard" })).status).toBe(201);
    await run(["push", "csr", "--subject", "CN=CLI push,O=Orchard", "--out", join(dir, "cli.csr"), "--key-out", join(dir, "cli.key")]);
    secrets.push(readFileSync(join(dir, "cli.key"), "utf8").replace(/-----[^-]+-----|\s/g, "").slice(0, 64));

    // ---- webhooks: a credential in the URL stays out of the log, and so does the signing secret
    const hook = await api("POST", "/webhooks", { url: "https://hook-user:hook-password@hooks.example.test/orchard?key=url-secret-123", events: ["command.completed"] });
    expect(hook.status).toBe(201);
    const hookId = (hook.json as unknown as { webhook: { id: string }; secret: string }).webhook.id;
    secrets.push((hook.json as unknown as { secret: string }).secret, "hook-password", "url-secret-123");
    expect((await api("DELETE", `/webhooks/${hookId}`)).status).toBe(204);

    // ---- enrollment profiles and SCEP challenges
    const profile = (await api("POST", "/enrollment-profiles", { name: "Staff", userAffinity: "user" })).json as unknown as { id: string; links: { enroll: string } };
    secrets.push(profile.links.enroll.split("/enroll/")[1]!);
    expect((await api("POST", "/enrollment-profiles", { name: "Staff" })).status).toBe(409);
    expect((await api("PATCH", `/enrollment-profiles/${profile.id}`, { description: "the staff iPhones", validityDays: 10 })).status).toBe(200);
    const renewed = (await api("POST", `/enrollment-profiles/${profile.id}/renew`)).json as unknown as { links: { enroll: string } };
    secrets.push(renewed.links.enroll.split("/enroll/")[1]!);
    const challenge = await api("POST", "/scep/challenges", { enrollmentProfileId: profile.id });
    expect(challenge.status).toBe(201);
    secrets.push((challenge.json as unknown as { challenge: string }).challenge);
    const cliProfile = JSON.parse(await run(["enrollment-profile", "create", "--name", "Kiosk", "--user-affinity", "none", "--json"])) as { id: string; links: { enroll: string } };
    secrets.push(cliProfile.links.enroll.split("/enroll/")[1]!);
    expect((await api("DELETE", `/enrollment-profiles/${cliProfile.id}`)).status).toBe(204);

    // ---- a device enrolled through "Staff" whose identity expires soon: renewal by the system, then by an admin
    const device = await newSignedDevice(s);
    const serial = randomBytes(8).toString("hex");
    await recordIssued(s.t.ctx.store, {
      serial,
      kind: "identity",
      subject: `CN=${device.udid}`,
      not_before: Date.now() - DAY,
      not_after: Date.now() + 10 * DAY,
      fingerprint: certificateFingerprint(device.identity.certDer),
      enrollment_id: null,
      enrollment_profile_id: profile.id,
      revoked_at: null,
      created_at: Date.now(),
    });
    expect((await checkinOf(s.port, device, { MessageType: "Authenticate", Topic: push.topic, SerialNumber: "SNAUDIT1" })).status).toBe(200);
    expect((await checkinOf(s.port, device, { MessageType: "TokenUpdate", Topic: push.topic, Token: new Uint8Array(32).fill(7), PushMagic: randomUUID() })).status).toBe(200);
    expect((await s.t.ctx.identityRenewal.run()).queued).toEqual([device.udid]);
    expect((await api("POST", `/enrollments/${device.udid}/renew-identity`)).status).toBe(201);
    // Refused: no such enrollment. Recorded as the attempt it was, with its status.
    expect((await api("POST", "/enrollments/NOT-A-DEVICE/renew-identity")).status).toBe(404);

    // ---- a command queued and cancelled through the API
    const queued = await api("POST", "/commands", { targets: [device.udid], requestType: "DeviceInformation", params: { Queries: ["OSVersion"] }, priority: 5 });
    expect(queued.status).toBe(201);
    const commandUuid = queued.json.commandUuid as unknown as string;
    expect((await api("DELETE", `/commands/${commandUuid}`)).status).toBe(200);

    // ---- pushes, by the API and the CLI (how many enrollments, not which)
    expect((await api("POST", "/push", { enrollmentIds: [device.udid, "NOT-A-DEVICE"] })).json).toEqual({ queued: 1, unknown: ["NOT-A-DEVICE"] });
    await run(["push", "send", device.udid]);

    // ---- revocation, then the push certificate goes
    expect((await api("POST", `/certificates/${serial}/revoke`)).status).toBe(200);
    expect((await api("POST", `/certificates/${serial}/revoke`)).status).toBe(200); // already revoked: no change, no entry
    expect((await api("DELETE", `/push-certificates/${push.topic}`)).status).toBe(204);

    // ---- a failed sign-in: who tried from where, with the token's first 8 characters only
    const wrong = "orch_" + randomBytes(32).toString("base64url");
    secrets.push(wrong, wrong.slice(0, 12));
    expect((await api("GET", "/tokens", undefined, { authorization: `Bearer ${wrong}` })).status).toBe(401);

    // ---- what the log says
    const page = await api("GET", "/audit?limit=500");
    expect(page.status).toBe(200);
    const entries = (page.json as unknown as { entries: Entry[] }).entries.filter((e) => e.actor !== "system:test");
    const one = (actor: string, action: string, target?: string | null): Entry => {
      const found = entries.filter((e) => e.actor === actor && e.action === action && e.outcome === "ok" && (target === undefined || e.target === target));
      expect(found, `${actor} ${action} ${target ?? ""}`).toHaveLength(1);
      expect(found[0]!.statusCode).toBe(0);
      return found[0]!;
    };
    const admin = "token:admin";

    expect(one(admin, "token.create", apiToken.info.id).detail).toEqual({ name: "api-made", role: "operator", prefix: apiToken.info.prefix });
    expect(one(admin, "token.revoke", apiToken.info.id).detail).toEqual({ name: "api-made", role: "operator" });
    expect(one(cli, "token.create", cliToken.id).detail).toMatchObject({ name: "cli-made", role: "readonly" });
    expect(one(cli, "token.revoke", cliToken.id).detail).toEqual({ name: "cli-made", role: "readonly" });

    expect(one(admin, "push_certificate.upload", push.topic).detail).toMatchObject({ kind: "first", previousTopic: null });
    expect(one(cli, "push_certificate.upload", push.topic).detail).toMatchObject({ kind: "renewal" });
    expect(one(admin, "push_certificate.csr").detail).toMatchObject({ subject: "CN=API push,O=Orchard", publicKeySha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(one(cli, "push_certificate.csr").detail).toMatchObject({ subject: "CN=CLI push,O=Orchard" });
    one(admin, "push_certificate.delete", push.topic);
    expect(one(admin, "push.send").detail).toEqual({ enrollments: 1, unknown: 1 });
    expect(one(cli, "push.send", device.udid).detail).toEqual({ enrollments: 1, unknown: 0 });

    expect(one(admin, "webhook.create", hookId).detail).toEqual({ url: "https://hooks.example.test/orchard", events: "command.completed", format: "orchard" });
    one(admin, "webhook.delete", hookId);

    expect(one(admin, "enrollment_profile.create", profile.id).detail).toMatchObject({ name: "Staff", userAffinity: "user" });
    expect(one(admin, "enrollment_profile.update", profile.id).detail).toEqual({
      name: "Staff",
      version: 2,
      changed: { description: { from: "", to: "the staff iPhones" }, validityDays: { from: 14, to: 10 } },
    });
    expect(one(admin, "enrollment_profile.renew", profile.id).detail).toMatchObject({ name: "Staff", version: 3 });
    expect(one(admin, "scep_challenge.create", profile.id).detail).toMatchObject({ challengeId: expect.any(String), expiresAt: expect.any(String) });
    expect(one(cli, "enrollment_profile.create", cliProfile.id).detail).toMatchObject({ name: "Kiosk", userAffinity: "none" });
    expect(one(admin, "enrollment_profile.delete", cliProfile.id).detail).toEqual({ name: "Kiosk" });

    expect(one("system:identity-renewal", "identity.renew", device.udid).detail).toMatchObject({ trigger: "expiring", enrollmentProfileId: profile.id });
    expect(one(admin, "identity.renew", device.udid).detail).toMatchObject({ trigger: "requested", enrollmentProfileId: profile.id });
    // Each renewal queued its InstallProfile as the same actor, in the same transaction.
    const renewals = entries.filter((e) => e.action === "command.queue" && (e.detail as { requestType?: string }).requestType === "InstallProfile");
    expect(renewals.map((e) => [e.actor, e.target]).sort()).toEqual([[admin, device.udid], ["system:identity-renewal", device.udid]].sort());
    expect(entries.filter((e) => e.action === "command.queue" && (e.detail as { requestType?: string }).requestType === "DeviceInformation").map((e) => [e.actor, e.target, e.detail])).toEqual([
      [admin, device.udid, { commandUuid, requestType: "DeviceInformation", targetCount: 1, targets: [device.udid], priority: 5 }],
    ]);
    expect(one(admin, "command.cancel").detail).toEqual({ commandUuid, requestType: "DeviceInformation", cancelled: 1, notCancelled: 0, force: false });
    expect(one(admin, "certificate.revoke", serial).detail).toMatchObject({ kind: "identity", fingerprint: certificateFingerprint(device.identity.certDer) });

    // Refused attempts: once each, with the status, and no "ok" entry beside them (checked by `one` above).
    const refused = entries.filter((e) => e.outcome === "error");
    expect(refused.map((e) => [e.actor, e.action, e.target, e.statusCode]).sort()).toEqual(
      [
        ["anonymous", "auth.sign_in_failed", null, 401],
        [admin, "enrollment_profile.create", null, 409],
        [admin, "identity.renew", "NOT-A-DEVICE", 404],
        [admin, "token.create", null, 409],
      ].sort(),
    );
    expect(refused.find((e) => e.actor === "anonymous")!.detail).toEqual({ route: "GET /api/v1/tokens", ip: "127.0.0.1", tokenPrefix: wrong.slice(0, 8) });

    // Nothing else: every entry is one of the above.
    expect(entries).toHaveLength(26 + refused.length);

    // No secret anywhere in the table, whatever column it would hide in.
    const table = JSON.stringify(await s.t.ctx.store.db.selectFrom("audit_log").selectAll().execute());
    for (const secret of secrets) expect(table.includes(secret), `audit log holds a secret (${secret.slice(0, 6)}…)`).toBe(false);
  });
});
