// Mdm-Signature verification against real CMS bytes from independent producers (openssl cms/smime, pkijs),
// with a PKI made by openssl for this file, and Orchard's own signer checked by `openssl cms -verify`.

import { execFileSync } from "node:child_process";
import { createPrivateKey, webcrypto, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPlist } from "../wire/plist.ts";
import { parseClientCertificateHeader } from "./mdm-signature-cert-header.ts";
import { createMdmBodySigner, signMdmBody } from "./mdm-signature-sign.ts";
import type { MdmDigest } from "./mdm-signature-sign.ts";
import { createMdmSignatureVerifier } from "./mdm-signature.ts";
import type { MdmSignatureResult } from "./mdm-signature.ts";

let dir = "";
const file = (name: string): string => join(dir, name);
const openssl = (...args: string[]): string => execFileSync("openssl", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const der = (pemName: string): Uint8Array => new Uint8Array(new X509Certificate(readFileSync(file(pemName))).raw);
const b64 = (name: string): string => readFileSync(file(name)).toString("base64");

const BODY = new TextEncoder().encode(buildPlist({ Status: "Idle", UDID: "00008110-000A1C2E3E88801E" }));
const ALTERED = new TextEncoder().encode(buildPlist({ Status: "Idle", UDID: "00008110-000A1C2E3E88801F" }));

/** openssl cms -sign over BODY; returns the header value (base64 DER). */
function cmsSign(out: string, signer: string, key: string, ...extra: string[]): string {
  openssl("cms", "-sign", "-binary", "-in", "body", "-signer", signer, "-inkey", key, "-outform", "DER", "-out", out, ...extra);
  return b64(out);
}

function fingerprintOf(pemName: string): string {
  const line = openssl("x509", "-in", pemName, "-noout", "-fingerprint", "-sha256");
  return (line.split("=")[1] ?? "").trim().replace(/:/g, "").toLowerCase();
}

/** Leaf certificate for `key` issued by `ca`, with the given extension lines. */
function issue(name: string, csr: string, ca: string, caKey: string, extensions: string): void {
  writeFileSync(file(`${name}.ext`), extensions);
  openssl("x509", "-req", "-in", csr, "-CA", `${ca}.pem`, "-CAkey", `${caKey}.key`, "-CAcreateserial", "-days", "365", "-sha256", "-extfile", `${name}.ext`, "-out", `${name}.pem`);
}

const CLIENT_EXT = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\n";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "orchard-mdmsig-"));
  writeFileSync(file("body"), BODY);
  const caExt = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"];
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", "/CN=Orchard Test CA", ...caExt);
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "foreign.key", "-out", "foreign.pem", "-days", "3650", "-subj", "/CN=Orchard Test CA", ...caExt);
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "device.key", "-out", "device.csr", "-subj", "/CN=00008110-000A1C2E3E88801E");
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ec.key", "-out", "ec.csr", "-subj", "/CN=ec-device");
  // The intermediate reuses the device CSR's key: only the certificate's role matters for path building.
  issue("intermediate", "device.csr", "ca", "ca", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\nsubjectKeyIdentifier=hash\n");

  issue("device", "device.csr", "ca", "ca", CLIENT_EXT);
  issue("noeku", "device.csr", "ca", "ca", "basicConstraints=CA:FALSE\n");
  issue("server", "device.csr", "ca", "ca", "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  issue("nosign", "device.csr", "ca", "ca", "keyUsage=critical,keyEncipherment\n");
  issue("caleaf", "device.csr", "ca", "ca", "basicConstraints=critical,CA:TRUE\n");
  issue("foreign-device", "device.csr", "foreign", "foreign", CLIENT_EXT);
  issue("ec-device", "ec.csr", "ca", "ca", CLIENT_EXT);
  issue("via-intermediate", "ec.csr", "intermediate", "device", CLIENT_EXT);

  // A certificate that really expired (2020), via `openssl ca`, which can set both dates.
  writeFileSync(file("index.txt"), "");
  writeFileSync(file("serial"), "1000\n");
  writeFileSync(file("ca.cnf"), "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n");
  writeFileSync(file("expired.ext"), CLIENT_EXT);
  openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "device.csr", "-out", "expired.pem", "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extfile", "expired.ext", "-notext");
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function verifier(now?: () => Date, cacheSize?: number) {
  return createMdmSignatureVerifier({ trustedCaDers: [der("ca.pem")], now, cacheSize });
}

/** nativeRsa false: node:crypto for every signature (what runs where the native helper is not built). */
function verifierWith(nativeRsa: boolean, now?: () => Date, cacheSize?: number) {
  return createMdmSignatureVerifier({ trustedCaDers: [der("ca.pem")], now, cacheSize, nativeRsa });
}

function expectOk(result: MdmSignatureResult, pem: string): void {
  if (!result.ok) throw new Error(`expected success, got ${result.reason}: ${result.detail}`);
  expect(result.fingerprint).toBe(fingerprintOf(pem));
  expect(Buffer.from(result.certDer)).toEqual(Buffer.from(der(pem)));
  expect(result.notAfter.getTime()).toBe(new Date(new X509Certificate(readFileSync(file(pem))).validTo).getTime());
}

function expectFailure(result: MdmSignatureResult | { ok: boolean; reason?: string }, reason: string): void {
  expect(result.ok).toBe(false);
  expect(!result.ok && "reason" in result ? result.reason : undefined).toBe(reason);
}

// Every case with both RSA paths: the native helper (rsa-native.ts) and node:crypto.
describe.each([{ native: true }, { native: false }])("Mdm-Signature from openssl cms/smime (native RSA: $native)", ({ native }) => {
  it("accepts SHA-1 and SHA-256, with and without signed attributes", () => {
    const v = verifierWith(native);
    for (const md of ["sha1", "sha256"]) {
      const withAttrs = v.verify(cmsSign(`attr-${md}.der`, "device.pem", "device.key", "-md", md), BODY);
      expectOk(withAttrs, "device.pem");
      expect(withAttrs.ok && withAttrs.digest).toBe(md);
      expectOk(v.verify(cmsSign(`noattr-${md}.der`, "device.pem", "device.key", "-md", md, "-noattr"), BODY), "device.pem");
    }
  });

  it("accepts openssl smime -sign detached DER output", () => {
    openssl("smime", "-sign", "-binary", "-in", "body", "-signer", "device.pem", "-inkey", "device.key", "-md", "sha256", "-outform", "DER", "-out", "smime.der");
    expectOk(verifierWith(native).verify(b64("smime.der"), BODY), "device.pem");
  });

  it("accepts a signer identified by subjectKeyIdentifier, an ECDSA key, and a certificate without EKU", () => {
    const v = verifierWith(native);
    expectOk(v.verify(cmsSign("keyid.der", "device.pem", "device.key", "-keyid"), BODY), "device.pem");
    expectOk(v.verify(cmsSign("ec.der", "ec-device.pem", "ec.key", "-md", "sha256"), BODY), "ec-device.pem");
    expectOk(v.verify(cmsSign("ec1.der", "ec-device.pem", "ec.key", "-md", "sha1"), BODY), "ec-device.pem");
    expectOk(v.verify(cmsSign("noeku.der", "noeku.pem", "device.key"), BODY), "noeku.pem");
  });

  it("builds a path through an intermediate the CMS carries, and rejects the leaf without it", () => {
    const without = verifierWith(native).verify(cmsSign("int-missing.der", "via-intermediate.pem", "ec.key"), BODY);
    expectFailure(without, "untrusted-certificate");
    const v = verifierWith(native);
    expectOk(v.verify(cmsSign("int.der", "via-intermediate.pem", "ec.key", "-certfile", "intermediate.pem"), BODY), "via-intermediate.pem");
  });

  it("accepts BER with indefinite lengths (openssl cms -stream)", () => {
    const value = cmsSign("stream.der", "device.pem", "device.key", "-stream", "-md", "sha1");
    const bytes = Buffer.from(value, "base64");
    expect([bytes[0], bytes[1]]).toEqual([0x30, 0x80]);
    expectOk(verifierWith(native).verify(value, BODY), "device.pem");
    expectFailure(verifierWith(native).verify(value, ALTERED), "digest-mismatch");
  });

  it("accepts header values with line breaks (folded base64)", () => {
    const value = cmsSign("folded.der", "device.pem", "device.key");
    expectOk(verifierWith(native).verify(value.replace(/(.{64})/g, "$1\n"), BODY), "device.pem");
  });

  it("rejects an altered body: digest-mismatch with attributes, bad-signature without", () => {
    const v = verifierWith(native);
    expectFailure(v.verify(cmsSign("a1.der", "device.pem", "device.key", "-md", "sha1"), ALTERED), "digest-mismatch");
    expectFailure(v.verify(cmsSign("a2.der", "device.pem", "device.key", "-md", "sha256"), ALTERED), "digest-mismatch");
    expectFailure(v.verify(cmsSign("a3.der", "device.pem", "device.key", "-noattr"), ALTERED), "bad-signature");
    expectFailure(v.verify(cmsSign("a4.der", "device.pem", "device.key"), new Uint8Array(0)), "digest-mismatch");
  });

  it("rejects a certificate from a foreign CA with the same name as the trusted one", () => {
    expectFailure(verifierWith(native).verify(cmsSign("f.der", "foreign-device.pem", "device.key"), BODY), "untrusted-certificate");
  });

  it("rejects an expired certificate, and one not yet valid", () => {
    expectFailure(verifierWith(native).verify(cmsSign("e.der", "expired.pem", "device.key"), BODY), "certificate-expired");
    const past = verifierWith(native, () => new Date("2001-01-01T00:00:00Z"));
    expectFailure(past.verify(cmsSign("nyv.der", "device.pem", "device.key"), BODY), "certificate-not-yet-valid");
  });

  it("rejects certificates that may not act as a device identity", () => {
    const v = verifierWith(native);
    expectFailure(v.verify(cmsSign("s.der", "server.pem", "device.key"), BODY), "certificate-usage");
    expectFailure(v.verify(cmsSign("ns.der", "nosign.pem", "device.key"), BODY), "certificate-usage");
    expectFailure(v.verify(cmsSign("cl.der", "caleaf.pem", "device.key"), BODY), "certificate-usage");
  });

  it("rejects a CMS without the signer certificate", () => {
    expectFailure(verifierWith(native).verify(cmsSign("nc.der", "device.pem", "device.key", "-nocerts"), BODY), "signer-certificate-missing");
  });

  it("rejects a signature made with a key other than the certificate's, and a corrupted signature", () => {
    const v = verifierWith(native);
    const wrongKey = signMdmBody(BODY, der("device.pem"), readFileSync(file("foreign.key"), "utf8"), "sha256");
    expectFailure(v.verify(wrongKey, BODY), "bad-signature");
    // Without unsigned attributes the last byte of the DER is the last byte of the signature value.
    const header = Buffer.from(cmsSign("mk.der", "device.pem", "device.key", "-noattr"), "base64");
    header[header.length - 1] = (header[header.length - 1] ?? 0) ^ 0x01;
    expectFailure(v.verify(header.toString("base64"), BODY), "bad-signature");
  });

  it("rejects garbage, truncated and non-CMS headers with distinct reasons", () => {
    const v = verifierWith(native);
    const good = Buffer.from(cmsSign("t.der", "device.pem", "device.key"), "base64");
    expectFailure(v.verify("", BODY), "malformed-header");
    expectFailure(v.verify("not base64 at all!", BODY), "malformed-header");
    expectFailure(v.verify("%%%%", BODY), "malformed-header");
    expectFailure(v.verify("A".repeat(70_000), BODY), "malformed-header");
    expectFailure(v.verify(good.subarray(0, good.length - 10).toString("base64"), BODY), "malformed-cms");
    expectFailure(v.verify(good.subarray(0, 200).toString("base64"), BODY), "malformed-cms");
    expectFailure(v.verify(Buffer.from("hello world, this is not DER").toString("base64"), BODY), "malformed-cms");
    expectFailure(v.verify(Buffer.concat([good, Buffer.from([0])]).toString("base64"), BODY), "malformed-cms");
    // A certificate, not a SignedData.
    expectFailure(v.verify(Buffer.from(der("device.pem")).toString("base64"), BODY), "malformed-cms");
    // Valid ContentInfo, wrong content type (id-data).
    expectFailure(v.verify(Buffer.from("300f06092a864886f70d010701a0020400", "hex").toString("base64"), BODY), "unsupported-cms");
  });

  it("never throws on mutated CMS bytes", () => {
    const v = verifierWith(native);
    const good = Buffer.from(cmsSign("mut.der", "device.pem", "device.key"), "base64");
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const reasons = new Set<string>();
    for (let i = 0; i < 1500; i++) {
      const m = Buffer.from(good);
      for (let k = 0, n = 1 + rand(4); k < n; k++) m[rand(m.length)] = rand(256);
      const r = v.verify(m.toString("base64"), BODY);
      if (!r.ok) reasons.add(r.reason);
    }
    // Flipping bytes anywhere reaches structure, certificate and signature checks alike.
    expect([...reasons]).toEqual(expect.arrayContaining(["malformed-cms", "bad-signature"]));
  });
});

describe("Mdm-Signature from pkijs (cross-check)", () => {
  beforeAll(() => {
    pkijs.setEngine("node", new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as unknown as ConstructorParameters<typeof pkijs.CryptoEngine>[0]["crypto"] }));
  });

  async function pkijsSign(body: Uint8Array, hash: "SHA-1" | "SHA-256", withAttributes: boolean): Promise<string> {
    const cert = pkijs.Certificate.fromBER(der("device.pem"));
    const pkcs8 = createPrivateKey(readFileSync(file("device.key"))).export({ format: "der", type: "pkcs8" });
    const key = await webcrypto.subtle.importKey("pkcs8", pkcs8, { name: "RSASSA-PKCS1-v1_5", hash }, false, ["sign"]);
    const digest = await webcrypto.subtle.digest(hash, body);
    const signedAttrs = new pkijs.SignedAndUnsignedAttributes({
      type: 0,
      attributes: [
        new pkijs.Attribute({ type: "1.2.840.113549.1.9.3", values: [new asn1js.ObjectIdentifier({ value: "1.2.840.113549.1.7.1" })] }),
        new pkijs.Attribute({ type: "1.2.840.113549.1.9.4", values: [new asn1js.OctetString({ valueHex: digest })] }),
        new pkijs.Attribute({ type: "1.2.840.113549.1.9.5", values: [new asn1js.UTCTime({ valueDate: new Date() })] }),
      ],
    });
    const signerInfo = new pkijs.SignerInfo({
      version: 1,
      sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
      ...(withAttributes ? { signedAttrs } : {}),
    });
    const signedData = new pkijs.SignedData({
      version: 1,
      encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: "1.2.840.113549.1.7.1" }),
      signerInfos: [signerInfo],
      certificates: [cert],
    });
    await signedData.sign(key, 0, hash, body);
    const contentInfo = new pkijs.ContentInfo({ contentType: "1.2.840.113549.1.7.2", content: signedData.toSchema(true) });
    return Buffer.from(contentInfo.toSchema().toBER()).toString("base64");
  }

  for (const hash of ["SHA-1", "SHA-256"] as const) {
    for (const withAttributes of [true, false]) {
      it(`accepts ${hash} ${withAttributes ? "with" : "without"} signed attributes, and rejects it on another body`, async () => {
        const header = await pkijsSign(BODY, hash, withAttributes);
        const v = verifier();
        expectOk(v.verify(header, BODY), "device.pem");
        expectFailure(v.verify(header, ALTERED), withAttributes ? "digest-mismatch" : "bad-signature");
      });
    }
  }
});

describe("signMdmBody (the simulator's signer), checked by openssl cms -verify", () => {
  const cases: [string, string, string, MdmDigest, boolean][] = [
    ["RSA SHA-1 with attributes", "device.pem", "device.key", "sha1", true],
    ["RSA SHA-256 with attributes", "device.pem", "device.key", "sha256", true],
    ["RSA SHA-256 without attributes", "device.pem", "device.key", "sha256", false],
    ["ECDSA SHA-256 with attributes", "ec-device.pem", "ec.key", "sha256", true],
    ["RSA SHA-512 with attributes", "device.pem", "device.key", "sha512", true],
  ];
  for (const [name, pem, key, digest, attrs] of cases) {
    it(name, () => {
      const header = signMdmBody(BODY, der(pem), readFileSync(file(key), "utf8"), digest, { signedAttributes: attrs });
      writeFileSync(file("ours.der"), Buffer.from(header, "base64"));
      // openssl exits non-zero (and execFileSync throws) unless the signature and chain verify.
      openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", "ours.der", "-content", "body", "-CAfile", "ca.pem", "-purpose", "sslclient", "-out", file("verified"));
      expect(readFileSync(file("verified"))).toEqual(Buffer.from(BODY));
      const result = verifier().verify(header, BODY);
      expectOk(result, pem);
      expect(result.ok && result.digest).toBe(digest);
    });
  }

  it("embeds extra certificates so a verifier can build the path", () => {
    const header = signMdmBody(BODY, der("via-intermediate.pem"), readFileSync(file("ec.key"), "utf8"), "sha256", {
      extraCertificates: [der("intermediate.pem")],
    });
    expectOk(verifier().verify(header, BODY), "via-intermediate.pem");
  });

  it("a prepared signer signs many bodies, each verifying only against its own body", () => {
    const sign = createMdmBodySigner(der("device.pem"), readFileSync(file("device.key"), "utf8"), { digest: "sha1" });
    const v = verifier();
    const bodies = Array.from({ length: 20 }, (_, i) => new TextEncoder().encode(buildPlist({ Status: "Idle", N: i })));
    const headers = bodies.map((b) => sign(b));
    headers.forEach((h, i) => {
      expect(v.verify(h, bodies[i] as Uint8Array).ok).toBe(true);
      expectFailure(v.verify(h, bodies[(i + 1) % bodies.length] as Uint8Array), "digest-mismatch");
    });
  });
});

describe("the certificate cache", () => {
  it("re-checks expiry on every hit", () => {
    let clock = new Date();
    const v = verifier(() => clock);
    const header = cmsSign("c1.der", "device.pem", "device.key");
    expect(v.verify(header, BODY).ok).toBe(true);
    const notAfter = new Date(new X509Certificate(readFileSync(file("device.pem"))).validTo);
    clock = new Date(notAfter.getTime() + 1000);
    expectFailure(v.verify(header, BODY), "certificate-expired");
    expect(v.stats().chainChecks).toBe(1);
    expect(v.stats().hits).toBeGreaterThanOrEqual(1);
  });

  it("is bounded, and once full replaces only an entry unused for 15 minutes", () => {
    let clock = new Date();
    const v = verifier(() => clock, 2);
    for (const [pem, key] of [["device.pem", "device.key"], ["noeku.pem", "device.key"], ["ec-device.pem", "ec.key"]] as const) {
      expect(v.verify(cmsSign(`b-${pem}.der`, pem, key), BODY).ok).toBe(true);
    }
    // The third was checked with a one-off key and not cached: the cache was full.
    expect(v.stats()).toMatchObject({ cached: 2, chainChecks: 3, misses: 3, hits: 0 });
    // Again, within 15 minutes: still a one-off (the cache does not churn), and its trust verdict is
    // remembered, so no path is built again.
    const ec = cmsSign("b-ec-again.der", "ec-device.pem", "ec.key");
    expect(v.verify(ec, BODY).ok).toBe(true);
    expect(v.stats()).toMatchObject({ cached: 2, chainChecks: 3, misses: 4, hits: 0 });
    // noeku.pem is used again; device.pem stays unused for 15 minutes and is replaced by the next miss.
    clock = new Date(clock.getTime() + 10 * 60_000);
    expect(v.verify(cmsSign("b-noeku-again.der", "noeku.pem", "device.key"), BODY).ok).toBe(true);
    expect(v.stats()).toMatchObject({ hits: 1 });
    clock = new Date(clock.getTime() + 5 * 60_000 + 1);
    expect(v.verify(ec, BODY).ok).toBe(true);
    expect(v.stats()).toMatchObject({ cached: 2, chainChecks: 3, misses: 5, hits: 1 });
    expect(v.verify(ec, BODY).ok).toBe(true);
    expect(v.stats()).toMatchObject({ misses: 5, hits: 2 });
    // noeku.pem (used 5 minutes ago) is still cached; device.pem is not.
    expect(v.verify(cmsSign("b-noeku-3.der", "noeku.pem", "device.key"), BODY).ok).toBe(true);
    expect(v.stats()).toMatchObject({ misses: 5, hits: 3 });
    expect(v.verify(cmsSign("b-again.der", "device.pem", "device.key"), BODY).ok).toBe(true);
    expect(v.stats()).toMatchObject({ cached: 2, chainChecks: 3, misses: 6 });
  });

  it("bounds the verdict cache too: a certificate evicted from both has its path built again", () => {
    let clock = new Date();
    const v = createMdmSignatureVerifier({ trustedCaDers: [der("ca.pem")], cacheSize: 1, verdictCacheSize: 1, now: () => clock });
    expect(v.verify(cmsSign("c1.der", "device.pem", "device.key"), BODY).ok).toBe(true);
    clock = new Date(clock.getTime() + 16 * 60_000);
    const noeku = cmsSign("c2.der", "noeku.pem", "device.key");
    expect(v.verify(noeku, BODY).ok).toBe(true); // in device.pem's place, which was idle
    expect(v.verify(noeku, BODY).ok).toBe(true);
    expect(v.stats()).toMatchObject({ chainChecks: 2, hits: 1 });
    clock = new Date(clock.getTime() + 16 * 60_000);
    expect(v.verify(cmsSign("c3.der", "device.pem", "device.key"), BODY).ok).toBe(true);
    expect(v.stats().chainChecks).toBe(3);
  });

  it("a remembered verdict keeps the path's window: a CA that expires first still ends it; a later-starting path is not remembered", () => {
    const caExt = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"];
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "short.key", "-out", "short.pem", "-days", "30", "-subj", "/CN=Short CA", ...caExt);
    issue("long-leaf", "device.csr", "short", "short", CLIENT_EXT); // 365 days, under a 30-day CA
    issue("other-leaf", "ec.csr", "short", "short", CLIENT_EXT);
    writeFileSync(file("short.cnf"), readFileSync(file("ca.cnf"), "utf8"));
    openssl("ca", "-batch", "-config", "short.cnf", "-cert", "short.pem", "-keyfile", "short.key", "-in", "device.csr", "-out", "early-leaf.pem", "-startdate", "20200101000000Z", "-enddate", "20300101000000Z", "-extfile", "expired.ext", "-notext");
    const long = cmsSign("v1.der", "long-leaf.pem", "device.key");
    const other = cmsSign("v2.der", "other-leaf.pem", "ec.key");
    const early = cmsSign("v3.der", "early-leaf.pem", "device.key");
    const caEnd = new Date(new X509Certificate(readFileSync(file("short.pem"))).validTo).getTime();

    let clock = new Date();
    const v = createMdmSignatureVerifier({ trustedCaDers: [der("short.pem")], cacheSize: 1, now: () => clock });
    expect(v.verify(long, BODY).ok).toBe(true);
    clock = new Date(clock.getTime() + 16 * 60_000);
    expect(v.verify(other, BODY).ok).toBe(true); // takes the parsed-cache place; the verdict on long-leaf stays
    clock = new Date(caEnd + 1000);
    expectFailure(v.verify(long, BODY), "certificate-expired");
    expect(v.stats()).toMatchObject({ chainChecks: 2, misses: 3 });

    clock = new Date();
    const w = createMdmSignatureVerifier({ trustedCaDers: [der("short.pem")], cacheSize: 1, now: () => clock });
    expect(w.verify(early, BODY).ok).toBe(true);
    clock = new Date(clock.getTime() + 16 * 60_000);
    expect(w.verify(other, BODY).ok).toBe(true);
    clock = new Date(clock.getTime() + 16 * 60_000);
    expect(w.verify(early, BODY).ok).toBe(true);
    expect(w.stats()).toMatchObject({ chainChecks: 3, misses: 3 });
  });

  it("refuses a wrong signature from a certificate checked with a one-off key", () => {
    const v = verifier(undefined, 1);
    expect(v.verify(cmsSign("d1.der", "device.pem", "device.key"), BODY).ok).toBe(true);
    expectFailure(v.verify(cmsSign("d2.der", "ec-device.pem", "ec.key"), ALTERED), "digest-mismatch");
    const forged = Buffer.from(cmsSign("d3.der", "noeku.pem", "device.key"), "base64");
    forged[forged.length - 3]! ^= 0x01; // inside the signature value, the last field of the SignerInfo
    expectFailure(v.verify(forged.toString("base64"), BODY), "bad-signature");
    expect(v.stats().cached).toBe(1);
  });

  it("a tight loop of verify() on a cached certificate does one path check in all", () => {
    const v = verifier();
    const header = cmsSign("loop.der", "device.pem", "device.key", "-md", "sha1");
    for (let i = 0; i < 2000; i++) {
      const r = v.verify(header, BODY);
      if (!r.ok) throw new Error(r.detail);
    }
    expect(v.stats()).toMatchObject({ chainChecks: 1, misses: 1, hits: 1999, cached: 1 });
  });

  it("remembers an untrusted certificate only when no intermediate could change the answer", () => {
    const v = verifier();
    expectFailure(v.verify(cmsSign("u1.der", "foreign-device.pem", "device.key"), BODY), "untrusted-certificate");
    expectFailure(v.verify(cmsSign("u2.der", "foreign-device.pem", "device.key"), BODY), "untrusted-certificate");
    expect(v.stats().chainChecks).toBe(1);
    // With an intermediate the first answer is not final: the leaf below succeeds after an earlier failure.
    const leafOnly = cmsSign("u3.der", "via-intermediate.pem", "ec.key", "-certfile", "foreign.pem");
    expectFailure(v.verify(leafOnly, BODY), "untrusted-certificate");
    expect(v.verify(cmsSign("u4.der", "via-intermediate.pem", "ec.key", "-certfile", "intermediate.pem"), BODY).ok).toBe(true);
  });
});

describe("verifyIdentityCertificate (TLS client certificates and proxy headers)", () => {
  it("applies the same chain, validity and usage rules", () => {
    const v = verifier();
    const ok = v.verifyIdentityCertificate(der("device.pem"));
    expect(ok.ok && ok.fingerprint).toBe(fingerprintOf("device.pem"));
    expectFailure(v.verifyIdentityCertificate(der("foreign-device.pem")), "untrusted-certificate");
    expectFailure(v.verifyIdentityCertificate(der("server.pem")), "certificate-usage");
    expectFailure(v.verifyIdentityCertificate(der("expired.pem")), "certificate-expired");
    expectFailure(v.verifyIdentityCertificate(der("via-intermediate.pem")), "untrusted-certificate");
    expect(v.verifyIdentityCertificate(der("via-intermediate.pem"), [der("intermediate.pem")]).ok).toBe(true);
    expectFailure(v.verifyIdentityCertificate(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01)), "malformed-certificate");
    expectFailure(v.verifyIdentityCertificate(new Uint8Array(0)), "malformed-certificate");
  });

  it("shares the cache with verify()", () => {
    const v = verifier();
    expect(v.verify(cmsSign("share.der", "device.pem", "device.key"), BODY).ok).toBe(true);
    expect(v.verifyIdentityCertificate(der("device.pem")).ok).toBe(true);
    expect(v.stats().chainChecks).toBe(1);
  });

  it("refuses an unreadable trust anchor at construction", () => {
    expect(() => createMdmSignatureVerifier({ trustedCaDers: [Uint8Array.of(1, 2, 3)] })).toThrow(/trusted CA certificate #1/);
  });
});

describe("parseClientCertificateHeader", () => {
  it("reads URL-escaped PEM (nginx $ssl_client_escaped_cert)", () => {
    const pem = readFileSync(file("device.pem"), "utf8");
    const r = parseClientCertificateHeader(encodeURIComponent(pem));
    expect(r.ok && Buffer.from(r.certDer)).toEqual(Buffer.from(der("device.pem")));
  });

  it("reads the RFC 9440 byte-sequence form", () => {
    const r = parseClientCertificateHeader(`:${Buffer.from(der("device.pem")).toString("base64")}:`);
    expect(r.ok && Buffer.from(r.certDer)).toEqual(Buffer.from(der("device.pem")));
  });

  it("reads raw PEM with spaces for line breaks, bare base64 DER, and a PEM chain", () => {
    const pem = readFileSync(file("device.pem"), "utf8");
    const spaced = pem.replace(/\n/g, " ").replace("BEGIN CERTIFICATE", "BEGIN CERTIFICATE");
    const r1 = parseClientCertificateHeader(spaced);
    expect(r1.ok && Buffer.from(r1.certDer)).toEqual(Buffer.from(der("device.pem")));
    const r2 = parseClientCertificateHeader(Buffer.from(der("device.pem")).toString("base64"));
    expect(r2.ok && Buffer.from(r2.certDer)).toEqual(Buffer.from(der("device.pem")));
    const chain = parseClientCertificateHeader(encodeURIComponent(readFileSync(file("via-intermediate.pem"), "utf8") + readFileSync(file("intermediate.pem"), "utf8")));
    if (!chain.ok) throw new Error(chain.detail);
    expect(Buffer.from(chain.certDer)).toEqual(Buffer.from(der("via-intermediate.pem")));
    expect(chain.chain.map((c) => Buffer.from(c))).toEqual([Buffer.from(der("intermediate.pem"))]);
    expect(verifier().verifyIdentityCertificate(chain.certDer, chain.chain).ok).toBe(true);
  });

  const bad: [string, string][] = [
    ["empty", ""],
    ["unterminated byte sequence", ":AAAA"],
    ["byte sequence of non-DER", `:${Buffer.from("hello").toString("base64")}:`],
    ["bad URL escape", "%E0%A4%A"],
    ["truncated PEM", "-----BEGIN CERTIFICATE-----%0AMIIB"],
    ["plain text", "hello"],
    ["truncated DER", "MIIDdzCCAl+gAwIBAgIU"],
  ];
  for (const [name, value] of bad) {
    it(`rejects ${name}`, () => {
      const r = parseClientCertificateHeader(value);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.reason).toBe("malformed-header");
    });
  }
});
