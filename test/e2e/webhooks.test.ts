// Webhooks end to end: devices talk to the real device front end over a socket, deliveries are sent by the job
// runner with fetch to a real receiver on a port of this machine, on SQLite and PostgreSQL. What is checked is
// what an integration sees: the bodies, the subscriptions it may make, and why a delivery failed.
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../databases.ts";
import { listenForDevices, startApiApp, stopApiApp } from "../api-app.ts";
import type { TestContext } from "../context.ts";
import { buildBinaryPlist, buildPlist, parsePlist, type PlistDict } from "../../src/wire/plist.ts";
import { signCms } from "../../src/pki/cms-signed-data.ts";
import { issueDeviceCertificate, type SigningIdentity } from "../../src/pki/issue.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import { EVENT_NAMES } from "../../src/events/bus.ts";

interface Received {
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** A receiver that answers every delivery with `answer` and keeps what it got. */
async function receiver(answer: { status: number; body: string } = { status: 200, body: "ok" }) {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown> });
      res.writeHead(answer.status, { "content-type": "text/plain" }).end(answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, close: () => new Promise((r) => server.close(r)) };
}

function put(port: number, path: string, headers: Record<string, string>, payload: Uint8Array): Promise<{ statusCode: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "PUT", path, headers: { ...headers, "content-length": String(payload.length) }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });
}

describeEachDatabase("webhooks", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let auth: { authorization: string };
  let devices: Awaited<ReturnType<typeof listenForDevices>> | undefined;
  let devicePort: number;

  beforeAll(async () => {
    ({ t, app, auth } = await startApiApp(database));
    devices = await listenForDevices(app);
    devicePort = devices.port;
  });
  afterAll(async () => {
    await devices?.close();
    await stopApiApp({ t, app });
  });

  const keyPromise = generatePrivateKey({ type: "rsa", bits: 2048 });
  async function enrolledDevice() {
    const key = await keyPromise;
    const udid = randomUUID().toUpperCase();
    const identity: SigningIdentity = { certDer: issueDeviceCertificate(t.ctx.credentials.ca, { subject: `CN=${udid}`, publicKey: key }), key };
    const send = async (path: string, body: Uint8Array, contentType?: string) => {
      const signature = Buffer.from(signCms(body, identity, { detached: true, digest: "sha256", certificates: [identity.certDer] })).toString("base64");
      const r = await put(devicePort, path, { "mdm-signature": signature, ...(contentType ? { "content-type": contentType } : {}) }, body);
      expect(r.statusCode).toBe(200);
      return r.body;
    };
    const checkin = (msg: PlistDict) => send("/mdm/checkin", Buffer.from(buildPlist({ UDID: udid, Topic: "com.apple.mgmt.test", ...msg })), "application/x-apple-aspen-mdm-checkin");
    await checkin({ MessageType: "Authenticate", DeviceName: "Test iPhone", Model: "iPhone15,2", ProductName: "iPhone15,2", OSVersion: "17.4", SerialNumber: `SN${udid.slice(0, 8)}` });
    await checkin({ MessageType: "TokenUpdate", Token: new Uint8Array(32).fill(7), PushMagic: randomUUID(), UnlockToken: new Uint8Array([1, 2, 3]) });
    return {
      udid,
      checkin,
      connect: (report: PlistDict) => send("/mdm/connect", Buffer.from(buildPlist({ UDID: udid, ...report }))),
      connectBinary: (report: PlistDict) => send("/mdm/connect", buildBinaryPlist({ UDID: udid, ...report })),
    };
  }

  const subscribe = (payload: Record<string, unknown>) => app.inject({ method: "POST", url: "/api/v1/webhooks", headers: auth, payload });
  const queue = async (udid: string, requestType: string, params: Record<string, unknown> = {}) =>
    (await app.inject({ method: "POST", url: "/api/v1/commands", headers: auth, payload: { targets: [udid], requestType, params } })).json().commandUuid as string;
  async function deliverAll() {
    await t.ctx.events.drain();
    await t.ctx.jobs.runDue();
  }
  async function withHook<T>(payload: Record<string, unknown>, answer: { status: number; body: string } | undefined, fn: (hook: { id: string }, got: Received[]) => Promise<T>): Promise<T> {
    const r = await receiver(answer);
    const created = await subscribe({ url: r.url, ...payload });
    expect(created.statusCode).toBe(201);
    const hook = created.json().webhook as { id: string };
    try {
      return await fn(hook, r.got);
    } finally {
      await app.inject({ method: "DELETE", url: `/api/v1/webhooks/${hook.id}`, headers: auth });
      await r.close();
    }
  }

  it("sends raw as base64 and the parsed result (data as base64, dates ISO) in Orchard's format", async () => {
    await withHook({ events: ["command.completed", "checkin.received"] }, undefined, async (_hook, got) => {
      const d = await enrolledDevice();
      const uuid = await queue(d.udid, "CertificateList");
      await d.connect({ Status: "Idle" });
      const issued = new Date("2024-05-01T12:00:00Z");
      // Binary, as macOS sends results: its data values are Buffers once parsed, the case JSON.stringify spells as byte arrays.
      await d.connectBinary({ Status: "Acknowledged", CommandUUID: uuid, CertificateList: [{ CommonName: "Root", Data: new Uint8Array([0x30, 0x82, 1, 2]), IsIdentity: false, NotAfter: issued }] });
      await d.checkin({ MessageType: "CheckOut" });
      await deliverAll();

      const completed = got.find((g) => g.headers["x-orchard-event"] === "command.completed")?.body.data as Record<string, unknown>;
      expect(completed).toMatchObject({ commandUuid: uuid, requestType: "CertificateList", enrollmentId: d.udid, status: "acknowledged" });
      expect(typeof completed.raw).toBe("string");
      expect(parsePlist(Buffer.from(completed.raw as string, "base64"))).toMatchObject({ CommandUUID: uuid, Status: "Acknowledged" });
      expect(completed.result).toEqual({
        UDID: d.udid,
        Status: "Acknowledged",
        CommandUUID: uuid,
        CertificateList: [{ CommonName: "Root", Data: Buffer.from([0x30, 0x82, 1, 2]).toString("base64"), IsIdentity: false, NotAfter: issued.toISOString() }],
      });
      // checkin.received goes to an Orchard-format hook that names it, with the message parsed.
      const checkout = got.find((g) => g.headers["x-orchard-event"] === "checkin.received" && (g.body.data as { messageType: string }).messageType === "CheckOut")?.body.data as Record<string, unknown>;
      expect(checkout).toMatchObject({ enrollmentId: d.udid, messageType: "CheckOut", message: { MessageType: "CheckOut", UDID: d.udid } });
      expect(typeof checkout.raw).toBe("string");
    });
  });

  it("refuses unknown event names with the nearest known one, and lists the events in the OpenAPI document", async () => {
    const url = "http://127.0.0.1:9/hook";
    const typo = await subscribe({ url, events: ["command.completed", "command.complete"] });
    expect(typo.statusCode).toBe(400);
    expect(typo.json().error.message).toMatch(/unknown event "command\.complete" \(did you mean "command\.completed"\?\)/);
    const nothingClose = await subscribe({ url, events: ["lunch"] });
    expect(nothingClose.statusCode).toBe(400);
    expect(nothingClose.json().error.message).toContain('unknown event "lunch"; known events: enrollment.authenticated');
    // A NanoMDM topic is a nanomdm-format subscription; an event with no NanoMDM body would never be sent.
    expect((await subscribe({ url, events: ["mdm.Connect"] })).json().error.message).toContain("NanoMDM topic");
    expect((await subscribe({ url, events: ["mdm.Conect"], format: "nanomdm" })).json().error.message).toContain('did you mean "mdm.Connect"');
    expect((await subscribe({ url, events: ["command.queued"], format: "nanomdm" })).json().error.message).toContain("no body");
    // Other mistakes keep the validator's wording.
    const extra = await subscribe({ url, events: ["command.completed"], colour: "red" });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().error.message).toContain("unknown field: colour");
    expect((await subscribe({ url, events: ["mdm.Connect"], format: "micromdm" })).json().error.message).toBe("body/format must be one of: orchard, nanomdm");
    expect((await app.inject({ url: "/api/v1/webhooks", headers: auth })).json().webhooks).toEqual([]);

    const doc = (await app.inject({ url: "/api/v1/openapi.json" })).json();
    const body = doc.paths["/api/v1/webhooks"].post.requestBody.content["application/json"].schema;
    expect(body.properties.events.items.enum).toEqual(["*", ...EVENT_NAMES, "mdm.Authenticate", "mdm.TokenUpdate", "mdm.CheckOut", "mdm.SetBootstrapToken", "mdm.GetBootstrapToken", "mdm.UserAuthenticate", "mdm.DeclarativeManagement", "mdm.GetToken", "mdm.ReturnToService", "mdm.Connect"]);
  });

  it("delivers one command.notnow for a command a locked device puts off on three connects", async () => {
    await withHook({ events: ["command.notnow"] }, undefined, async (_hook, got) => {
      const d = await enrolledDevice();
      const uuid = await queue(d.udid, "ProfileList");
      for (let i = 0; i < 3; i++) {
        expect(parsePlist(Buffer.from(await d.connect({ Status: "Idle" }))) as PlistDict).toMatchObject({ CommandUUID: uuid });
        expect(await d.connect({ Status: "NotNow", CommandUUID: uuid })).toBe("");
      }
      await deliverAll();
      expect(got.map((g) => [g.headers["x-orchard-event"], (g.body.data as { commandUuid: string }).commandUuid])).toEqual([["command.notnow", uuid]]);
    });
  });

  it("records and logs why a delivery failed: the network cause, or the status and the start of the body", async () => {
    // A port nothing listens on (fetch itself refuses "bad ports" such as 9 before connecting).
    const closed = await receiver();
    await closed.close();
    const closedPort = new URL(closed.url).port;
    const warn = vi.spyOn(t.ctx.logger, "warn");
    try {
      const refused = (await subscribe({ url: closed.url, events: ["command.queued"] })).json().webhook as { id: string };
      const blocked = (await subscribe({ url: "http://127.0.0.1:9/hook", events: ["command.queued"] })).json().webhook as { id: string };
      await withHook({ events: ["command.queued"] }, { status: 503, body: "down for maintenance\n  until 10:00" }, async (busy) => {
        await queue((await enrolledDevice()).udid, "ProfileList");
        await deliverAll();
        const lastOf = async (id: string) => (await app.inject({ url: `/api/v1/webhooks/${id}/deliveries`, headers: auth })).json().deliveries[0];
        expect(await lastOf(refused.id)).toMatchObject({ status: "pending", attempts: 1, responseStatus: null, lastError: `connect ECONNREFUSED 127.0.0.1:${closedPort}` });
        expect((await lastOf(blocked.id)).lastError).toMatch(/^bad port \(fetch refuses to connect to this port/);
        expect(await lastOf(busy.id)).toMatchObject({ status: "pending", attempts: 1, responseStatus: 503, lastError: "HTTP 503 Service Unavailable: down for maintenance until 10:00" });
        const logged = warn.mock.calls.filter((c) => c[1] === "webhook delivery failed").map((c) => c[0] as unknown as Record<string, unknown>);
        expect(logged).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ webhook: refused.id, host: `127.0.0.1:${closedPort}`, error: `connect ECONNREFUSED 127.0.0.1:${closedPort}` }),
            expect.objectContaining({ webhook: busy.id, status: 503, error: "HTTP 503 Service Unavailable: down for maintenance until 10:00" }),
          ]),
        );
      });
      for (const id of [refused.id, blocked.id]) await app.inject({ method: "DELETE", url: `/api/v1/webhooks/${id}`, headers: auth });
    } finally {
      warn.mockRestore();
    }
  });
});
