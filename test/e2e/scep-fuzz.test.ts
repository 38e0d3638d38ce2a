// Mutated SCEP PKIOperations over a real socket: real PKCSReq, RenewalReq, GetCert and CertPoll messages
// with bytes flipped, set, cut, removed, inserted and spliced (biased towards ASN.1 element boundaries, so
// tags, lengths and small attributes are hit as often as the long ciphertext), sent by POST and by GET.
// Every answer must be an HTTP 400 naming the problem or a CertRep that parses, never a 5xx.
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import { createCsr } from "../../src/pki/csr.ts";
import { issueDeviceCertificate, selfSignedCertificate } from "../../src/pki/issue.ts";
import { parseCertificate } from "../../src/pki/certificate.ts";
import { parseAsn1, sequence, tlv, Tag, type Asn1Node } from "../../src/pki/der.ts";
import { buildPkiRequest, issuerAndSubject, readPkiMessage } from "../../src/pki/scep-message.ts";
import { PROFILE_DEFAULTS } from "../../src/manage/enrollment-profiles/enrollment-profiles.ts";
import { parsePlist } from "../../src/wire/plist.ts";
import { describeEachDatabase } from "../databases.ts";

interface Answer {
  status: number;
  contentType: string;
  body: Buffer;
}

/**
 * Where to aim in a message: each ASN.1 element's identifier, length and first content octet, and the
 * content range of each primitive element (so that a 6-octet transactionID is hit as often as the ciphertext).
 */
interface Marks {
  boundaries: number[];
  primitives: Array<[start: number, end: number]>;
}

function marksOf(der: Uint8Array): Marks {
  const root = parseAsn1(der);
  const boundaries = new Set<number>();
  const primitives: Array<[number, number]> = [];
  const walk = (n: Asn1Node) => {
    const start = n.raw.byteOffset - root.raw.byteOffset;
    const contentStart = n.content.byteOffset - root.raw.byteOffset;
    boundaries.add(start);
    boundaries.add(start + 1);
    if (contentStart < der.length) boundaries.add(contentStart);
    if (!n.constructed && n.content.length > 0) primitives.push([contentStart, contentStart + n.content.length]);
    n.children.forEach(walk);
  };
  walk(root);
  return { boundaries: [...boundaries].sort((a, b) => a - b), primitives };
}

type Mutation =
  | { kind: "flip"; at: Position; bit: number }
  | { kind: "set"; at: Position; value: number }
  | { kind: "truncate"; at: Position }
  | { kind: "remove"; at: Position; count: number }
  | { kind: "insert"; at: Position; bytes: Uint8Array }
  | { kind: "splice"; at: Position; other: number; otherAt: Position };

/** Anywhere in the message, at the n-th element boundary, or inside the n-th primitive element. */
type Position = { anywhere: number } | { boundary: number } | { inside: number; at: number };

const position: fc.Arbitrary<Position> = fc.oneof(
  fc.nat().map((n) => ({ anywhere: n })),
  fc.nat().map((n) => ({ boundary: n })),
  fc.tuple(fc.nat(), fc.nat()).map(([n, at]) => ({ inside: n, at })),
);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), at: position, value: fc.oneof(fc.constantFrom(0x00, 0x04, 0x0c, 0x13, 0x16, 0x30, 0x31, 0x80, 0x81, 0x82, 0xa0, 0xff), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant("truncate" as const), at: position }),
  fc.record({ kind: fc.constant("remove" as const), at: position, count: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }) }),
  fc.record({ kind: fc.constant("splice" as const), at: position, other: fc.nat(), otherAt: position }),
);

describeEachDatabase("SCEP PKIOperation under mutated messages", (database) => {
  let server: RunningServer;
  let dir: string;
  let cleanupDb: () => Promise<void>;
  let base: Array<{ name: string; der: Uint8Array; marks: Marks }> = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });

  function send(method: "GET" | "POST", path: string, body?: Uint8Array): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = body ? { "content-type": "application/x-pki-message", "content-length": body.length } : {};
      const req = request({ host: "127.0.0.1", port: server.httpPort, path, method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: Buffer.concat(chunks) }));
      });
      req.on("error", reject);
      req.end(body ? Buffer.from(body) : undefined);
    });
  }

  function locate(der: Uint8Array, marks: Marks, p: Position): number {
    if (der.length === 0) return 0;
    let at: number;
    if ("anywhere" in p) at = p.anywhere;
    else if ("boundary" in p) at = marks.boundaries[p.boundary % marks.boundaries.length]!;
    else {
      const [start, end] = marks.primitives[p.inside % marks.primitives.length]!;
      at = start + (p.at % (end - start));
    }
    // Earlier mutations may have shortened the message.
    return at % der.length;
  }

  function mutate(index: number, mutations: Mutation[]): Uint8Array {
    const original = base[index % base.length]!;
    let der = Buffer.from(original.der);
    for (const m of mutations) {
      const at = locate(der, original.marks, m.at);
      switch (m.kind) {
        case "flip":
          if (der.length) der[at] = der[at]! ^ (1 << m.bit);
          break;
        case "set":
          if (der.length) der[at] = m.value;
          break;
        case "truncate":
          der = der.subarray(0, at);
          break;
        case "remove":
          der = Buffer.concat([der.subarray(0, at), der.subarray(at + m.count)]);
          break;
        case "insert":
          der = Buffer.concat([der.subarray(0, at), m.bytes, der.subarray(at)]);
          break;
        case "splice": {
          const other = base[m.other % base.length]!;
          der = Buffer.concat([der.subarray(0, at), other.der.subarray(locate(other.der, other.marks, m.otherAt))]);
          break;
        }
      }
    }
    return new Uint8Array(der);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orchard-scep-fuzz-"));
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    const config = { ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_PUBLIC_URL: "https://localhost:8443" }), databaseUrl: fresh.url, httpsPort: 0, httpPort: 0, host: "127.0.0.1" };
    // FUZZ_LOG=1 prints the server's error logs, which name the exception behind a 5xx.
    server = await startServer(config, { logger: createLogger(process.env.FUZZ_LOG ? "error" : "silent") });

    // A live enrollment profile's challenge, so that unmutated requests would be issued.
    const profile = await server.ctx.enrollmentProfiles.create({ ...PROFILE_DEFAULTS, name: "fuzz" }, "system:test");
    const row = await server.ctx.enrollmentProfiles.row(profile.id);
    const p = parsePlist(await server.ctx.enrollmentProfiles.mobileconfig(row, { signed: false })) as { PayloadContent: Array<{ PayloadContent: { Challenge: string } }> };
    const challenge = p.PayloadContent[1]!.PayloadContent.Challenge;

    const ca = server.ctx.credentials.ca;
    const ra = server.ctx.credentials.scepRa.certDer;
    const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
    const selfSigned = { certDer: selfSignedCertificate(key, "CN=fuzz-device"), key };
    const issued = { certDer: issueDeviceCertificate(ca, { subject: "CN=fuzz-device", publicKey: key }), key };
    const csr = createCsr({ subject: "CN=fuzz-device", key, challengePassword: challenge });
    const caCert = parseCertificate(ca.certDer);
    const build = (name: string, params: Omit<Parameters<typeof buildPkiRequest>[0], "recipientCertDer">) => {
      const der = buildPkiRequest({ ...params, recipientCertDer: ra }).der;
      return { name, der, marks: marksOf(der) };
    };
    base = [
      build("PKCSReq AES SHA-256", { messageType: "PKCSReq", transactionId: "FUZZ-1", messageData: csr, signer: selfSigned, encryption: "aes-256-cbc", digest: "sha256" }),
      build("PKCSReq 3DES SHA-1", { messageType: "PKCSReq", transactionId: "FUZZ-2", messageData: csr, signer: selfSigned, encryption: "des-ede3-cbc", digest: "sha1" }),
      build("RenewalReq AES-128 SHA-256", { messageType: "RenewalReq", transactionId: "FUZZ-3", messageData: createCsr({ subject: "CN=fuzz-device", key }), signer: issued, encryption: "aes-128-cbc", digest: "sha256" }),
      build("GetCert", { messageType: "GetCert", transactionId: "FUZZ-4", messageData: sequence(caCert.subjectDer, tlv(Tag.INTEGER, Uint8Array.of(1))), signer: issued }),
      build("CertPoll", { messageType: "CertPoll", transactionId: "FUZZ-5", messageData: issuerAndSubject(caCert.subjectDer, parseCertificate(selfSigned.certDer).subjectDer), signer: selfSigned }),
    ];
    // The unmutated messages are answered with CertReps: the mutations start from requests the server accepts.
    for (const b of base) {
      const r = await send("POST", "/scep?operation=PKIOperation", b.der);
      expect(r.status, b.name).toBe(200);
    }
  });
  afterAll(async () => {
    agent.destroy();
    await server?.stop();
    await cleanupDb?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers every mutated PKIOperation, by POST and by GET, with a 400 or a CertRep, never a 5xx", async () => {
    const seen: Record<number, number> = {};
    // Every bad answer is collected rather than stopping at the first, so one run shows all the causes.
    const bad: string[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.constantFrom("POST", "GET-base64", "GET-base64url"),
        async (index, mutations, how) => {
          const der = mutate(index, mutations);
          let r: Answer;
          if (how === "POST") {
            // An empty body is refused before the SCEP layer; send at least one octet.
            r = await send("POST", "/scep?operation=PKIOperation", der.length ? der : Uint8Array.of(0x30));
          } else {
            const b64 = Buffer.from(der).toString(how === "GET-base64" ? "base64" : "base64url") || "AA==";
            r = await send("GET", `/scep?operation=PKIOperation&message=${encodeURIComponent(b64)}`);
          }
          seen[r.status] = (seen[r.status] ?? 0) + 1;
          const what = `${base[index % base.length]!.name} ${how} ${JSON.stringify(mutations)} -> ${r.status} ${r.body.toString("latin1").slice(0, 200)}`;
          if (r.status === 200) {
            if (r.contentType !== "application/x-pki-message") bad.push(`${what}: content type ${r.contentType}`);
            else if (readPkiMessage(new Uint8Array(r.body)).messageTypeName !== "CertRep") bad.push(`${what}: not a CertRep`);
          } else if (r.status !== 400 || r.body.toString("utf8").trim().length === 0) {
            bad.push(what);
          }
        },
      ),
      { numRuns: database.dialect === "sqlite" ? 3000 : 600, seed: 20261204 },
    );
    expect(bad.slice(0, 10), `${bad.length} bad answers; answers by status: ${JSON.stringify(seen)}`).toEqual([]);
    // Both kinds of answer were exercised, and the server still serves.
    expect(seen[200]).toBeGreaterThan(0);
    expect(seen[400]).toBeGreaterThan(0);
    expect((await send("GET", "/scep?operation=GetCACaps")).status).toBe(200);
  }, 120_000);

  it("answers malformed PKIOperation requests around the message with a 400 naming the problem", async () => {
    const b64 = encodeURIComponent(Buffer.from(base[0]!.der).toString("base64"));
    const cases: Array<[method: "GET" | "POST", path: string, body: Uint8Array | undefined, says: RegExp]> = [
      ["GET", `/scep?operation=PKIOperation&message=${b64}&message=${b64}`, undefined, /message parameter is given more than once/],
      ["GET", "/scep?operation=PKIOperation&message=", undefined, /message/],
      ["GET", "/scep?operation=PKIOperation&message=%00%01", undefined, /base64/],
      ["GET", "/scep?operation=PKIOperation&operation=GetCACaps", undefined, /operation parameter is given more than once/],
      ["POST", "/scep?operation=PKIOperation&operation=PKIOperation", base[0]!.der, /operation=PKIOperation only/],
      ["POST", `/scep?operation=PKIOperation&message=${b64}&message=${b64}`, new Uint8Array(1), /not a SCEP message/],
      ["POST", "/scep?operation=PKIOperation", new Uint8Array(0), /empty/],
    ];
    for (const [i, [method, path, body, says]] of cases.entries()) {
      const r = await send(method, path, body);
      expect(r.status, `case ${i + 1}: ${method} ${path.slice(0, 80)}`).toBe(400);
      expect(r.body.toString("utf8"), `case ${i + 1}`).toMatch(says);
    }
  });
});
