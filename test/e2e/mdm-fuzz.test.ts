// Thousands of generated check-ins and reports, well-formed and not, signed by a real enrolled device:
// the server answers each with a definite status and never a 5xx, and keeps serving. Sent over a real socket,
// through the one device front end real devices reach (mdm-fast-path.ts), not fastify's inject.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { buildTestContext, type TestContext } from "../context.ts";
import { buildHttpApp } from "../../src/http/app.ts";
import { buildPlist, buildBinaryPlist, type PlistInput } from "../../src/wire/plist.ts";
import { createMdmBodySigner, type MdmBodySigner } from "../../src/pki/mdm-signature-sign.ts";
import { issueDeviceCertificate } from "../../src/pki/issue.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import { describeEachDatabase } from "../databases.ts";

const MESSAGE_TYPES = ["Authenticate", "TokenUpdate", "CheckOut", "SetBootstrapToken", "GetBootstrapToken", "UserAuthenticate", "DeclarativeManagement", "GetToken", "ReturnToService", "Bogus", ""];
const STATUSES = ["Idle", "Acknowledged", "Error", "CommandFormatError", "NotNow", "Weird"];

describeEachDatabase("MDM endpoints under generated input", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let sign: MdmBodySigner;
  let base = "";
  const udid = randomUUID().toUpperCase();
  const put = async (url: string, headers: Record<string, string>, payload: Uint8Array) => {
    const r = await fetch(`${base}${url}`, { method: "PUT", headers, body: payload });
    return { statusCode: r.status, body: await r.text() };
  };

  beforeAll(async () => {
    t = await buildTestContext(database);
    app = await buildHttpApp(t.ctx);
    await app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
    sign = createMdmBodySigner(issueDeviceCertificate(t.ctx.credentials.ca, { subject: `CN=${udid}`, publicKey: key }), key);
    const send = (m: PlistInput) => put("/mdm/checkin", { "mdm-signature": sign(Buffer.from(buildPlist(m))) }, Buffer.from(buildPlist(m)));
    expect((await send({ MessageType: "Authenticate", UDID: udid, Topic: "t" })).statusCode).toBe(200);
    expect((await send({ MessageType: "TokenUpdate", UDID: udid, Topic: "t", Token: new Uint8Array(32), PushMagic: "m" })).statusCode).toBe(200);
  });
  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  const scalar = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.uint8Array({ maxLength: 40 }), fc.date({ min: new Date("1970-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }), fc.double({ noNaN: true, noDefaultInfinity: true }));
  const value: fc.Arbitrary<PlistInput> = fc.oneof(scalar, fc.array(scalar, { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 4 }));
  const message = fc.record(
    {
      MessageType: fc.constantFrom(...MESSAGE_TYPES),
      Status: fc.constantFrom(...STATUSES),
      UDID: fc.oneof(fc.constant(udid), fc.string({ maxLength: 40 }), fc.integer()),
      UserID: fc.oneof(fc.uuid(), fc.constant("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"), fc.string({ maxLength: 5 })),
      UserShortName: fc.string({ maxLength: 10 }),
      EnrollmentID: fc.string({ maxLength: 10 }),
      CommandUUID: fc.oneof(fc.uuid(), fc.string({ maxLength: 10 }), fc.integer()),
      Token: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string()),
      PushMagic: fc.oneof(fc.string(), fc.integer()),
      BootstrapToken: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string()),
      TokenServiceType: fc.string({ maxLength: 20 }),
      Endpoint: fc.string({ maxLength: 20 }),
      ErrorChain: fc.oneof(fc.array(fc.dictionary(fc.string({ maxLength: 6 }), scalar, { maxKeys: 3 }), { maxLength: 2 }), scalar),
      Extra: value,
    },
    { requiredKeys: [] },
  );

  it("never answers 5xx to generated check-ins and reports (XML and binary)", async () => {
    await fc.assert(
      fc.asyncProperty(message, fc.constantFrom("/mdm/checkin", "/mdm/connect"), fc.boolean(), async (m, url, binary) => {
        const body = binary ? Buffer.from(buildBinaryPlist(m as PlistInput)) : Buffer.from(buildPlist(m as PlistInput));
        const r = await put(url, { "mdm-signature": sign(body) }, body);
        expect(r.statusCode, `${url} ${JSON.stringify(m)} -> ${r.body}`).toBeLessThan(500);
      }),
      { numRuns: database.dialect === "sqlite" ? 1500 : 400, seed: 20261123 },
    );
  });

  it("never answers 5xx to arbitrary bytes, signed or not", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), fc.constantFrom("/mdm/checkin", "/mdm/connect"), async (bytes, signed, url) => {
        const body = Buffer.from(bytes);
        const headers: Record<string, string> = signed ? { "mdm-signature": sign(body) } : { "mdm-signature": Buffer.from(bytes.slice(0, 50)).toString("base64") || "x" };
        const r = await put(url, headers, body);
        expect(r.statusCode).toBeLessThan(500);
      }),
      { numRuns: database.dialect === "sqlite" ? 1000 : 200, seed: 7 },
    );
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
