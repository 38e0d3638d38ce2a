// The SCEP wire format checked against independent implementations: openssl (envelopes, signatures,
// certificates) and pkijs (the SignedData and its SCEP attributes), in both directions.

import { createHash, generateKeyPairSync, randomBytes, webcrypto, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { beforeAll, describe, expect, it } from "vitest";
import { createCa } from "./ca.ts";
import { createCsr } from "./csr.ts";
import { issueDeviceCertificate, issueRaCertificate, selfSignedCertificate, type SigningIdentity } from "./issue.ts";
import { exportPrivateKeyPem } from "./keys.ts";
import { parseCertificate } from "./certificate.ts";
import { derToPem } from "./pem.ts";
import { buildPkiRequest, readPkiMessage } from "./scep-message.ts";
import { getCaCapsText, handleScepRequest, ScepMessageError, type ScepContext } from "./scep-server.ts";
import { opensslOk } from "./test-support/openssl.ts";

const SCEP = {
  messageType: "2.16.840.1.113733.1.9.2",
  pkiStatus: "2.16.840.1.113733.1.9.3",
  failInfo: "2.16.840.1.113733.1.9.4",
  senderNonce: "2.16.840.1.113733.1.9.5",
  recipientNonce: "2.16.840.1.113733.1.9.6",
  transactionId: "2.16.840.1.113733.1.9.7",
};

let ca: SigningIdentity;
let ra: SigningIdentity;
let deviceKey: KeyObject;
let selfSigned: SigningIdentity;

beforeAll(async () => {
  ca = await createCa({ subject: "CN=Wire CA" });
  ra = await issueRaCertificate(ca);
  deviceKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  selfSigned = { certDer: selfSignedCertificate(deviceKey, "CN=wire-device"), key: deviceKey };
});

function context(extra: Partial<ScepContext> = {}): ScepContext {
  return {
    ra,
    ca,
    checkChallenge: async (c) => (c === "wire-challenge" ? { ok: true } : { ok: false, reason: "bad challenge" }),
    issue: async ({ csr }) => issueDeviceCertificate(ca, { subject: csr.subjectDer, publicKey: csr.spkiDer }),
    ...extra,
  };
}

/**
 * Signed attributes of the first signer, as pkijs reads them: OID -> first value. pkijs cannot verify
 * a signature over empty detached content (FAILURE/PENDING replies); openssl checks those instead.
 */
async function pkijsAttributes(der: Uint8Array, opts: { verify: boolean } = { verify: true }) {
  const ci = pkijs.ContentInfo.fromBER(der);
  const sd = new pkijs.SignedData({ schema: ci.content });
  const verified = opts.verify ? await sd.verify({ signer: 0, checkChain: false }) : undefined;
  const attrs = new Map<string, asn1js.AsnType>();
  for (const a of sd.signerInfos[0]!.signedAttrs!.attributes) attrs.set(a.type, a.values[0] as asn1js.AsnType);
  return { verified, attrs, sd };
}

const printable = (v: asn1js.AsnType | undefined) => (v as asn1js.PrintableString).valueBlock.value;
const octets = (v: asn1js.AsnType | undefined) => Buffer.from((v as asn1js.OctetString).valueBlock.valueHexView);

describe("pkiMessage requests built here, read by openssl and pkijs", () => {
  it("carries the SCEP attributes, a valid signature and an envelope openssl opens with the RA key", async () => {
    const csr = createCsr({ subject: "CN=wire-device", key: deviceKey, challengePassword: "wire-challenge" });
    const { der, senderNonce } = buildPkiRequest({
      messageType: "PKCSReq",
      transactionId: "TX-1",
      messageData: csr,
      recipientCertDer: ra.certDer,
      signer: selfSigned,
      encryption: "aes-128-cbc",
      digest: "sha256",
    });
    const { verified, attrs } = await pkijsAttributes(der);
    expect(verified).toBe(true);
    expect(printable(attrs.get(SCEP.messageType))).toBe("19");
    expect(printable(attrs.get(SCEP.transactionId))).toBe("TX-1");
    expect(octets(attrs.get(SCEP.senderNonce)).equals(Buffer.from(senderNonce))).toBe(true);
    expect(senderNonce.length).toBe(16);

    const env = opensslOk(["cms", "-verify", "-noverify", "-inform", "DER", "-in", "m.der", "-out", "env.der"], {
      files: { "m.der": der },
      outputs: ["env.der"],
    }).outputs["env.der"]!;
    const plain = opensslOk(
      ["cms", "-decrypt", "-inform", "DER", "-in", "env.der", "-recip", "ra.pem", "-inkey", "ra.key", "-out", "csr.der"],
      { files: { "env.der": env, "ra.pem": derToPem(ra.certDer), "ra.key": exportPrivateKeyPem(ra.key) }, outputs: ["csr.der"] },
    ).outputs["csr.der"]!;
    const req = opensslOk(["req", "-inform", "DER", "-in", "csr.der", "-verify", "-noout", "-text"], { files: { "csr.der": plain } });
    expect(req.stderr + req.stdout.toString()).toMatch(/verify OK|Certificate request self-signature verify OK/);
    expect(req.stdout.toString()).toContain("wire-challenge");
  });
});

describe("handleScepRequest with a request built by independent tools", () => {
  /** The envelope by `openssl cms -encrypt`, the SignedData around it by pkijs (WebCrypto signing). */
  async function independentRequest(opts: { cipher: string; hash: "SHA-1" | "SHA-256"; legacy?: boolean; challenge: string }) {
    const csr = createCsr({ subject: "CN=independent", key: deviceKey, challengePassword: opts.challenge });
    const envelope = opensslOk(
      [
        "cms", "-encrypt", "-binary", "-in", "csr.der", `-${opts.cipher}`, "-outform", "DER", "-out", "env.der",
        ...(opts.legacy ? ["-provider", "legacy", "-provider", "default"] : []), "ra.pem",
      ],
      { files: { "csr.der": csr, "ra.pem": derToPem(ra.certDer) }, outputs: ["env.der"] },
    ).outputs["env.der"]!;
    const cert = pkijs.Certificate.fromBER(selfSigned.certDer);
    const nonce = randomBytes(16);
    const digest = createHash(opts.hash === "SHA-1" ? "sha1" : "sha256").update(envelope).digest();
    const signedAttrs = new pkijs.SignedAndUnsignedAttributes({
      type: 0,
      attributes: [
        new pkijs.Attribute({ type: "1.2.840.113549.1.9.3", values: [new asn1js.ObjectIdentifier({ value: "1.2.840.113549.1.7.1" })] }),
        new pkijs.Attribute({ type: "1.2.840.113549.1.9.4", values: [new asn1js.OctetString({ valueHex: digest })] }),
        new pkijs.Attribute({ type: SCEP.messageType, values: [new asn1js.PrintableString({ value: "19" })] }),
        new pkijs.Attribute({ type: SCEP.transactionId, values: [new asn1js.PrintableString({ value: "INDEPENDENT-1" })] }),
        new pkijs.Attribute({ type: SCEP.senderNonce, values: [new asn1js.OctetString({ valueHex: nonce })] }),
      ],
    });
    const sd = new pkijs.SignedData({
      version: 1,
      encapContentInfo: new pkijs.EncapsulatedContentInfo({
        eContentType: "1.2.840.113549.1.7.1",
        eContent: new asn1js.OctetString({ valueHex: envelope }),
      }),
      signerInfos: [
        new pkijs.SignerInfo({
          version: 1,
          sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
          signedAttrs,
        }),
      ],
      certificates: [cert],
    });
    const cryptoKey = await webcrypto.subtle.importKey(
      "pkcs8",
      deviceKey.export({ format: "der", type: "pkcs8" }),
      { name: "RSASSA-PKCS1-v1_5", hash: opts.hash },
      false,
      ["sign"],
    );
    await sd.sign(cryptoKey as unknown as Parameters<pkijs.SignedData["sign"]>[0], 0, opts.hash);
    const der = new Uint8Array(
      new pkijs.ContentInfo({ contentType: "1.2.840.113549.1.7.2", content: sd.toSchema(true) }).toSchema().toBER(),
    );
    return { der, nonce };
  }

  it.each([
    { cipher: "aes256", hash: "SHA-256", alg: "aes-256-cbc", digest: "sha256" },
    { cipher: "aes128", hash: "SHA-1", alg: "aes-128-cbc", digest: "sha1" },
    { cipher: "des3", hash: "SHA-1", alg: "des-ede3-cbc", digest: "sha1" },
  ] as const)("issues for $cipher/$hash; pkijs verifies the CertRep and openssl opens it", async ({ cipher, hash, alg, digest }) => {
    const { der, nonce } = await independentRequest({ cipher, hash, challenge: "wire-challenge" });
    const { reply, outcome } = await handleScepRequest(der, context());
    expect(outcome).toMatchObject({ status: "SUCCESS", transactionId: "INDEPENDENT-1", contentEncryption: alg, digest });

    const { verified, attrs, sd } = await pkijsAttributes(reply);
    expect(verified).toBe(true);
    expect(printable(attrs.get(SCEP.messageType))).toBe("3");
    expect(printable(attrs.get(SCEP.pkiStatus))).toBe("0");
    expect(printable(attrs.get(SCEP.transactionId))).toBe("INDEPENDENT-1");
    expect(octets(attrs.get(SCEP.recipientNonce)).equals(nonce)).toBe(true);
    expect(octets(attrs.get(SCEP.senderNonce)).equals(nonce)).toBe(false);
    expect(attrs.has(SCEP.failInfo)).toBe(false);
    // the RA certificate is embedded and is the signer
    expect(sd.certificates).toHaveLength(1);
    expect(Buffer.from((sd.certificates![0] as pkijs.Certificate).toSchema().toBER()).equals(Buffer.from(ra.certDer))).toBe(true);

    const env = opensslOk(["cms", "-verify", "-noverify", "-inform", "DER", "-in", "r.der", "-out", "env.der"], {
      files: { "r.der": reply },
      outputs: ["env.der"],
    }).outputs["env.der"]!;
    const p7 = opensslOk(
      ["cms", "-decrypt", "-inform", "DER", "-in", "env.der", "-recip", "me.pem", "-inkey", "me.key", "-out", "p7.der"],
      {
        files: { "env.der": env, "me.pem": derToPem(selfSigned.certDer), "me.key": exportPrivateKeyPem(deviceKey) },
        outputs: ["p7.der"],
      },
    ).outputs["p7.der"]!;
    const certs = opensslOk(["pkcs7", "-inform", "DER", "-in", "p7.der", "-print_certs"], { files: { "p7.der": p7 } }).stdout.toString();
    expect(certs).toMatch(/^subject=CN = independent/);
    const issuedPem = certs.slice(certs.indexOf("-----BEGIN CERTIFICATE-----"), certs.indexOf("-----END CERTIFICATE-----") + 25);
    opensslOk(["verify", "-CAfile", "ca.pem", "leaf.pem"], { files: { "ca.pem": derToPem(ca.certDer), "leaf.pem": issuedPem } });
    const cms = opensslOk(["cms", "-cmsout", "-print", "-inform", "DER", "-in", "env.der"], { files: { "env.der": env } }).stdout.toString();
    expect(cms).toContain(`algorithm: ${alg === "des-ede3-cbc" ? "des-ede3-cbc" : alg}`);
  });

  it("answers a legacy single-DES request with badAlg, or issues when DES is allowed", async () => {
    const { der, nonce } = await independentRequest({ cipher: "des", hash: "SHA-1", legacy: true, challenge: "wire-challenge" });
    const refused = await handleScepRequest(der, context());
    expect(refused.outcome).toMatchObject({ status: "FAILURE", failInfo: "badAlg" });
    const { attrs } = await pkijsAttributes(refused.reply, { verify: false });
    expect(printable(attrs.get(SCEP.pkiStatus))).toBe("2");
    expect(printable(attrs.get(SCEP.failInfo))).toBe("0");
    expect(octets(attrs.get(SCEP.recipientNonce)).equals(nonce)).toBe(true);
    // A FAILURE reply carries no pkcsPKIEnvelope; openssl verifies it over empty content.
    expect(readPkiMessage(refused.reply).envelope).toBeUndefined();
    opensslOk(["cms", "-verify", "-noverify", "-inform", "DER", "-in", "r.der", "-content", "empty"], {
      files: { "r.der": refused.reply, empty: "" },
    });

    const allowed = await handleScepRequest(der, context({ allowLegacyDes: true }));
    expect(allowed.outcome).toMatchObject({ status: "SUCCESS", contentEncryption: "des-cbc" });
  });

  it("refuses a wrong challenge with badRequest (failInfo 2)", async () => {
    const { der } = await independentRequest({ cipher: "aes256", hash: "SHA-256", challenge: "nope" });
    const { reply, outcome } = await handleScepRequest(der, context());
    expect(outcome).toMatchObject({ status: "FAILURE", failInfo: "badRequest", reason: "challenge refused: bad challenge" });
    expect(printable((await pkijsAttributes(reply, { verify: false })).attrs.get(SCEP.failInfo))).toBe("2");
    opensslOk(["cms", "-verify", "-noverify", "-inform", "DER", "-in", "r.der", "-content", "empty"], {
      files: { "r.der": reply, empty: "" },
    });
  });
});

describe("handleScepRequest input handling", () => {
  it("throws ScepMessageError (HTTP 400) for input that is not a pkiMessage", async () => {
    for (const bad of [new Uint8Array(0), Buffer.from("GET / HTTP/1.1"), randomBytes(64), Uint8Array.of(0x30, 0x82, 0x10)]) {
      await expect(handleScepRequest(bad, context())).rejects.toBeInstanceOf(ScepMessageError);
    }
  });

  it("throws ScepMessageError for a SignedData without SCEP attributes", async () => {
    const { signCms } = await import("./cms-signed-data.ts");
    const der = signCms(Buffer.from("hello"), selfSigned);
    await expect(handleScepRequest(der, context())).rejects.toThrow(/transactionID/);
  });

  it("refuses with ScepMessageError a transactionID the CertRep could not echo as a PrintableString", async () => {
    const { signCms } = await import("./cms-signed-data.ts");
    const { encryptToCertificate } = await import("./cms-enveloped-data.ts");
    const { printableString, octetString, tlv, utf8String } = await import("./der.ts");
    const request = (transactionId: Uint8Array) =>
      signCms(encryptToCertificate(Buffer.from("x"), ra.certDer), selfSigned, {
        attributes: [
          { oid: SCEP.messageType, values: [printableString("19")] },
          { oid: SCEP.transactionId, values: [transactionId] },
          { oid: SCEP.senderNonce, values: [octetString(randomBytes(16))] },
        ],
      });
    // A PrintableString tag around octets outside its character set, and a UTF8String with a character outside it.
    for (const id of [tlv(0x13, Uint8Array.of(0x54, 0x01, 0xc6)), utf8String("tx-é")]) {
      await expect(handleScepRequest(request(id), context())).rejects.toThrow(ScepMessageError);
      await expect(handleScepRequest(request(id), context())).rejects.toThrow(/transactionID is not a PrintableString/);
    }
    // A UTF8String whose value is printable is answered, echoed as a PrintableString.
    const { reply } = await handleScepRequest(request(utf8String("TX-utf8")), context());
    expect(readPkiMessage(reply).transactionId).toBe("TX-utf8");
  });

  it("refuses with ScepMessageError (HTTP 400) a request whose signer certificate cannot be read", async () => {
    const csr = createCsr({ subject: "CN=wire-device", key: deviceKey, challengePassword: "wire-challenge" });
    const { der } = buildPkiRequest({ messageType: "PKCSReq", transactionId: "T-bad-cert", messageData: csr, recipientCertDer: ra.certDer, signer: selfSigned });
    // The signer certificate's public key algorithm becomes an unknown OID: the message is well formed up to that key.
    const rsaEncryption = Buffer.from("06092a864886f70d010101", "hex");
    const bad = Buffer.from(der);
    const certAt = bad.indexOf(Buffer.from(selfSigned.certDer));
    bad[bad.indexOf(rsaEncryption, certAt) + rsaEncryption.length - 1] = 0x7f;
    await expect(handleScepRequest(bad, context())).rejects.toThrow(ScepMessageError);
    await expect(handleScepRequest(bad, context())).rejects.toThrow(/malformed SignedData: the signer's certificate: unreadable public key/);
  });

  it("refuses with badCertId a RenewalReq signed by a foreign certificate whose subject is no readable name", async () => {
    const cert = Buffer.from(issueDeviceCertificate(ca, { subject: "CN=renew-garbled", publicKey: deviceKey }));
    // The subject's first RDN SET becomes an OCTET STRING: still DER, no longer a Name, and no longer signed by the CA.
    const subjectAt = cert.indexOf(Buffer.from(parseCertificate(cert).subjectDer));
    expect(cert[subjectAt + 2]).toBe(0x31);
    cert[subjectAt + 2] = 0x04;
    const { der } = buildPkiRequest({
      messageType: "RenewalReq",
      transactionId: "T-garbled-subject",
      messageData: createCsr({ subject: "CN=renew-garbled", key: deviceKey }),
      recipientCertDer: ra.certDer,
      signer: { certDer: cert, key: deviceKey },
    });
    const { outcome } = await handleScepRequest(der, context());
    expect(outcome).toMatchObject({ status: "FAILURE", failInfo: "badCertId" });
    expect(outcome.reason).toContain(`unreadable subject, SHA-256 fingerprint ${parseCertificate(cert).fingerprint}`);
  });

  it("answers an unknown messageType with badRequest", async () => {
    const { signCms } = await import("./cms-signed-data.ts");
    const { encryptToCertificate } = await import("./cms-enveloped-data.ts");
    const { printableString, octetString } = await import("./der.ts");
    const der = signCms(encryptToCertificate(Buffer.from("x"), ra.certDer), selfSigned, {
      attributes: [
        { oid: SCEP.messageType, values: [printableString("99")] },
        { oid: SCEP.transactionId, values: [printableString("T")] },
        { oid: SCEP.senderNonce, values: [octetString(randomBytes(16))] },
      ],
    });
    const { outcome } = await handleScepRequest(der, context());
    expect(outcome).toMatchObject({ status: "FAILURE", failInfo: "badRequest", messageType: 99 });
  });

  it("answers a PKCSReq whose envelope holds garbage instead of a CSR with badRequest", async () => {
    const { der } = buildPkiRequest({
      messageType: "PKCSReq",
      transactionId: "T-garbage",
      messageData: randomBytes(50),
      recipientCertDer: ra.certDer,
      signer: selfSigned,
    });
    const { outcome } = await handleScepRequest(der, context());
    expect(outcome).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
  });

  it("accepts P-256 keys but refuses curves outside the allowed set", async () => {
    const request = (k: KeyObject) =>
      buildPkiRequest({
        messageType: "PKCSReq",
        transactionId: "T-ec",
        messageData: createCsr({ subject: "CN=ec", key: k, challengePassword: "wire-challenge" }),
        recipientCertDer: ra.certDer,
        signer: selfSigned,
      }).der;
    const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    expect((await handleScepRequest(request(p256), context())).outcome.status).toBe("SUCCESS");
    const k1 = generateKeyPairSync("ec", { namedCurve: "secp256k1" }).privateKey;
    const { outcome } = await handleScepRequest(request(k1), context());
    expect(outcome).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(outcome.reason).toContain("secp256k1");
  });

  it("refuses with badAlg a request signed by an EC key, which cannot receive an encrypted reply", async () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    const { der } = buildPkiRequest({
      messageType: "PKCSReq",
      transactionId: "T-ec-signer",
      messageData: createCsr({ subject: "CN=ec", key: ec, challengePassword: "wire-challenge" }),
      recipientCertDer: ra.certDer,
      signer: { certDer: selfSignedCertificate(ec, "CN=ec"), key: ec },
    });
    expect((await handleScepRequest(der, context())).outcome).toMatchObject({ status: "FAILURE", failInfo: "badAlg" });
  });

  it("accepts requests encrypted to a previous RA certificate during RA rotation", async () => {
    const newRa = await issueRaCertificate(ca, { subject: "CN=New RA" });
    const csr = createCsr({ subject: "CN=rotation", key: deviceKey, challengePassword: "wire-challenge" });
    const { der } = buildPkiRequest({ messageType: "PKCSReq", transactionId: "T-rot", messageData: csr, recipientCertDer: ra.certDer, signer: selfSigned });
    expect((await handleScepRequest(der, context({ ra: newRa }))).outcome.failInfo).toBe("badMessageCheck");
    const { outcome, reply } = await handleScepRequest(der, context({ ra: newRa, previousRas: [ra] }));
    expect(outcome.status).toBe("SUCCESS");
    // the reply is signed by the current RA
    expect(Buffer.from(readPkiMessage(reply).signedData.certificates[0]!).equals(Buffer.from(newRa.certDer))).toBe(true);
  });

  it("lists the capabilities one per line", () => {
    const caps = getCaCapsText().trim().split("\n");
    expect(caps).toEqual(expect.arrayContaining(["AES", "DES3", "POSTPKIOperation", "Renewal", "SHA-1", "SHA-256", "SCEPStandard"]));
    expect(caps).not.toContain("DES");
    expect(getCaCapsText({ renewal: false })).not.toContain("Renewal");
  });
});
