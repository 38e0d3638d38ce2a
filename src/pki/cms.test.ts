import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { createCa } from "./ca.ts";
import { CmsError, issuerAndSerialNumber, wrapContentInfo } from "./cms.ts";
import { decryptEnvelope, encryptToCertificate, envelopeAlgorithm, type ContentEncryptionAlgorithm } from "./cms-enveloped-data.ts";
import { certsOnly, parseCertsOnly, parseSignedData, signCms, signProfile, verifySignedData } from "./cms-signed-data.ts";
import { parseCertificate, subjectString } from "./certificate.ts";
import { issueDeviceCertificate, issueProfileSigningCertificate, type SigningIdentity } from "./issue.ts";
import { exportPrivateKeyPem } from "./keys.ts";
import { OID } from "./oids.ts";
import { derToPem } from "./pem.ts";
import { openssl, opensslOk } from "./test-support/openssl.ts";
import { algorithmIdentifier, integer, nullValue, octetString, oid, parseAsn1, printableString, readOid, readString, sequence, setOf, tlv } from "./der.ts";
import { findAttribute } from "./cms.ts";

const same = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && Buffer.compare(a, b) === 0;

const PROFILE = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>PayloadType</key><string>Configuration</string></dict></plist>\n',
);

let ca: SigningIdentity;
let signer: SigningIdentity;
let device: SigningIdentity;
let caPem: string;

beforeAll(async () => {
  ca = await createCa({ subject: "CN=CMS Test CA" });
  caPem = derToPem(ca.certDer);
  signer = await issueProfileSigningCertificate(ca, { subject: "CN=Profile Signer" });
  const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  device = { certDer: issueDeviceCertificate(ca, { subject: "CN=device", publicKey: key }), key };
});

describe("signProfile / signCms", () => {
  it("produces a SignedData that `openssl smime -verify -CAfile` accepts and unwraps", () => {
    const der = signProfile(PROFILE, signer);
    const r = opensslOk(["smime", "-verify", "-inform", "DER", "-in", "p.der", "-CAfile", "ca.pem", "-out", "out.bin"], {
      files: { "p.der": der, "ca.pem": caPem },
      outputs: ["out.bin"],
    });
    expect(r.outputs["out.bin"]!.equals(PROFILE)).toBe(true);
    // structure as openssl sees it: SHA-256, the signer chain embedded
    const print = opensslOk(["cms", "-cmsout", "-print", "-inform", "DER", "-in", "p.der"], { files: { "p.der": der } }).stdout.toString();
    expect(print).toContain("algorithm: sha256");
    expect(print.match(/cert_info:/g)?.length).toBe(2);
  });

  it("fails `openssl smime -verify` when the content is tampered with", () => {
    const der = Buffer.from(signProfile(PROFILE, signer));
    const at = der.indexOf(Buffer.from("Configuration"));
    der[at] = 0x63; // 'C' -> 'c'
    const r = openssl(["smime", "-verify", "-inform", "DER", "-in", "p.der", "-CAfile", "ca.pem"], {
      files: { "p.der": der, "ca.pem": caPem },
    });
    expect(r.status).not.toBe(0);
    expect(() => verifySignedData(der)).toThrow(expect.objectContaining({ code: "digest-mismatch" }));
  });

  it("signs with an EC key in a way openssl verifies", async () => {
    const ecSigner = await issueProfileSigningCertificate(ca, { keySpec: { type: "ec", curve: "P-256" } });
    const der = signCms(PROFILE, ecSigner, { digest: "sha384" });
    opensslOk(["cms", "-verify", "-inform", "DER", "-in", "p.der", "-CAfile", "ca.pem", "-purpose", "any"], {
      files: { "p.der": der, "ca.pem": caPem },
    });
    expect(verifySignedData(der).digest).toBe("sha384");
  });

  it("round-trips through verifySignedData with the signed attributes", () => {
    const extra = { oid: OID.scepTransactionId, values: [printableString("abc123")] };
    const der = signCms(PROFILE, signer, { digest: "sha1", attributes: [extra], signingTime: new Date(Date.UTC(2030, 0, 1)) });
    const v = verifySignedData(der);
    expect(Buffer.from(v.content).equals(PROFILE)).toBe(true);
    expect(v.digest).toBe("sha1");
    expect(subjectString(v.signerCert)).toBe("CN=Profile Signer");
    expect(readString(findAttribute(v.signedAttributes, OID.scepTransactionId))).toBe("abc123");
    expect(v.signingTime?.toISOString()).toBe("2030-01-01T00:00:00.000Z");
    expect(v.certificates).toHaveLength(2);
  });

  it("makes detached signatures openssl verifies against the content", () => {
    const der = signCms(PROFILE, device, { detached: true });
    expect(parseSignedData(der).content).toBeUndefined();
    opensslOk(
      ["cms", "-verify", "-inform", "DER", "-in", "s.der", "-content", "body", "-binary", "-CAfile", "ca.pem", "-purpose", "any"],
      { files: { "s.der": der, "body": PROFILE, "ca.pem": caPem } },
    );
    expect(same(verifySignedData(der, { detachedContent: PROFILE }).signerCertDer, device.certDer)).toBe(true);
    expect(() => verifySignedData(der)).toThrow(expect.objectContaining({ code: "no-content" }));
    expect(() => verifySignedData(der, { detachedContent: Buffer.from("other") })).toThrow(
      expect.objectContaining({ code: "digest-mismatch" }),
    );
  });
});

describe("verifySignedData on openssl-made signatures", () => {
  const sign = (args: string[]) =>
    opensslOk(
      ["cms", "-sign", "-binary", "-in", "body", "-signer", "c.pem", "-inkey", "k.pem", "-outform", "DER", "-out", "s.der", ...args],
      {
        files: { body: PROFILE, "c.pem": derToPem(device.certDer), "k.pem": exportPrivateKeyPem(device.key) },
        outputs: ["s.der"],
      },
    ).outputs["s.der"]!;

  it.each([
    { name: "attached SHA-256", args: ["-nodetach", "-md", "sha256"], digest: "sha256", detached: false },
    { name: "attached SHA-1", args: ["-nodetach", "-md", "sha1"], digest: "sha1", detached: false },
    { name: "detached SHA-1", args: ["-md", "sha1"], digest: "sha1", detached: true },
    { name: "detached SHA-256 without attributes", args: ["-md", "sha256", "-noattr"], digest: "sha256", detached: true },
    { name: "streamed BER (indefinite lengths)", args: ["-nodetach", "-stream", "-md", "sha256"], digest: "sha256", detached: false },
    { name: "signer identified by key id", args: ["-nodetach", "-keyid"], digest: "sha256", detached: false },
  ])("$name", ({ args, digest, detached }) => {
    const der = sign(args);
    const v = verifySignedData(der, detached ? { detachedContent: PROFILE } : {});
    expect(v.digest).toBe(digest);
    expect(Buffer.from(v.content).equals(PROFILE)).toBe(true);
    expect(same(v.signerCertDer, device.certDer)).toBe(true);
  });

  it("refuses SHA-1 when the caller does not accept it", () => {
    const der = sign(["-nodetach", "-md", "sha1"]);
    expect(() => verifySignedData(der, { allowedDigests: ["sha256"] })).toThrow(
      expect.objectContaining({ code: "algorithm-not-allowed" }),
    );
  });

  it("reports a broken signature", () => {
    const der = Buffer.from(sign(["-nodetach", "-md", "sha256"]));
    der[der.length - 5] = der[der.length - 5]! ^ 0xff; // inside the signature value, the last field
    expect(() => verifySignedData(der)).toThrow(expect.objectContaining({ code: "bad-signature" }));
  });

  it("reports a missing signer certificate", () => {
    const der = sign(["-nodetach", "-nocerts"]);
    expect(() => verifySignedData(der)).toThrow(expect.objectContaining({ code: "signer-not-found" }));
    expect(same(verifySignedData(der, { extraCertificates: [device.certDer] }).signerCertDer, device.certDer)).toBe(true);
  });

  it("turns garbage and truncation into CmsError('malformed')", () => {
    const der = sign(["-nodetach"]);
    for (const bad of [der.subarray(0, der.length - 10), der.subarray(0, 40), randomBytes(100), Buffer.from("hello")]) {
      let err: unknown;
      try {
        verifySignedData(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CmsError);
      expect((err as CmsError).code).toBe("malformed");
    }
  });
});

describe("verifySignedData on a well-formed SignedData with a malformed part", () => {
  const rsaEncryption = Buffer.from("06092a864886f70d010101", "hex");
  const messageDigest = Buffer.from("06092a864886f70d010904", "hex");
  const expectMalformed = (der: Uint8Array, message: RegExp) => {
    let err: unknown;
    try {
      verifySignedData(der);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CmsError);
    expect(err).toMatchObject({ code: "malformed", message: expect.stringMatching(message) });
  };

  it("reports an embedded certificate that is not an X.509 certificate", () => {
    const notACertificate = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01);
    expectMalformed(signCms(PROFILE, device, { certificates: [device.certDer, notACertificate] }), /certificate 2 in the SignedData: not a valid X.509 certificate/);
  });

  it("reports a signer certificate whose public key cannot be read", () => {
    // The SubjectPublicKeyInfo's algorithm becomes an unknown OID (1.2.840.113549.1.1.127); issuer and serial still match.
    const cert = Buffer.from(device.certDer);
    cert[cert.indexOf(rsaEncryption) + rsaEncryption.length - 1] = 0x7f;
    expectMalformed(signCms(PROFILE, device, { certificates: [cert] }), /the signer's certificate: unreadable public key/);
  });

  it("reports a messageDigest attribute that is not an OCTET STRING", () => {
    const der = Buffer.from(signCms(PROFILE, device));
    const at = der.indexOf(messageDigest) + messageDigest.length;
    expect(der[at]).toBe(0x31); // SET OF values, then the OCTET STRING
    der[at + 2] = 0x13; // ... turned into a PrintableString
    expectMalformed(der, /messageDigest attribute: .*not an OCTET STRING/);
  });

  it("reports a SignerInfo signatureAlgorithm whose algorithm is not an OID", () => {
    // The last rsaEncryption in the message is the SignerInfo's signatureAlgorithm (the others are in certificates).
    const der = Buffer.from(signCms(PROFILE, device));
    der[der.lastIndexOf(rsaEncryption)] = 0x02;
    expectMalformed(der, /SignerInfo signatureAlgorithm/);
  });
});

describe("certs-only SignedData", () => {
  it("keeps the certificate order, and openssl lists them in that order", () => {
    const der = certsOnly([device.certDer, ca.certDer]);
    const out = opensslOk(["pkcs7", "-inform", "DER", "-in", "p7.der", "-print_certs", "-noout"], { files: { "p7.der": der } })
      .stdout.toString();
    expect(out.indexOf("subject=CN = device")).toBeLessThan(out.indexOf("subject=CN = CMS Test CA"));
    expect(out.indexOf("subject=CN = device")).toBeGreaterThanOrEqual(0);
    const certs = parseCertsOnly(der);
    expect(certs).toHaveLength(2);
    expect(same(certs[0], device.certDer) && same(certs[1], ca.certDer)).toBe(true);
  });

  it("reads openssl's certs-only output", () => {
    const p7 = opensslOk(["crl2pkcs7", "-nocrl", "-certfile", "certs.pem", "-outform", "DER", "-out", "p7.der"], {
      files: { "certs.pem": derToPem(ca.certDer) + derToPem(device.certDer) },
      outputs: ["p7.der"],
    }).outputs["p7.der"]!;
    expect(parseCertsOnly(p7).map((d) => subjectString(parseCertificate(d)))).toEqual(["CN=CMS Test CA", "CN=device"]);
  });
});

describe("encryptToCertificate / decryptEnvelope", () => {
  const ALGS: ContentEncryptionAlgorithm[] = ["aes-128-cbc", "aes-192-cbc", "aes-256-cbc", "des-ede3-cbc"];

  const opensslDecrypt = (der: Uint8Array, legacy = false) =>
    opensslOk(
      [
        "cms", "-decrypt", "-inform", "DER", "-in", "e.der", "-recip", "c.pem", "-inkey", "k.pem", "-out", "out.bin",
        ...(legacy ? ["-provider", "legacy", "-provider", "default"] : []),
      ],
      {
        files: { "e.der": der, "c.pem": derToPem(device.certDer), "k.pem": exportPrivateKeyPem(device.key) },
        outputs: ["out.bin"],
      },
    ).outputs["out.bin"]!;

  const opensslEncrypt = (cipher: string, legacy = false) =>
    opensslOk(
      [
        "cms", "-encrypt", "-binary", "-in", "body", `-${cipher}`, "-outform", "DER", "-out", "e.der",
        ...(legacy ? ["-provider", "legacy", "-provider", "default"] : []),
        "c.pem",
      ],
      { files: { body: PROFILE, "c.pem": derToPem(device.certDer) }, outputs: ["e.der"] },
    ).outputs["e.der"]!;

  it.each(ALGS)("%s envelopes open with `openssl cms -decrypt`", (alg) => {
    const der = encryptToCertificate(PROFILE, device.certDer, alg);
    expect(opensslDecrypt(der).equals(PROFILE)).toBe(true);
    expect(envelopeAlgorithm(der).name).toBe(alg);
  });

  it("single-DES envelopes open with openssl's legacy provider", () => {
    const der = encryptToCertificate(PROFILE, device.certDer, "des-cbc");
    expect(opensslDecrypt(der, true).equals(PROFILE)).toBe(true);
  });

  it.each([
    ["aes128", "aes-128-cbc"],
    ["aes192", "aes-192-cbc"],
    ["aes256", "aes-256-cbc"],
    ["des3", "des-ede3-cbc"],
  ] as const)("opens openssl -%s envelopes and reports %s", (cipher, alg) => {
    const out = decryptEnvelope(opensslEncrypt(cipher), device.key, { recipientCertDer: device.certDer });
    expect(out.algorithm).toBe(alg);
    expect(Buffer.from(out.content).equals(PROFILE)).toBe(true);
  });

  it("refuses single DES unless allowed, reporting the algorithm", () => {
    const der = opensslEncrypt("des", true);
    let err: unknown;
    try {
      decryptEnvelope(der, device.key);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: "algorithm-not-allowed", algorithm: "des-cbc" });
    const out = decryptEnvelope(der, device.key, { allowDes: true });
    expect(out.algorithm).toBe("des-cbc");
    expect(Buffer.from(out.content).equals(PROFILE)).toBe(true);
  });

  // Node 20's OpenSSL 3 has no des-cbc without the legacy provider (not in crypto.getCiphers()), so single DES
  // runs as 3DES-EDE with K1 = K2 = K3. This pins that path to the published vector of FIPS 81 appendix B
  // (key 0123456789abcdef, IV 1234567890abcdef, "Now is the time for all "), not only to openssl round trips.
  it("decrypts single DES-CBC to the FIPS 81 known answer", () => {
    const cek = Buffer.from("0123456789abcdef", "hex");
    const iv = Buffer.from("1234567890abcdef", "hex");
    // The FIPS 81 ciphertext, then the PKCS #7 padding block (eight 0x08 bytes) as `openssl enc -des-cbc` makes it.
    const encrypted = Buffer.from("e5c7cdde872bf27c" + "43e934008c389c0f" + "683788499a7c05f6" + "62c16a27e4fcf277", "hex");
    const cert = parseCertificate(device.certDer);
    const ktri = sequence(integer(0), issuerAndSerialNumber(cert), algorithmIdentifier(OID.rsaEncryption, nullValue()), octetString(publicEncrypt({ key: createPublicKey(device.key), padding: constants.RSA_PKCS1_PADDING }, cek)));
    const der = wrapContentInfo(OID.envelopedData, sequence(integer(0), setOf(ktri), sequence(oid(OID.data), algorithmIdentifier(OID.desCbc, octetString(iv)), tlv(0x80, encrypted))));
    const out = decryptEnvelope(der, device.key, { allowDes: true });
    expect(out.algorithm).toBe("des-cbc");
    expect(Buffer.from(out.content).toString("latin1")).toBe("Now is the time for all ");
  });

  it("fails with decrypt-failed (never a padding hint) for the wrong key, and never yields the content", () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    let failed = 0;
    for (let i = 0; i < 20; i++) {
      const der = encryptToCertificate(PROFILE, device.certDer);
      try {
        // The wrong key gives a random content key (implicit rejection), and CBC has no integrity check: about
        // one try in 255 passes the padding check and yields garbage, which the caller's parser then refuses.
        expect(Buffer.from(decryptEnvelope(der, other).content).equals(PROFILE)).toBe(false);
      } catch (e) {
        expect(e).toMatchObject({ code: "decrypt-failed" });
        failed++;
      }
    }
    expect(failed).toBeGreaterThanOrEqual(15);
  });

  it("reports recipient-not-found when the envelope is for another certificate", () => {
    const der = encryptToCertificate(PROFILE, signer.certDer);
    expect(() => decryptEnvelope(der, device.key, { recipientCertDer: device.certDer })).toThrow(
      expect.objectContaining({ code: "recipient-not-found" }),
    );
  });

  it("writes the structure RFC 5652 asks for", () => {
    const der = encryptToCertificate(PROFILE, device.certDer, "aes-256-cbc");
    const print = opensslOk(["cms", "-cmsout", "-print", "-inform", "DER", "-in", "e.der"], { files: { "e.der": der } }).stdout.toString();
    expect(print).toContain("contentType: pkcs7-envelopedData");
    expect(print).toContain("algorithm: rsaEncryption");
    expect(print).toContain("algorithm: aes-256-cbc");
    expect(readOid(parseAsn1(der).children[0])).toBe(OID.envelopedData);
  });
});
