import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../../../test/databases.ts";
import { buildTestContext, type TestContext } from "../../../test/context.ts";
import { buildHttpApp } from "../../http/app.ts";
import { parsePlist, type PlistDict } from "../../wire/plist.ts";
import { validateProfile } from "../../wire/schema/index.ts";
import { derToPem } from "../../pki/pem.ts";
import { GENERIC_IDENTITY_CN } from "./enrollment-profiles.ts";

describeEachDatabase("enrollment profiles", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let auth: { authorization: string };
  let dir: string;

  beforeAll(async () => {
    t = await buildTestContext(database);
    app = await buildHttpApp(t.ctx);
    auth = { authorization: `Bearer ${(await t.ctx.tokens.create("admin", "admin", "system:test")).token}` };
    dir = mkdtempSync(join(tmpdir(), "orchard-ep-"));
  });
  afterAll(async () => {
    await app.close();
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const create = (body: Record<string, unknown>) => app.inject({ method: "POST", url: "/api/v1/enrollment-profiles", headers: auth, payload: body });

  it("creates a profile with the documented defaults, not deliverable before a push certificate", async () => {
    const r = await create({ name: "Corporate iPhones" });
    expect(r.statusCode).toBe(201);
    const p = r.json();
    expect(p).toMatchObject({ name: "Corporate iPhones", accessRights: 8191, signMessage: true, checkOutWhenRemoved: true, validityDays: 14, keySize: 2048, userAffinity: "none", ownership: "corporate", deliverable: false });
    expect(p.serverCapabilities).toEqual(["com.apple.mdm.per-user-connections", "com.apple.mdm.bootstraptoken", "com.apple.mdm.token"]);
    expect(p.topic).toMatch(/^com\.apple\.mgmt\./);
    expect(p.links.enroll).toMatch(/^https:\/\/orchard\.test:8443\/enroll\/[A-Za-z0-9_-]{20,}$/);
    expect((await create({ name: "Corporate iPhones" })).statusCode).toBe(409);
  });

  it("refuses invalid AccessRights combinations with a clear 400", async () => {
    for (const [value, words] of [[0, "0"], [2, "requires 1"], [128 + 1, "requires 64"], [9000, "8191"]] as const) {
      const r = await create({ name: `bad-${value}`, accessRights: value });
      expect(r.statusCode).toBe(400);
      expect(r.json().error.message).toContain(words);
    }
    expect((await create({ name: "good-3", accessRights: 3 })).statusCode).toBe(201);
  });

  it("serves a signed .mobileconfig that openssl verifies, and an unsigned one plistlib parses, both matching Apple's schema", async () => {
    const p = (await create({ name: "Macs", separateCheckInUrl: true })).json();
    const signed = await app.inject({ url: `/api/v1/enrollment-profiles/${p.id}/mobileconfig`, headers: auth });
    expect(signed.statusCode).toBe(200);
    expect(signed.headers["content-type"]).toBe("application/x-apple-aspen-config");
    writeFileSync(join(dir, "p.mobileconfig"), signed.rawPayload);
    writeFileSync(join(dir, "ca.pem"), derToPem(t.ctx.credentials.ca.certDer));
    const content = execFileSync("openssl", ["smime", "-verify", "-inform", "DER", "-in", join(dir, "p.mobileconfig"), "-CAfile", join(dir, "ca.pem"), "-purpose", "any"], { stdio: ["ignore", "pipe", "pipe"] });
    const profile = parsePlist(content) as PlistDict;

    const unsigned = await app.inject({ url: `/api/v1/enrollment-profiles/${p.id}/mobileconfig?signed=false`, headers: auth });
    writeFileSync(join(dir, "u.mobileconfig"), unsigned.rawPayload);
    const py = execFileSync("python3", ["-c", "import plistlib,sys,json; d=plistlib.load(open(sys.argv[1],'rb')); print(json.dumps([x['PayloadType'] for x in d['PayloadContent']]))", join(dir, "u.mobileconfig")]).toString();
    expect(JSON.parse(py)).toEqual(["com.apple.security.root", "com.apple.security.scep", "com.apple.mdm"]);

    expect(validateProfile(profile, { reportUnknownKeys: true })).toEqual([]);
    const [root, scep, mdm] = profile.PayloadContent as PlistDict[];
    expect(Buffer.from(root!.PayloadContent as Uint8Array).equals(Buffer.from(t.ctx.credentials.ca.certDer))).toBe(true);
    const sc = scep!.PayloadContent as PlistDict;
    expect(sc).toMatchObject({ URL: "https://orchard.test:8443/scep", Keysize: 2048, "Key Type": "RSA", "Key Usage": 5 });
    expect(typeof sc.Challenge).toBe("string");
    expect(mdm).toMatchObject({ IdentityCertificateUUID: scep!.PayloadUUID, ServerURL: "https://orchard.test:8443/mdm/connect", CheckInURL: "https://orchard.test:8443/mdm/checkin", AccessRights: 8191, SignMessage: true, CheckOutWhenRemoved: true });
    for (const key of ["PayloadIdentifier", "PayloadUUID", "PayloadDisplayName", "PayloadOrganization", "PayloadDescription"]) expect(profile[key]).toBeTypeOf("string");
    // UUIDs are stable for a profile version, and change with it.
    const again = parsePlist((await app.inject({ url: `/api/v1/enrollment-profiles/${p.id}/mobileconfig?signed=false`, headers: auth })).rawPayload) as PlistDict;
    expect(again.PayloadUUID).toBe(profile.PayloadUUID);
    await app.inject({ method: "PATCH", url: `/api/v1/enrollment-profiles/${p.id}`, headers: auth, payload: { description: "v2" } });
    const v2 = parsePlist((await app.inject({ url: `/api/v1/enrollment-profiles/${p.id}/mobileconfig?signed=false`, headers: auth })).rawPayload) as PlistDict;
    expect(v2.PayloadUUID).not.toBe(profile.PayloadUUID);
  });

  it("serves the public link while live: 410 once lapsed, 404 when deleted or unknown; renew issues a new link", async () => {
    const p = (await create({ name: "Kiosks" })).json();
    const path = new URL(p.links.enroll).pathname;
    const ok = await app.inject(path);
    expect(ok.statusCode).toBe(200);
    expect(ok.headers["content-type"]).toBe("application/x-apple-aspen-config");

    await t.ctx.store.db.updateTable("enrollment_profiles").set({ expires_at: Date.now() - 1 }).where("id", "=", p.id).execute();
    const lapsed = await app.inject(path);
    expect(lapsed.statusCode).toBe(410);
    expect(lapsed.body).toContain("expired");

    const renewed = (await app.inject({ method: "POST", url: `/api/v1/enrollment-profiles/${p.id}/renew`, headers: auth })).json();
    expect(renewed.links.enroll).not.toBe(p.links.enroll);
    expect((await app.inject(new URL(renewed.links.enroll).pathname)).statusCode).toBe(200);
    expect((await app.inject(path)).statusCode).toBe(404);

    expect((await app.inject({ method: "DELETE", url: `/api/v1/enrollment-profiles/${p.id}`, headers: auth })).statusCode).toBe(204);
    expect((await app.inject(new URL(renewed.links.enroll).pathname)).statusCode).toBe(404);
    expect((await app.inject({ url: `/api/v1/enrollment-profiles/${p.id}`, headers: auth })).statusCode).toBe(404);
    expect((await app.inject({ url: "/api/v1/enrollment-profiles/nope/mobileconfig", headers: auth })).statusCode).toBe(404);
    expect((await app.inject("/enroll/not-a-token")).statusCode).toBe(404);
  });

  // Issue 16 item 15: a generic download made every identity "CN=pending-<random>", which reads as a failed
  // enrollment; the device facts are only known when Orchard re-sends the profile to a known device.
  it("names the identity meaningfully: device facts when known, never a made-up placeholder", async () => {
    const svc = t.ctx.enrollmentProfiles;
    const subjectOf = async (row: Awaited<ReturnType<typeof svc.row>>, device?: { serialNumber?: string; udid?: string; deviceName?: string }) => {
      const xml = parsePlist(await svc.mobileconfig(row, { signed: false, ...(device ? { device } : {}) })) as PlistDict;
      return ((xml.PayloadContent as PlistDict[])[1]!.PayloadContent as PlistDict).Subject;
    };
    const generic = await svc.row((await create({ name: "Field iPads" })).json().id);
    expect(await subjectOf(generic)).toEqual([[["CN", GENERIC_IDENTITY_CN]], [["O", "Field iPads"]]]);
    expect(await subjectOf(generic, { serialNumber: "C02XK1ABJGH5", udid: "00008030-001A2B3C4D5E6F70" })).toEqual([[["CN", "C02XK1ABJGH5"]], [["O", "Field iPads"]]]);

    const custom = await svc.row((await create({ name: "Kiosks", subjectTemplate: "CN=%DeviceName%,OU=%UDID%,O=Acme\\, Inc." })).json().id);
    expect(await subjectOf(custom)).toEqual([[["CN", GENERIC_IDENTITY_CN]], [["O", "Acme, Inc."]]]);
    expect(await subjectOf(custom, { udid: "00008030-001A2B3C4D5E6F70" })).toEqual([[["CN", GENERIC_IDENTITY_CN]], [["OU", "00008030-001A2B3C4D5E6F70"]], [["O", "Acme, Inc."]]]);
    expect(await subjectOf(custom, { udid: "U1", deviceName: "Lobby, west" })).toEqual([[["CN", "Lobby, west"]], [["OU", "U1"]], [["O", "Acme, Inc."]]]);
    expect(JSON.stringify(await subjectOf(custom))).not.toContain("pending");
  });

  it("redeems static challenges while the profile lives and one-time challenges once", async () => {
    const svc = t.ctx.enrollmentProfiles;
    const p = (await create({ name: "Challenge test" })).json();
    const row = await svc.row(p.id);
    const xml = parsePlist(await svc.mobileconfig(row, { signed: false })) as PlistDict;
    const challenge = ((xml.PayloadContent as PlistDict[])[1]!.PayloadContent as PlistDict).Challenge as string;
    expect(await svc.redeemChallenge(challenge)).toEqual({ ok: true, profileId: p.id, enrollmentId: null });
    expect(await svc.redeemChallenge(challenge)).toMatchObject({ ok: true });

    const r = await app.inject({ method: "POST", url: "/api/v1/scep/challenges", headers: auth, payload: { enrollmentProfileId: p.id } });
    expect(r.statusCode).toBe(201);
    const one = r.json().challenge as string;
    expect(await svc.redeemChallenge(one)).toEqual({ ok: true, profileId: p.id, enrollmentId: null });
    expect(await svc.redeemChallenge(one)).toEqual({ ok: false, reason: "the challenge has already been used" });
    expect(await svc.redeemChallenge("wrong")).toEqual({ ok: false, reason: "unknown challenge" });

    await app.inject({ method: "DELETE", url: `/api/v1/enrollment-profiles/${p.id}`, headers: auth });
    expect(await svc.redeemChallenge(challenge)).toMatchObject({ ok: false, reason: expect.stringContaining("deleted") });
  });
});
