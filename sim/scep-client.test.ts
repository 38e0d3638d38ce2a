// Round trips: the SCEP client against handleScepRequest behind a minimal in-process HTTP route,
// with openssl verifying what comes out.

import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createCa } from "../src/pki/ca.ts";
import { certificateExtendedKeyUsage, parseCertificate, subjectString } from "../src/pki/certificate.ts";
import { issueDeviceCertificate, issueRaCertificate, type SigningIdentity } from "../src/pki/issue.ts";
import { OID } from "../src/pki/oids.ts";
import { derToPem } from "../src/pki/pem.ts";
import {
  ScepMessageError,
  getCaCapsText,
  getCaCertResponse,
  handleScepRequest,
  type ScepContext,
  type ScepOutcome,
} from "../src/pki/scep-server.ts";
import { decryptEnvelope, type ContentEncryptionAlgorithm } from "../src/pki/cms-enveloped-data.ts";
import { verifySignedData } from "../src/pki/cms-signed-data.ts";
import { createCsr, parseCsr } from "../src/pki/csr.ts";
import { buildCertRep, readPkiMessage } from "../src/pki/scep-message.ts";
import { selfSignedCertificate } from "../src/pki/issue.ts";
import { openssl } from "../src/pki/test-support/openssl.ts";
import { ScepClient, ScepClientError, chooseAlgorithms, transactionIdFor, type FetchLike } from "./scep-client.ts";

const URL_BASE = "https://mdm.test/scep";

let ca: SigningIdentity;
let ra: SigningIdentity;
let otherCa: SigningIdentity;
let deviceKey: KeyObject;
let secondKey: KeyObject;
let weakKey: KeyObject;

beforeAll(async () => {
  ca = await createCa({ subject: "CN=SCEP Test CA" });
  ra = await issueRaCertificate(ca, { subject: "CN=SCEP Test RA" });
  otherCa = await createCa({ subject: "CN=Someone Else's CA" });
  deviceKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  secondKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  weakKey = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
});

/** What the server side of a test knows: challenges, revocations, and what happened. */
interface Server {
  ctx: ScepContext;
  outcomes: ScepOutcome[];
  challenges: Map<string, { expires: number; used: boolean }>;
  revoked: Set<string>;
  http: { status: number; body: string }[];
  fetch: FetchLike;
  withRa: boolean;
}

function makeServer(opts: { allowLegacyDes?: boolean; withRa?: boolean; caps?: string } = {}): Server {
  const challenges = new Map<string, { expires: number; used: boolean }>();
  const revoked = new Set<string>();
  const outcomes: ScepOutcome[] = [];
  const http: { status: number; body: string }[] = [];
  const ctx: ScepContext = {
    ra,
    ca,
    allowLegacyDes: opts.allowLegacyDes ?? false,
    async checkChallenge(challenge) {
      const c = challenge === undefined ? undefined : challenges.get(challenge);
      if (!c) return { ok: false, reason: "unknown challenge" };
      if (c.used) return { ok: false, reason: "challenge already used" };
      if (c.expires < Date.now()) return { ok: false, reason: "challenge expired" };
      c.used = true;
      return { ok: true, profileId: "profile-1" };
    },
    async checkRenewal(cert) {
      return revoked.has(cert.fingerprint) ? { ok: false, reason: "certificate revoked" } : { ok: true };
    },
    async issue({ csr }) {
      return issueDeviceCertificate(ca, { subject: csr.subjectDer, publicKey: csr.spkiDer, validityDays: 30 });
    },
  };
  const withRa = opts.withRa ?? true;
  const respond = (status: number, contentType: string, body: Uint8Array | string) => {
    http.push({ status, body: typeof body === "string" ? body : "" });
    return new Response(typeof body === "string" ? body : Buffer.from(body), { status, headers: { "content-type": contentType } });
  };
  // The part of the HTTP route that matters to SCEP, as thin as the real one should be.
  const fetch: FetchLike = async (url, init) => {
    const u = new URL(url);
    switch (u.searchParams.get("operation")) {
      case "GetCACaps":
        return respond(200, "text/plain", opts.caps ?? getCaCapsText());
      case "GetCACert": {
        const r = getCaCertResponse(ca, withRa ? ra : undefined);
        return respond(200, r.contentType, r.body);
      }
      case "PKIOperation": {
        const body = init?.method === "POST" ? (init.body ?? new Uint8Array()) : Buffer.from(u.searchParams.get("message") ?? "", "base64");
        try {
          const { reply, outcome } = await handleScepRequest(body, ctx);
          outcomes.push(outcome);
          return respond(200, "application/x-pki-message", reply);
        } catch (e) {
          if (e instanceof ScepMessageError) return respond(e.httpStatus, "text/plain", e.message);
          throw e;
        }
      }
      default:
        return respond(400, "text/plain", "unknown operation");
    }
  };
  return { ctx, outcomes, challenges, revoked, http, fetch, withRa };
}

function addChallenge(server: Server, value: string, ttlMs = 60_000) {
  server.challenges.set(value, { expires: Date.now() + ttlMs, used: false });
}

function opensslVerify(certDer: Uint8Array, caDer: Uint8Array): boolean {
  return openssl(["verify", "-CAfile", "ca.pem", "-purpose", "sslclient", "c.pem"], {
    files: { "ca.pem": derToPem(caDer), "c.pem": derToPem(certDer) },
  }).status === 0;
}

const last = (s: Server) => s.outcomes[s.outcomes.length - 1]!;

describe("GetCACaps and GetCACert", () => {
  it("reads the capabilities and picks the RA as recipient from a CA/RA bundle", async () => {
    const server = makeServer();
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch });
    expect(await client.getCaCaps()).toEqual(expect.arrayContaining(["AES", "POSTPKIOperation", "SHA-256", "Renewal"]));
    const certs = await client.getCaCert();
    expect(certs.contentType).toBe("application/x-x509-ca-ra-cert");
    expect(subjectString(parseCertificate(certs.caCertDer))).toBe("CN=SCEP Test CA");
    expect(subjectString(parseCertificate(certs.recipientCertDer))).toBe("CN=SCEP Test RA");
  });

  it("reads a bare CA certificate (application/x-x509-ca-cert)", async () => {
    const server = makeServer({ withRa: false });
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch });
    const certs = await client.getCaCert();
    expect(certs.contentType).toBe("application/x-x509-ca-cert");
    expect(Buffer.from(certs.recipientCertDer).equals(Buffer.from(ca.certDer))).toBe(true);
  });

  it("the certs-only GetCACert body is one openssl reads", () => {
    const r = getCaCertResponse(ca, ra);
    const out = openssl(["pkcs7", "-inform", "DER", "-in", "p.der", "-print_certs", "-noout"], { files: { "p.der": r.body } });
    expect(out.status).toBe(0);
    expect(out.stdout.toString()).toMatch(/SCEP Test CA[\s\S]*SCEP Test RA/);
  });
});

describe("choosing algorithms from GetCACaps", () => {
  it("prefers AES and SHA-256 and POST, falls back to 3DES and SHA-1, never picks DES itself", () => {
    expect(chooseAlgorithms(["AES", "DES3", "SHA-1", "SHA-256", "POSTPKIOperation"])).toEqual({
      encryption: "aes-256-cbc",
      digest: "sha256",
      method: "POST",
    });
    expect(chooseAlgorithms(["AES"], { aesKeySize: 128 }).encryption).toBe("aes-128-cbc");
    expect(chooseAlgorithms(["SCEPStandard"])).toEqual({ encryption: "aes-256-cbc", digest: "sha256", method: "POST" });
    expect(chooseAlgorithms(["DES3", "SHA-1"])).toEqual({ encryption: "des-ede3-cbc", digest: "sha1", method: "GET" });
    expect(() => chooseAlgorithms([])).toThrow(ScepClientError);
    expect(chooseAlgorithms([], { force: { encryption: "des-cbc" } }).encryption).toBe("des-cbc");
  });
});

describe("PKCSReq round trips", () => {
  let server: Server;
  beforeEach(() => {
    server = makeServer();
    addChallenge(server, "good-challenge");
  });

  it("enrolls over POST with AES-256 and SHA-256; openssl verifies the issued certificate", async () => {
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch });
    const r = await client.enroll({ key: deviceKey, subject: "CN=iPhone 15,O=Orchard", challenge: "good-challenge" });
    expect(r.status).toBe("SUCCESS");
    expect(r.algorithms).toEqual({ encryption: "aes-256-cbc", digest: "sha256", method: "POST" });
    const cert = parseCertificate(r.certDer!);
    expect(subjectString(cert)).toBe("CN=iPhone 15, O=Orchard");
    expect(certificateExtendedKeyUsage(cert)).toEqual([OID.clientAuth]);
    expect(opensslVerify(r.certDer!, ca.certDer)).toBe(true);
    expect(last(server)).toMatchObject({
      status: "SUCCESS",
      messageType: "PKCSReq",
      contentEncryption: "aes-256-cbc",
      digest: "sha256",
      profileId: "profile-1",
      transactionId: transactionIdFor(deviceKey),
    });
    expect(Buffer.from(last(server).issuedCertDer!).equals(Buffer.from(r.certDer!))).toBe(true);
  });

  it("enrolls over GET with the message in the query string", async () => {
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch, force: { method: "GET" } });
    const r = await client.enroll({ key: deviceKey, subject: "CN=get-device", challenge: "good-challenge" });
    expect(r.status).toBe("SUCCESS");
    expect(r.algorithms.method).toBe("GET");
  });

  it("enrolls with 3DES", async () => {
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch, force: { encryption: "des-ede3-cbc" } });
    const r = await client.enroll({ key: deviceKey, subject: "CN=3des", challenge: "good-challenge" });
    expect(r.status).toBe("SUCCESS");
    expect(last(server).contentEncryption).toBe("des-ede3-cbc");
  });

  it("enrolls with AES-128 and SHA-1", async () => {
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch, aesKeySize: 128, force: { digest: "sha1" } });
    const r = await client.enroll({ key: deviceKey, subject: "CN=sha1", challenge: "good-challenge" });
    expect(r.status).toBe("SUCCESS");
    expect(last(server)).toMatchObject({ contentEncryption: "aes-128-cbc", digest: "sha1" });
  });

  it("refuses single DES with badAlg unless the server allows legacy DES", async () => {
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch, force: { encryption: "des-cbc" } });
    const r = await client.enroll({ key: deviceKey, subject: "CN=des", challenge: "good-challenge" });
    expect(r).toMatchObject({ status: "FAILURE", failInfo: "badAlg" });
    // the challenge was not consumed by a request that was refused before it was read
    expect(server.challenges.get("good-challenge")!.used).toBe(false);

    const legacy = makeServer({ allowLegacyDes: true });
    addChallenge(legacy, "c2");
    const client2 = new ScepClient({ url: URL_BASE, fetch: legacy.fetch, force: { encryption: "des-cbc" } });
    const r2 = await client2.enroll({ key: deviceKey, subject: "CN=des", challenge: "c2" });
    expect(r2.status).toBe("SUCCESS");
    expect(last(legacy).contentEncryption).toBe("des-cbc");
    expect(opensslVerify(r2.certDer!, ca.certDer)).toBe(true);
  });

  it("refuses a wrong, a reused and an expired challenge", async () => {
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch });
    expect(await client.enroll({ key: deviceKey, subject: "CN=x", challenge: "wrong" })).toMatchObject({
      status: "FAILURE",
      failInfo: "badRequest",
    });
    expect(last(server).reason).toContain("unknown challenge");
    expect((await client.enroll({ key: deviceKey, subject: "CN=x", challenge: "good-challenge" })).status).toBe("SUCCESS");
    expect(await client.enroll({ key: deviceKey, subject: "CN=x", challenge: "good-challenge" })).toMatchObject({
      status: "FAILURE",
      failInfo: "badRequest",
    });
    expect(last(server).reason).toContain("already used");
    addChallenge(server, "stale", -1);
    expect((await client.enroll({ key: deviceKey, subject: "CN=x", challenge: "stale" })).status).toBe("FAILURE");
    expect(last(server).reason).toContain("expired");
    expect((await client.enroll({ key: deviceKey, subject: "CN=x" })).status).toBe("FAILURE");
  });

  it("refuses a 1024-bit RSA key", async () => {
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch });
    const r = await client.enroll({ key: weakKey, subject: "CN=weak", challenge: "good-challenge" });
    expect(r).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(last(server).reason).toMatch(/1024 bits/);
  });

  it("refuses a request encrypted to a certificate other than the RA's", async () => {
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch });
    const csr = createCsr({ subject: "CN=x", key: deviceKey, challengePassword: "good-challenge" });
    const signer = { certDer: selfSignedCertificate(deviceKey, "CN=x"), key: deviceKey };
    const r = await client.request({
      messageType: "PKCSReq",
      messageData: csr,
      signer,
      transactionId: "T1",
      expectedKey: deviceKey,
      recipientCertDer: ca.certDer,
    });
    expect(r).toMatchObject({ status: "FAILURE", failInfo: "badMessageCheck" });
  });

  it("answers CertPoll with badRequest when manual enrollment is not configured", async () => {
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch });
    const signer = { certDer: selfSignedCertificate(deviceKey, "CN=poll"), key: deviceKey };
    const r = await client.poll({ transactionId: "T-POLL", subject: "CN=poll", signer });
    expect(r).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
  });

  it("returns PENDING and then the certificate through CertPoll when the issuer defers", async () => {
    const pending = makeServer();
    addChallenge(pending, "p");
    const issued = new Map<string, Uint8Array>();
    pending.ctx.issue = async ({ transactionId, csr }) => {
      issued.set(transactionId, issueDeviceCertificate(ca, { subject: csr.subjectDer, publicKey: csr.spkiDer }));
      return { status: "PENDING" };
    };
    pending.ctx.poll = async ({ transactionId }) => issued.get(transactionId);
    const client = new ScepClient({ url: URL_BASE, fetch: pending.fetch });
    const first = await client.enroll({ key: secondKey, subject: "CN=later", challenge: "p" });
    expect(first.status).toBe("PENDING");
    const signer = { certDer: selfSignedCertificate(secondKey, "CN=later"), key: secondKey };
    const r = await client.poll({ transactionId: first.transactionId, subject: "CN=later", signer });
    expect(r.status).toBe("SUCCESS");
    expect(opensslVerify(r.certDer!, ca.certDer)).toBe(true);
  });
});

describe("RenewalReq round trips", () => {
  let server: Server;
  let current: SigningIdentity;
  beforeAll(async () => {
    server = makeServer();
    addChallenge(server, "enroll");
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch });
    const r = await client.enroll({ key: deviceKey, subject: "CN=renewing-device", challenge: "enroll" });
    current = { certDer: r.certDer!, key: deviceKey };
  });

  it("renews with a new key, authorised by the current certificate", async () => {
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch });
    const r = await client.renew({ key: secondKey, subject: "CN=renewing-device", current });
    expect(r.status).toBe("SUCCESS");
    expect(last(server)).toMatchObject({ messageType: "RenewalReq", status: "SUCCESS" });
    expect(opensslVerify(r.certDer!, ca.certDer)).toBe(true);
    expect(parseCertificate(r.certDer!).fingerprint).not.toBe(parseCertificate(current.certDer).fingerprint);
  });

  it("refuses a renewal signed by a revoked certificate", async () => {
    const revokedServer = makeServer();
    revokedServer.revoked.add(parseCertificate(current.certDer).fingerprint);
    const client = new ScepClient({ url: URL_BASE, fetch: revokedServer.fetch });
    const r = await client.renew({ key: secondKey, subject: "CN=renewing-device", current });
    expect(r).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(last(revokedServer).reason).toContain("revoked");
  });

  it("refuses a renewal signed by a certificate from another CA", async () => {
    const foreign = { certDer: issueDeviceCertificate(otherCa, { subject: "CN=foreign", publicKey: deviceKey }), key: deviceKey };
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch });
    const r = await client.renew({ key: secondKey, subject: "CN=foreign", current: foreign });
    expect(r).toMatchObject({ status: "FAILURE", failInfo: "badCertId" });
  });

  it("refuses a renewal signed by a self-signed certificate", async () => {
    const self = { certDer: selfSignedCertificate(deviceKey, "CN=self"), key: deviceKey };
    const client = new ScepClient({ url: URL_BASE, fetch: server.fetch });
    expect(await client.renew({ key: secondKey, subject: "CN=self", current: self })).toMatchObject({
      status: "FAILURE",
      failInfo: "badCertId",
    });
  });
});

describe("malformed and hostile input", () => {
  let server: Server;
  let client: ScepClient;
  let goodRequest: Uint8Array;
  beforeAll(async () => {
    server = makeServer();
    addChallenge(server, "c");
    client = new ScepClient({ url: URL_BASE, fetch: server.fetch });
    // Capture one well-formed request by wrapping the fetch.
    const capture: FetchLike = async (url, init) => {
      if (init?.method === "POST" && init.body) goodRequest = init.body;
      return server.fetch(url, init);
    };
    await new ScepClient({ url: URL_BASE, fetch: capture }).enroll({ key: deviceKey, subject: "CN=capture", challenge: "c" });
  });

  it("answers garbage with HTTP 400", async () => {
    await expect(client.pkiOperation(Buffer.from("definitely not CMS"), "POST")).rejects.toMatchObject({ httpStatus: 400 });
    await expect(client.pkiOperation(new Uint8Array(0), "GET")).rejects.toMatchObject({ httpStatus: 400 });
  });

  it("answers every truncation of a real request with HTTP 400, never a crash", async () => {
    for (const cut of [1, 2, 10, 100, goodRequest.length / 2, goodRequest.length - 1]) {
      await expect(client.pkiOperation(goodRequest.subarray(0, Math.floor(cut)), "POST")).rejects.toMatchObject({
        httpStatus: 400,
      });
    }
  });

  it("answers a request whose signature was tampered with by badMessageCheck", async () => {
    const tampered = Buffer.from(goodRequest);
    tampered[tampered.length - 3] = tampered[tampered.length - 3]! ^ 0x01; // inside the signature value
    const reply = await client.pkiOperation(tampered, "POST");
    expect(reply.length).toBeGreaterThan(0);
    expect(last(server)).toMatchObject({ status: "FAILURE", failInfo: "badMessageCheck" });
  });

  it("the client rejects a CertRep that does not answer its request", async () => {
    // A server that answers every request with a reply to a different one (a replay).
    let stored: Uint8Array | undefined;
    const replaying: FetchLike = async (url, init) => {
      const res = await server.fetch(url, init);
      if (new URL(url).searchParams.get("operation") !== "PKIOperation") return res;
      const body = new Uint8Array(await res.arrayBuffer());
      const out = stored ?? body;
      stored = body;
      return new Response(Buffer.from(out), { status: 200, headers: { "content-type": "application/x-pki-message" } });
    };
    addChallenge(server, "r1");
    addChallenge(server, "r2");
    const c = new ScepClient({ url: URL_BASE, fetch: replaying });
    expect((await c.enroll({ key: deviceKey, subject: "CN=r", challenge: "r1" })).status).toBe("SUCCESS");
    await expect(c.enroll({ key: secondKey, subject: "CN=r", challenge: "r2" })).rejects.toThrow(ScepClientError);
  });

  it("the client rejects a CertRep with a broken signature", async () => {
    const breaking: FetchLike = async (url, init) => {
      const res = await server.fetch(url, init);
      if (new URL(url).searchParams.get("operation") !== "PKIOperation") return res;
      const body = Buffer.from(await res.arrayBuffer());
      body[body.length - 3] = body[body.length - 3]! ^ 0x01;
      return new Response(body, { status: 200, headers: { "content-type": "application/x-pki-message" } });
    };
    addChallenge(server, "b");
    await expect(
      new ScepClient({ url: URL_BASE, fetch: breaking }).enroll({ key: deviceKey, subject: "CN=b", challenge: "b" }),
    ).rejects.toThrow(/signature/);
  });

  it("never logs the challenge", async () => {
    const logged: string[] = [];
    const s = makeServer();
    s.ctx.logger = { info: (o, m) => logged.push(JSON.stringify(o) + m), warn: (o, m) => logged.push(JSON.stringify(o) + m) };
    addChallenge(s, "super-secret-challenge-value");
    const c = new ScepClient({ url: URL_BASE, fetch: s.fetch });
    await c.enroll({ key: deviceKey, subject: "CN=l", challenge: "super-secret-challenge-value" });
    await c.enroll({ key: deviceKey, subject: "CN=l", challenge: "super-secret-challenge-value" });
    expect(logged).toHaveLength(2);
    expect(logged.join("\n")).not.toContain("super-secret");
  });
});

describe("CertReps from an independent SCEP server", () => {
  /**
   * A SCEP server that is not Orchard's: it reads the request and issues the certificate, but
   * encrypts the CertRep with an algorithm of its own choosing, whatever the client sent (several
   * servers in the field still answer with single DES).
   */
  function independentServer(replyEncryption: ContentEncryptionAlgorithm): FetchLike {
    return async (url, init) => {
      const op = new URL(url).searchParams.get("operation");
      if (op === "GetCACaps") return new Response("AES\nPOSTPKIOperation\nSHA-256\n", { headers: { "content-type": "text/plain" } });
      if (op === "GetCACert") {
        const r = getCaCertResponse(ca, ra);
        return new Response(Buffer.from(r.body), { headers: { "content-type": r.contentType } });
      }
      const msg = readPkiMessage(init!.body!);
      const requester = verifySignedData(msg.signedData).signerCertDer;
      const csr = parseCsr(decryptEnvelope(msg.envelope!, ra.key, { recipientCertDer: ra.certDer }).content);
      const issued = issueDeviceCertificate(ca, { subject: csr.subjectDer, publicKey: csr.spkiDer, validityDays: 30 });
      const reply = buildCertRep({
        transactionId: msg.transactionId,
        recipientNonce: msg.senderNonce,
        status: "SUCCESS",
        certificates: [issued, ca.certDer],
        recipientCertDer: requester,
        encryption: replyEncryption,
        ra,
      });
      return new Response(Buffer.from(reply), { headers: { "content-type": "application/x-pki-message" } });
    };
  }

  // Apple devices decrypt every content encryption a SCEP server may answer with; the client sends
  // AES-256 here (the server offers AES) and must still read the reply.
  it.each(["des-cbc", "des-ede3-cbc", "aes-128-cbc", "aes-192-cbc", "aes-256-cbc"] as const)(
    "accepts a CertRep encrypted with %s after sending AES-256",
    async (alg) => {
      const client = new ScepClient({ url: URL_BASE, fetch: independentServer(alg) });
      const r = await client.enroll({ key: deviceKey, subject: "CN=independent", challenge: "any" });
      expect(r.status).toBe("SUCCESS");
      expect(r.algorithms.encryption).toBe("aes-256-cbc");
      expect(subjectString(parseCertificate(r.certDer!))).toBe("CN=independent");
      expect(opensslVerify(r.certDer!, ca.certDer)).toBe(true);
    },
  );
});

it("transaction IDs are the SHA-256 of the public key", () => {
  const spki = createPublicKey(deviceKey).export({ format: "der", type: "spki" });
  expect(transactionIdFor(deviceKey)).toBe(createHash("sha256").update(spki).digest("hex").toUpperCase());
});
