// Issuer/subject links checked from the DER, against certificates made by openssl with each signature
// algorithm a device or CA may use, and the cases where names, key identifiers or keys disagree.

import { execFileSync } from "node:child_process";
import { X509Certificate, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isIssuedBy, namesMatch, readSignedParts, type IssuerCandidate } from "./certificate-issuance.ts";
import { readCertificateFacts } from "./mdm-signature-cert.ts";

let dir = "";
const file = (name: string): string => join(dir, name);
const openssl = (...args: string[]): string => execFileSync("openssl", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const der = (name: string): Uint8Array => new Uint8Array(new X509Certificate(readFileSync(file(`${name}.pem`))).raw);

function candidate(name: string): IssuerCandidate {
  const d = der(name);
  const facts = readCertificateFacts(d);
  return { der: d, publicKey: createPublicKey({ key: Buffer.from(facts.spki), format: "der", type: "spki" }), subjectKeyId: facts.subjectKeyId, keyCertSign: facts.keyUsage?.keyCertSign };
}

function ca(name: string, subject: string, keyArgs: string[], ext = "keyUsage=critical,keyCertSign,cRLSign"): void {
  openssl("req", "-x509", ...keyArgs, "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "30", "-subj", subject, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", ext);
}

function leaf(name: string, issuer: string, ...signArgs: string[]): void {
  writeFileSync(file(`${name}.ext`), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nauthorityKeyIdentifier=keyid\n");
  openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
  openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${issuer}.pem`, "-CAkey", `${issuer}.key`, "-CAcreateserial", "-days", "10", "-extfile", `${name}.ext`, "-out", `${name}.pem`, ...signArgs);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "orchard-issuance-"));
  ca("rsa-ca", "/CN=Orchard Test CA/O=Example", ["-newkey", "rsa:2048"]);
  ca("same-name", "/CN=Orchard Test CA/O=Example", ["-newkey", "rsa:2048"]);
  ca("ec-ca", "/CN=EC CA", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]);
  ca("ed-ca", "/CN=Ed25519 CA", ["-newkey", "ed25519"]);
  ca("no-certsign", "/CN=Signing Only", ["-newkey", "rsa:2048"], "keyUsage=critical,digitalSignature");
  leaf("sha256-rsa", "rsa-ca", "-sha256");
  leaf("sha1-rsa", "rsa-ca", "-sha1");
  leaf("pss", "rsa-ca", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32");
  leaf("ecdsa384", "ec-ca", "-sha384");
  leaf("eddsa", "ed-ca");
  leaf("by-signing-only", "no-certsign", "-sha256");
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("isIssuedBy", () => {
  it.each([
    ["sha256-rsa", "rsa-ca", "1.2.840.113549.1.1.11"],
    ["sha1-rsa", "rsa-ca", "1.2.840.113549.1.1.5"],
    ["pss", "rsa-ca", "1.2.840.113549.1.1.10"],
    ["ecdsa384", "ec-ca", "1.2.840.10045.4.3.3"],
    ["eddsa", "ed-ca", "1.3.101.112"],
  ])("%s: issued by %s (%s), as node's X509Certificate agrees", (child, issuer, algorithm) => {
    expect(readSignedParts(der(child)).algorithm).toBe(algorithm);
    expect(isIssuedBy(der(child), candidate(issuer))).toBe(true);
    const x = new X509Certificate(readFileSync(file(`${child}.pem`)));
    expect(x.checkIssued(new X509Certificate(readFileSync(file(`${issuer}.pem`))))).toBe(true);
  });

  it("refuses a CA with the same name but another key (key identifiers differ)", () => {
    expect(isIssuedBy(der("sha256-rsa"), candidate("same-name"))).toBe(false);
  });

  it("refuses a CA with the same name and no key identifier when its key does not verify the signature", () => {
    const other = candidate("same-name");
    expect(isIssuedBy(der("sha256-rsa"), { ...other, subjectKeyId: undefined })).toBe(false);
    expect(isIssuedBy(der("pss"), { ...other, subjectKeyId: undefined })).toBe(false);
  });

  it("refuses an issuer of another name, and an issuer whose keyUsage lacks keyCertSign", () => {
    expect(isIssuedBy(der("sha256-rsa"), candidate("ec-ca"))).toBe(false);
    expect(isIssuedBy(der("by-signing-only"), candidate("no-certsign"))).toBe(false);
    expect(isIssuedBy(der("by-signing-only"), { ...candidate("no-certsign"), keyCertSign: undefined })).toBe(true);
  });

  it("refuses a certificate whose signature was altered, and bytes that are not a certificate", () => {
    const altered = Uint8Array.from(der("ecdsa384"));
    altered[altered.length - 5]! ^= 0x01;
    expect(isIssuedBy(altered, candidate("ec-ca"))).toBe(false);
    expect(isIssuedBy(Uint8Array.from([0x30, 0x00]), candidate("ec-ca"))).toBe(false);
  });
});

describe("namesMatch", () => {
  const name = (tag: number, text: string): Uint8Array => {
    const value = Buffer.from(text, "utf8");
    const ava = Buffer.concat([Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]), Buffer.from([tag, value.length]), value]);
    const seq = Buffer.concat([Buffer.from([0x30, ava.length]), ava]);
    const set = Buffer.concat([Buffer.from([0x31, seq.length]), seq]);
    return Uint8Array.from(Buffer.concat([Buffer.from([0x30, set.length]), set]));
  };

  it("matches names that differ only in string type, ASCII case and white space (RFC 5280 §7.1)", () => {
    expect(namesMatch(name(0x13, "Orchard CA"), name(0x0c, "  orchard   ca "))).toBe(true);
    expect(namesMatch(name(0x13, "Orchard CA"), name(0x13, "Orchard CA"))).toBe(true);
  });

  it("does not match different names", () => {
    expect(namesMatch(name(0x13, "Orchard CA"), name(0x13, "Orchard CA 2"))).toBe(false);
    expect(namesMatch(name(0x0c, "Zürich CA"), name(0x0c, "Zurich CA"))).toBe(false);
  });
});
