// The MDM engine through its HTTP interface: check-ins and connects signed with Mdm-Signature, commands
// queued through the admin API, on SQLite and PostgreSQL. Messages are built here byte by byte so that
// every protocol edge (bad plists, foreign certificates, unknown commands) can be exercised exactly. Device
// requests go over a real socket, through the listener `orchard serve` runs (mdm-fast-path.ts first);
// admin requests use fastify's inject.
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../databases.ts";
import { listenForDevices, startApiApp, stopApiApp } from "../api-app.ts";
import type { TestContext } from "../context.ts";
import { buildPlist, parsePlist, type PlistDict, type PlistInput } from "../../src/wire/plist.ts";
import { signCms } from "../../src/pki/cms-signed-data.ts";
import { issueDeviceCertificate, type SigningIdentity } from "../../src/pki/issue.ts";
import { createCa } from "../../src/pki/ca.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import { parseCertificate } from "../../src/pki/certificate.ts";
import type { OrchardEvents } from "../../src/events/bus.ts";

interface TestDevice {
  udid: string;
  identity: SigningIdentity;
}

interface DeviceResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: string;
  rawPayload: Buffer;
}

/** One request over a fresh connection; `chunked` sends the body without a Content-Length. */
function send(port: number, method: string, path: string, headers: Record<string, string>, payload: string | Uint8Array, chunked = false): Promise<DeviceResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: chunked ? headers : { ...headers, "content-length": String(Buffer.byteLength(payload)) }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const rawPayload = Buffer.concat(chunks);
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: rawPayload.toString("utf8"), rawPayload });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    if (chunked) {
      // Several writes: node sends them as chunks, with no length announced up front.
      const bytes = Buffer.from(payload);
      for (let i = 0; i < bytes.length; i += 64 * 1024) req.write(bytes.subarray(i, i + 64 * 1024));
      req.end();
    } else req.end(payload);
  });
}

describeEachDatabase("MDM engine over HTTP", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let auth: { authorization: string };
  let devicePort: number;
  let devices: Awaited<ReturnType<typeof listenForDevices>> | undefined;
  const events: Array<{ event: string; payload: unknown }> = [];
  const deviceRequest = (path: string, headers: Record<string, string>, payload: string | Uint8Array) => send(devicePort, "PUT", path, headers, payload);

  beforeAll(async () => {
    ({ t, app, auth } = await startApiApp(database));
    devices = await listenForDevices(app);
    devicePort = devices.port;
    t.ctx.events.onAny((event, payload) => void events.push({ event, payload }));
  });
  afterAll(async () => {
    await devices?.close();
    await stopApiApp({ t, app });
  });

  const keyPromise = generatePrivateKey({ type: "rsa", bits: 2048 });
  async function newDevice(ca: SigningIdentity = t.ctx.credentials.ca, profileId?: string): Promise<TestDevice> {
    const key = await keyPromise;
    const udid = randomUUID().toUpperCase();
    const certDer = issueDeviceCertificate(ca, { subject: `CN=${udid}`, publicKey: key });
    if (profileId) {
      const c = parseCertificate(certDer);
      await t.ctx.store.db
        .insertInto("issued_certificates")
        .values({ serial: c.serialNumberHex, kind: "identity", subject: `CN=${udid}`, not_before: c.notBefore.getTime(), not_after: c.notAfter.getTime(), fingerprint: c.fingerprint, enrollment_id: null, enrollment_profile_id: profileId, revoked_at: null, created_at: Date.now() })
        .execute();
    }
    return { udid, identity: { certDer, key } };
  }

  function signed(device: TestDevice, body: Uint8Array, digest: "sha1" | "sha256" = "sha256"): string {
    return Buffer.from(signCms(body, device.identity, { detached: true, digest, certificates: [device.identity.certDer] })).toString("base64");
  }

  async function put(device: TestDevice, path: string, message: PlistInput, opts: { contentType?: string; signWith?: TestDevice; tamper?: boolean; digest?: "sha1" | "sha256" } = {}) {
    const body = Buffer.from(buildPlist(message), "utf8");
    const sig = signed(opts.signWith ?? device, body, opts.digest);
    const sent = opts.tamper ? Buffer.from(body.toString("utf8").replace("</dict>", "<key>X</key><string>y</string></dict>")) : body;
    const headers: Record<string, string> = { "mdm-signature": sig };
    if (opts.contentType) headers["content-type"] = opts.contentType;
    return deviceRequest(path, headers, sent);
  }

  const checkin = (d: TestDevice, msg: PlistDict, opts: { signWith?: TestDevice; tamper?: boolean; digest?: "sha1" | "sha256" } = {}) =>
    put(d, "/mdm/checkin", { UDID: d.udid, Topic: "com.apple.mgmt.test", ...msg }, { contentType: "application/x-apple-aspen-mdm-checkin", ...opts });

  async function enroll(d: TestDevice, facts: PlistDict = {}) {
    const a = await checkin(d, { MessageType: "Authenticate", DeviceName: "Test iPhone", Model: "iPhone15,2", ModelName: "iPhone", ProductName: "iPhone15,2", OSVersion: "17.4", BuildVersion: "21E219", SerialNumber: `SN${d.udid.slice(0, 8)}`, ...facts });
    expect(a.statusCode).toBe(200);
    const tu = await checkin(d, { MessageType: "TokenUpdate", Token: new Uint8Array(32).fill(7), PushMagic: randomUUID(), UnlockToken: new Uint8Array([1, 2, 3]) });
    expect(tu.statusCode).toBe(200);
  }

  const connect = (d: TestDevice, report: PlistDict, extra: { UserID?: string } = {}) => put(d, "/mdm/connect", { UDID: d.udid, ...extra, ...report });

  async function queue(targets: string[], requestType: string, params: Record<string, unknown> = {}, more: Record<string, unknown> = {}) {
    return app.inject({ method: "POST", url: "/api/v1/commands", headers: auth, payload: { targets, requestType, params, ...more } });
  }

  function commandOf(body: string): { uuid: string; requestType: string } {
    const d = parsePlist(Buffer.from(body)) as PlistDict;
    return { uuid: d.CommandUUID as string, requestType: (d.Command as PlistDict).RequestType as string };
  }

  it("enrolls (Authenticate, TokenUpdate), records the facts and activates the enrollment", async () => {
    const d = await newDevice();
    await enroll(d);
    const r = await app.inject({ url: `/api/v1/enrollments/${d.udid}`, headers: auth });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ id: d.udid, status: "active", channel: "device", platform: "iOS", osVersion: "17.4", serialNumber: `SN${d.udid.slice(0, 8)}`, hasUnlockToken: true, push: { hasToken: true } });
    await t.ctx.events.drain();
    expect(events.some((e) => e.event === "enrollment.activated" && (e.payload as OrchardEvents["enrollment.activated"]).enrollmentId === d.udid)).toBe(true);
    // Optional facts may be missing; a re-enrollment keeps what was known.
    expect((await checkin(d, { MessageType: "Authenticate" })).statusCode).toBe(200);
    expect((await app.inject({ url: `/api/v1/enrollments/${d.udid}`, headers: auth })).json()).toMatchObject({ status: "authenticated", osVersion: "17.4" });
  });

  it("delivers queued commands one at a time, in order, to one and to many, and stores results", async () => {
    const [a, b] = [await newDevice(), await newDevice()];
    await enroll(a);
    await enroll(b);
    const first = (await queue([a.udid, b.udid], "DeviceInformation", { Queries: ["OSVersion", "SerialNumber"] })).json();
    expect(first).toMatchObject({ requestType: "DeviceInformation", targets: 2 });
    const urgent = (await queue([a.udid], "SecurityInfo", {}, { priority: 10 })).json();

    const r1 = await connect(a, { Status: "Idle" });
    expect(r1.statusCode).toBe(200);
    expect(commandOf(r1.body)).toEqual({ uuid: urgent.commandUuid, requestType: "SecurityInfo" });
    const r2 = await connect(a, { Status: "Acknowledged", CommandUUID: urgent.commandUuid, SecurityInfo: { PasscodePresent: true } });
    expect(commandOf(r2.body).uuid).toBe(first.commandUuid);
    const r3 = await connect(a, { Status: "Acknowledged", CommandUUID: first.commandUuid, QueryResponses: { OSVersion: "17.4", SerialNumber: "X" } });
    expect(r3.statusCode).toBe(200);
    expect(r3.body).toBe("");
    expect(r3.headers["content-length"]).toBe("0");

    const rb = await connect(b, { Status: "Idle" });
    expect(commandOf(rb.body).uuid).toBe(first.commandUuid);
    await connect(b, { Status: "Error", CommandUUID: first.commandUuid, ErrorChain: [{ ErrorCode: 12021, ErrorDomain: "MCMDMErrorDomain", LocalizedDescription: "Nope" }] });

    const status = (await app.inject({ url: `/api/v1/commands/${first.commandUuid}`, headers: auth })).json();
    const byId = Object.fromEntries(status.targets.map((x: { enrollmentId: string }) => [x.enrollmentId, x]));
    expect(byId[a.udid]).toMatchObject({ status: "acknowledged", result: { QueryResponses: { OSVersion: "17.4" } } });
    expect(byId[b.udid]).toMatchObject({ status: "error", errorChain: [{ ErrorCode: 12021, ErrorDomain: "MCMDMErrorDomain" }] });
    expect(status).toMatchObject({ total: 2, counts: { acknowledged: 1, error: 1, pending: 0 } });
    const page1 = (await app.inject({ url: `/api/v1/commands/${first.commandUuid}?limit=1`, headers: auth })).json();
    const page2 = (await app.inject({ url: `/api/v1/commands/${first.commandUuid}?limit=1&cursor=${encodeURIComponent(page1.nextCursor)}`, headers: auth })).json();
    expect([...page1.targets, ...page2.targets].map((x: { enrollmentId: string }) => x.enrollmentId).sort()).toEqual([a.udid, b.udid].sort());
    expect(page2.nextCursor).toBeNull();
    const history = (await app.inject({ url: `/api/v1/enrollments/${a.udid}/commands`, headers: auth })).json();
    expect(history.history.map((h: { requestType: string }) => h.requestType).sort()).toEqual(["DeviceInformation", "SecurityInfo"]);
  });

  it("keeps a NotNow command queued and redelivers it at the next Idle", async () => {
    const d = await newDevice();
    await enroll(d);
    const c = (await queue([d.udid], "ProfileList")).json();
    expect(commandOf((await connect(d, { Status: "Idle" })).body).uuid).toBe(c.commandUuid);
    const after = await connect(d, { Status: "NotNow", CommandUUID: c.commandUuid });
    expect(after.body).toBe("");
    expect((await app.inject({ url: `/api/v1/commands/${c.commandUuid}`, headers: auth })).json().targets[0].status).toBe("notnow");
    expect(commandOf((await connect(d, { Status: "Idle" })).body).uuid).toBe(c.commandUuid);
  });

  it("records when a device was last seen, writing it at most once a minute", async () => {
    const d = await newDevice();
    await enroll(d);
    const setLastSeen = (at: number) => t.ctx.store.db.updateTable("enrollments").set({ last_seen_at: at }).where("id", "=", d.udid).execute();
    const lastSeen = async () => Date.parse((await app.inject({ url: `/api/v1/enrollments/${d.udid}`, headers: auth })).json().lastSeenAt as string);

    const stale = Date.now() - 120_000;
    await setLastSeen(stale);
    const before = Date.now();
    expect((await connect(d, { Status: "Idle" })).statusCode).toBe(200);
    expect(await lastSeen()).toBeGreaterThanOrEqual(before);

    const recent = Date.now() - 30_000;
    await setLastSeen(recent);
    expect((await connect(d, { Status: "Idle" })).statusCode).toBe(200);
    expect(await lastSeen()).toBe(recent);
  });

  it("does not deliver expired or cancelled commands", async () => {
    const d = await newDevice();
    await enroll(d);
    const expired = (await queue([d.udid], "ProfileList", {}, { expiresAt: new Date(Date.now() + 60_000).toISOString() })).json();
    // Time passes: the command's expiry is now behind it (an expiresAt already past is refused when queuing).
    await t.ctx.store.db.updateTable("command_queue").set({ expires_at: Date.now() - 1000 }).where("command_uuid", "=", expired.commandUuid).execute();
    await t.ctx.store.db.updateTable("commands").set({ expires_at: Date.now() - 1000 }).where("uuid", "=", expired.commandUuid).execute();
    const cancelled = (await queue([d.udid], "CertificateList")).json();
    const del = await app.inject({ method: "DELETE", url: `/api/v1/commands/${cancelled.commandUuid}`, headers: auth });
    expect(del.json()).toEqual({ cancelled: 1, notCancelled: [], notCancelledTotal: 0 });
    expect((await connect(d, { Status: "Idle" })).body).toBe("");
    expect((await app.inject({ url: `/api/v1/commands/${expired.commandUuid}`, headers: auth })).json().targets[0].status).toBe("expired");
    expect((await app.inject({ url: `/api/v1/commands/${cancelled.commandUuid}`, headers: auth })).json().targets[0].status).toBe("cancelled");
  });

  it("cancels a delivered command only when forced, says why per target, and stops resending it", async () => {
    const [d, e] = [await newDevice(), await newDevice()];
    await enroll(d);
    await enroll(e);
    const c = (await queue([d.udid, e.udid], "CertificateList")).json();
    // d is handed the command and does not answer; e has not connected yet.
    expect(commandOf((await connect(d, { Status: "Idle" })).body).uuid).toBe(c.commandUuid);
    const del = await app.inject({ method: "DELETE", url: `/api/v1/commands/${c.commandUuid}`, headers: auth });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({ cancelled: 1, notCancelled: [{ enrollmentId: d.udid, reason: expect.stringContaining("already delivered; the device has not answered yet") }], notCancelledTotal: 1 });
    // Without force, the unanswered command is sent again at the next Idle (the device may not have received it).
    expect(commandOf((await connect(d, { Status: "Idle" })).body).uuid).toBe(c.commandUuid);
    expect((await connect(e, { Status: "Idle" })).body).toBe("");
    expect((await app.inject({ method: "DELETE", url: `/api/v1/commands/${c.commandUuid}?force=maybe`, headers: auth })).statusCode).toBe(400);
    const forced = await app.inject({ method: "DELETE", url: `/api/v1/commands/${c.commandUuid}?force=true`, headers: auth });
    expect(forced.json()).toEqual({ cancelled: 1, notCancelled: [{ enrollmentId: e.udid, reason: "already finished (cancelled)" }], notCancelledTotal: 1 });
    expect((await connect(d, { Status: "Idle" })).body).toBe("");
    const status = (await app.inject({ url: `/api/v1/commands/${c.commandUuid}`, headers: auth })).json();
    expect(status.counts).toMatchObject({ cancelled: 2, pending: 0 });
    // A late answer from the device is taken as a duplicate, not an error, and does not revive the command.
    expect((await connect(d, { Status: "Acknowledged", CommandUUID: c.commandUuid, CertificateList: [] })).statusCode).toBe(200);
    expect((await app.inject({ url: `/api/v1/commands/${c.commandUuid}`, headers: auth })).json().counts).toMatchObject({ cancelled: 2, acknowledged: 0 });
  });

  it("stops delivery after CheckOut and keeps the history", async () => {
    const d = await newDevice();
    await enroll(d);
    await queue([d.udid], "ProfileList");
    expect((await checkin(d, { MessageType: "CheckOut" })).statusCode).toBe(200);
    expect((await connect(d, { Status: "Idle" })).statusCode).toBe(401);
    expect((await app.inject({ url: `/api/v1/enrollments/${d.udid}`, headers: auth })).json().status).toBe("checked_out");
    const refused = await queue([d.udid], "ProfileList");
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toContain("checked out");
  });

  it("gives a macOS user channel its own queue", async () => {
    const d = await newDevice();
    await enroll(d, { Model: "Mac14,2", ProductName: "Mac14,2", ModelName: "MacBook Air", OSVersion: "14.4" });
    const userId = randomUUID().toUpperCase();
    const tu = await checkin(d, { MessageType: "TokenUpdate", UserID: userId, UserShortName: "ada", UserLongName: "Ada Lovelace", Token: new Uint8Array(32).fill(9), PushMagic: randomUUID() });
    expect(tu.statusCode).toBe(200);
    const userEnrollment = `${d.udid}:${userId}`;
    const u = (await app.inject({ url: `/api/v1/enrollments/${encodeURIComponent(userEnrollment)}`, headers: auth })).json();
    expect(u).toMatchObject({ channel: "user", kind: "user", deviceId: d.udid, userShortName: "ada", status: "active" });
    const forUser = (await queue([userEnrollment], "ProfileList")).json();
    const forDevice = (await queue([d.udid], "CertificateList")).json();
    expect(commandOf((await connect(d, { Status: "Idle" }, { UserID: userId })).body).uuid).toBe(forUser.commandUuid);
    expect(commandOf((await connect(d, { Status: "Idle" })).body).uuid).toBe(forDevice.commandUuid);
    // A device-only command is refused for the user channel with the reason.
    const lock = await queue([userEnrollment], "DeviceLock");
    expect(lock.statusCode).toBe(409);
    expect(lock.json().error.message).toMatch(/user channel|channel/i);
  });

  it("escrows the bootstrap token encrypted, returns it, and clears it on request", async () => {
    const d = await newDevice();
    await enroll(d, { Model: "Mac14,2", ProductName: "Mac14,2" });
    const token = new Uint8Array(Buffer.from("bootstrap-token-secret-value"));
    expect((await checkin(d, { MessageType: "SetBootstrapToken", BootstrapToken: token })).statusCode).toBe(200);
    const row = await t.ctx.store.db.selectFrom("enrollments").select("bootstrap_token_sealed").where("id", "=", d.udid).executeTakeFirst();
    expect(Buffer.from(row!.bootstrap_token_sealed!).includes(Buffer.from("bootstrap-token-secret-value"))).toBe(false);
    const got = await checkin(d, { MessageType: "GetBootstrapToken" });
    expect(Buffer.from((parsePlist(got.rawPayload) as PlistDict).BootstrapToken as Uint8Array).toString()).toBe("bootstrap-token-secret-value");
    expect((await checkin(d, { MessageType: "SetBootstrapToken" })).statusCode).toBe(200);
    expect(parsePlist((await checkin(d, { MessageType: "GetBootstrapToken" })).rawPayload)).toEqual({});
  });

  it("answers UserAuthenticate with 410, GetToken for an unknown service with 400, DeclarativeManagement with 404", async () => {
    const d = await newDevice();
    await enroll(d, { Model: "Mac14,2", ProductName: "Mac14,2" });
    expect((await checkin(d, { MessageType: "UserAuthenticate", UserID: randomUUID(), DigestResponse: "" })).statusCode).toBe(410);
    expect((await checkin(d, { MessageType: "GetToken", TokenServiceType: "com.example.nope" })).statusCode).toBe(400);
    expect((await checkin(d, { MessageType: "DeclarativeManagement", Endpoint: "tokens" })).statusCode).toBe(404);
  });

  it("accepts both when check-ins and reports share the ServerURL", async () => {
    const d = await newDevice();
    const a = await put(d, "/mdm/connect", { MessageType: "Authenticate", UDID: d.udid, Topic: "t" }, { contentType: "application/x-apple-aspen-mdm-checkin" });
    expect(a.statusCode).toBe(200);
    // No Content-Type at all: told apart by MessageType vs Status.
    expect((await put(d, "/mdm/connect", { MessageType: "TokenUpdate", UDID: d.udid, Topic: "t", Token: new Uint8Array(32), PushMagic: "pm" })).statusCode).toBe(200);
    expect((await put(d, "/mdm/connect", { Status: "Idle", UDID: d.udid })).statusCode).toBe(200);
  });

  it("accepts SHA-1 and SHA-256 signatures and refuses altered bodies, foreign CAs and certificates bound elsewhere", async () => {
    const d = await newDevice();
    await enroll(d);
    expect((await connect(d, { Status: "Idle" })).statusCode).toBe(200);
    expect((await put(d, "/mdm/connect", { UDID: d.udid, Status: "Idle" }, { digest: "sha1" })).statusCode).toBe(200);
    const tampered = await put(d, "/mdm/connect", { UDID: d.udid, Status: "Idle" }, { tamper: true });
    expect(tampered.statusCode).toBe(401);
    expect(tampered.body).toContain("digest-mismatch");

    const foreignCa = await createCa({ subject: "CN=Evil CA" });
    const intruder = await newDevice(foreignCa);
    const foreign = await checkin(intruder, { MessageType: "Authenticate" });
    expect(foreign.statusCode).toBe(401);
    expect(foreign.body).toContain("untrusted");

    // Another device's certificate cannot speak for this one, at check-in or at connect.
    const other = await newDevice();
    await enroll(other);
    expect((await put(d, "/mdm/connect", { UDID: d.udid, Status: "Idle" }, { signWith: other })).statusCode).toBe(401);
    const hijack = await put(d, "/mdm/checkin", { UDID: d.udid, MessageType: "Authenticate", Topic: "t" }, { signWith: other, contentType: "application/x-apple-aspen-mdm-checkin" });
    expect(hijack.statusCode).toBe(401);
    expect(hijack.body).toContain("bound to another enrollment");
    // Unsigned requests prove nothing.
    expect((await deviceRequest("/mdm/connect", {}, buildPlist({ UDID: d.udid, Status: "Idle" }))).statusCode).toBe(401);
  });

  it("refuses bad input with a clear 4xx that changes nothing", async () => {
    const d = await newDevice();
    await enroll(d);
    const c = (await queue([d.udid], "ProfileList")).json();
    const garbage = await deviceRequest("/mdm/checkin", { "mdm-signature": signed(d, Buffer.from("<plist><dict><key>")) }, "<plist><dict><key>");
    expect(garbage.statusCode).toBe(400);
    expect(garbage.body).toContain("malformed plist");
    const unknownType = await checkin(d, { MessageType: "Teleport" });
    expect(unknownType.statusCode).toBe(400);
    expect(unknownType.body).toContain("Teleport");
    const noUdid = await put(d, "/mdm/checkin", { MessageType: "Authenticate", Topic: "t" }, { contentType: "application/x-apple-aspen-mdm-checkin" });
    expect(noUdid.statusCode).toBe(400);
    expect(noUdid.body).toContain("UDID");
    const stranger = await newDevice();
    expect((await connect(stranger, { Status: "Idle" })).statusCode).toBe(401);
    const neverSent = await connect(d, { Status: "Acknowledged", CommandUUID: c.commandUuid });
    expect(neverSent.statusCode).toBe(400);
    expect(neverSent.body).toContain("was not sent");
    const badStatus = await connect(d, { Status: "Maybe" });
    expect(badStatus.statusCode).toBe(400);
    // Nothing changed: the command is still there to be delivered.
    expect(commandOf((await connect(d, { Status: "Idle" })).body).uuid).toBe(c.commandUuid);
    const tooBig = await deviceRequest("/mdm/connect", {}, Buffer.alloc(t.ctx.config.mdmBodyLimit + 1));
    expect(tooBig.statusCode).toBe(413);
    expect(JSON.parse(tooBig.body).error.code).toBe("payload_too_large");
    // Without a Content-Length the limit holds as the body arrives.
    const tooBigChunked = await send(devicePort, "PUT", "/mdm/connect", {}, Buffer.alloc(t.ctx.config.mdmBodyLimit + 1), true);
    expect(tooBigChunked.statusCode).toBe(413);
  });

  it("refuses commands the target cannot execute: access rights, unknown commands, bad parameters, unknown targets", async () => {
    const limited = (await app.inject({ method: "POST", url: "/api/v1/enrollment-profiles", headers: auth, payload: { name: `limited-${database.dialect}`, accessRights: 1 | 16 } })).json();
    const d = await newDevice(t.ctx.credentials.ca, limited.id);
    await enroll(d);
    expect((await app.inject({ url: `/api/v1/enrollments/${d.udid}`, headers: auth })).json().enrollmentProfileId).toBe(limited.id);
    const erase = await queue([d.udid], "EraseDevice", { PIN: "123456" });
    expect(erase.statusCode).toBe(409);
    expect(erase.json().error.message).toMatch(/access right/i);
    expect((await queue([d.udid], "Teleport")).statusCode).toBe(400);
    const bad = await queue([d.udid], "DeviceInformation", { Queries: "OSVersion" });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain("Queries");
    const unknown = await queue(["nobody"], "ProfileList");
    expect(unknown.statusCode).toBe(404);
    // Nothing was queued by any of these.
    expect((await connect(d, { Status: "Idle" })).body).toBe("");
  });

  it("checks command parameters as strictly as the top level, per target, and can skip refused targets", async () => {
    const [phone, mac] = [await newDevice(), await newDevice()];
    await enroll(phone);
    await enroll(mac, { Model: "Mac14,2", ProductName: "Mac14,2", ModelName: "MacBook Air", OSVersion: "14.4" });
    const problem = async (r: Awaited<ReturnType<typeof queue>>, status: number) => {
      expect(r.statusCode).toBe(status);
      return r.json().error.message as string;
    };
    // A misspelt key is named, with the key it resembles.
    expect(await problem(await queue([phone.udid], "DeviceLock", { Mesage: "Call IT" }), 400)).toContain('Command.Mesage: key is not in the schema (did you mean "Message"?)');
    // DeviceInformation queries are names Apple documents (also those documented only as answers).
    expect(await problem(await queue([phone.udid], "DeviceInformation", { Queries: ["OSVersion", "SerailNumber"] }), 400)).toContain('"SerailNumber" is not a value the schema lists (did you mean "SerialNumber"?)');
    expect((await queue([phone.udid], "DeviceInformation", { Queries: ["SerialNumber", "SIMMCC", "IsSupervised"] })).statusCode).toBe(201);
    // InstallProfile's Payload must be a configuration profile (plain or signed).
    const notProfile = Buffer.from(buildPlist({ Hello: "world" })).toString("base64");
    expect(await problem(await queue([phone.udid], "InstallProfile", { Payload: notProfile }), 400)).toMatch(/Command\.Payload\.PayloadType: must be "Configuration"/);
    expect(await problem(await queue([phone.udid], "InstallProfile", { Payload: Buffer.from("not a plist").toString("base64") }), 400)).toContain("not a configuration profile");
    const profile = Buffer.from(buildPlist({ PayloadType: "Configuration", PayloadIdentifier: "com.example.p", PayloadUUID: randomUUID(), PayloadVersion: 1, PayloadDisplayName: "P", PayloadContent: [{ PayloadType: "com.apple.webClip.managed", PayloadIdentifier: "com.example.p.w", PayloadUUID: randomUUID(), PayloadVersion: 1, URL: "https://example.com", Label: "Ex" }] }));
    expect((await queue([phone.udid], "InstallProfile", { Payload: profile.toString("base64") })).statusCode).toBe(201);
    const signedProfile = signCms(profile, t.ctx.credentials.ca, { certificates: [t.ctx.credentials.ca.certDer] });
    expect((await queue([phone.udid], "InstallProfile", { Payload: Buffer.from(signedProfile).toString("base64") })).statusCode).toBe(201);
    // An expiry already past would never be delivered.
    expect(await problem(await queue([phone.udid], "ProfileList", {}, { expiresAt: new Date(Date.now() - 1000).toISOString() }), 400)).toContain("in the past");
    // DeviceLock's PIN exists on macOS only: refused for the iPhone, with the reason.
    const lock = await queue([phone.udid, mac.udid], "DeviceLock", { PIN: "123456", Message: "Call IT" });
    expect(await problem(lock, 409)).toContain("Command.PIN: key does not apply to iOS");
    expect(lock.json().error.details.refused).toEqual([{ enrollmentId: phone.udid, reason: "Command.PIN: key does not apply to iOS" }]);
    // skipRefused queues for the rest and lists the refused targets with their reasons.
    const skipped = await queue([phone.udid, mac.udid, "nobody"], "DeviceLock", { PIN: "123456" }, { skipRefused: true });
    expect(skipped.statusCode).toBe(201);
    expect(skipped.json()).toMatchObject({ requestType: "DeviceLock", targets: 1, refused: expect.arrayContaining([{ enrollmentId: phone.udid, reason: "Command.PIN: key does not apply to iOS" }, { enrollmentId: "nobody", reason: "unknown enrollment" }]) });
    expect(commandOf((await connect(mac, { Status: "Idle" })).body)).toEqual({ uuid: skipped.json().commandUuid, requestType: "DeviceLock" });
    expect(await problem(await queue([phone.udid], "DeviceLock", { PIN: "123456" }, { skipRefused: true }), 409)).toContain("any of the targets");
    expect(await problem(await queue([phone.udid], "ProfileList", {}, { skipRefused: "yes" }), 400)).toContain("skipRefused");
    expect(await problem(await queue([phone.udid], "ProfileList", {}, { skipRefuse: true }), 400)).toContain('unknown field: skipRefuse (did you mean "skipRefused"?)');
  });

  it("skips, with the reason, a device whose identity renewal may not be sent, and renews the others", async () => {
    const limited = (await app.inject({ method: "POST", url: "/api/v1/enrollment-profiles", headers: auth, payload: { name: `no-profiles-${database.dialect}`, accessRights: 1 | 16 } })).json();
    const full = (await app.inject({ method: "POST", url: "/api/v1/enrollment-profiles", headers: auth, payload: { name: `renewable-${database.dialect}` } })).json();
    const [stuck, ok] = [await newDevice(t.ctx.credentials.ca, limited.id), await newDevice(t.ctx.credentials.ca, full.id)];
    await enroll(stuck);
    await enroll(ok);
    // Both identities expire within the renewal window.
    for (const d of [stuck, ok]) {
      await t.ctx.store.db.updateTable("issued_certificates").set({ not_after: Date.now() + 86_400_000 }).where("fingerprint", "=", parseCertificate(d.identity.certDer).fingerprint).execute();
    }
    const outcome = await t.ctx.identityRenewal.run();
    expect(outcome.queued).toContain(ok.udid);
    expect(outcome.skipped).toContainEqual({ enrollmentId: stuck.udid, reason: expect.stringMatching(/access right/) });
    const delivered = parsePlist(Buffer.from((await connect(ok, { Status: "Idle" })).body)) as PlistDict;
    expect((delivered.Command as PlistDict).RequestType).toBe("InstallProfile");
    // The refused renewal left nothing behind: its challenge rolled back with it, so the next sweep tries again
    // (an unspent challenge would hold the device off until it expired, 14 days later).
    const challenges = await t.ctx.store.db.selectFrom("scep_challenges").select("enrollment_id").where("enrollment_id", "in", [stuck.udid, ok.udid]).execute();
    expect(challenges.map((c) => c.enrollment_id)).toEqual([ok.udid]);
    expect((await t.ctx.identityRenewal.run()).skipped).toContainEqual({ enrollmentId: stuck.udid, reason: expect.stringMatching(/access right/) });
  });

  it("serves device routes on the socket as fastify would: other methods, query strings, metrics, unexpected errors", async () => {
    const d = await newDevice();
    await enroll(d);
    const metric = async (line: string) => {
      const text = (await app.inject("/metrics")).body;
      return Number(text.split("\n").find((l) => l.startsWith(line))?.slice(line.length + 1) ?? 0);
    };
    const okLine = 'orchard_http_requests_total{method="PUT",route="/mdm/connect",status="200"}';
    const before = await metric(okLine);
    const body = Buffer.from(buildPlist({ UDID: d.udid, Status: "Idle" }));
    // A ServerURL with a query string is the same route.
    const withQuery = await deviceRequest("/mdm/connect?tenant=a", { "mdm-signature": signed(d, body) }, body);
    expect(withQuery.statusCode).toBe(200);
    expect(withQuery.body).toBe("");
    expect(await metric(okLine)).toBe(before + 1);
    // Not a device route: fastify answers.
    const get = await send(devicePort, "GET", "/mdm/connect", {}, "");
    expect(get.statusCode).toBe(404);
    expect(JSON.parse(get.body).error.code).toBe("not_found");
    // A failure below the HTTP layer: 500, logged, with nothing of the failure in the answer.
    const handle = t.ctx.mdm.connect.handle.bind(t.ctx.mdm.connect);
    t.ctx.mdm.connect.handle = () => Promise.reject(new Error("relation secret_table does not exist"));
    try {
      const failed = await deviceRequest("/mdm/connect", { "mdm-signature": signed(d, body) }, body);
      expect(failed.statusCode).toBe(500);
      expect(JSON.parse(failed.body)).toEqual({ error: { code: "internal_error", message: "internal server error" } });
      expect(await metric('orchard_http_requests_total{method="PUT",route="/mdm/connect",status="500"}')).toBeGreaterThanOrEqual(1);
    } finally {
      t.ctx.mdm.connect.handle = handle;
    }
    expect((await deviceRequest("/mdm/connect", { "mdm-signature": signed(d, body) }, body)).statusCode).toBe(200);
  });

  it("takes a raw command plist", async () => {
    const d = await newDevice();
    await enroll(d);
    const uuid = `raw-${randomUUID()}`;
    const r = await app.inject({
      method: "POST",
      url: `/api/v1/commands?target=${d.udid}`,
      headers: { ...auth, "content-type": "application/x-apple-plist" },
      payload: buildPlist({ CommandUUID: uuid, Command: { RequestType: "DeviceLock", Message: "Call IT" } }),
    });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toEqual({ commandUuid: uuid, requestType: "DeviceLock", targets: 1 });
    const got = parsePlist(Buffer.from((await connect(d, { Status: "Idle" })).body)) as PlistDict;
    expect(got).toEqual({ CommandUUID: uuid, Command: { RequestType: "DeviceLock", Message: "Call IT" } });
  });

  it("sends signed webhooks, in Orchard's format and NanoMDM's", async () => {
    const received: Array<{ headers: Record<string, unknown>; body: string }> = [];
    const server: Server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const h1 = (await app.inject({ method: "POST", url: "/api/v1/webhooks", headers: auth, payload: { url, events: ["command.completed"], secret: "s3cret-s3cret-s3cret" } })).json();
    await app.inject({ method: "POST", url: "/api/v1/webhooks", headers: auth, payload: { url, events: ["mdm.Connect"], format: "nanomdm" } });
    const d = await newDevice();
    await enroll(d);
    const c = (await queue([d.udid], "ProfileList")).json();
    await connect(d, { Status: "Idle" });
    await connect(d, { Status: "Acknowledged", CommandUUID: c.commandUuid, ProfileList: [] });
    await t.ctx.events.drain();
    await t.ctx.jobs.runDue();
    server.close();
    const ours = received.find((r) => r.headers["x-orchard-event"] === "command.completed" && JSON.parse(r.body).data?.commandUuid === c.commandUuid);
    expect(ours).toBeDefined();
    expect(JSON.parse(ours!.body).data.requestType).toBe("ProfileList");
    const { createHmac } = await import("node:crypto");
    const expected = createHmac("sha256", "s3cret-s3cret-s3cret").update(`${ours!.headers["x-orchard-timestamp"]}.${ours!.body}`).digest("hex");
    expect(ours!.headers["x-orchard-signature"]).toBe(`sha256=${expected}`);
    const nano = received.map((r) => JSON.parse(r.body)).find((b) => b.topic === "mdm.Connect" && b.acknowledge_event?.command_uuid === c.commandUuid);
    expect(nano.acknowledge_event).toMatchObject({ udid: d.udid, status: "Acknowledged" });
    expect(parsePlist(Buffer.from(nano.acknowledge_event.raw_payload, "base64"))).toMatchObject({ Status: "Acknowledged", CommandUUID: c.commandUuid });
    const log = (await app.inject({ url: `/api/v1/webhooks/${h1.webhook.id}/deliveries`, headers: auth })).json();
    expect(log.deliveries.some((x: { status: string; responseStatus: number }) => x.status === "delivered" && x.responseStatus === 200)).toBe(true);
  });
});
