import { generateKeyPairSync, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CsrError, createCsr, parseCsr } from "./csr.ts";
import { opensslOk } from "./test-support/openssl.ts";

describe("createCsr", () => {
  it("builds a request openssl verifies, with the challenge and requested SANs", () => {
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const der = createCsr({
      subject: "CN=Device 7,O=Acme Corp,C=US",
      key,
      challengePassword: "c-123",
      subjectAltNames: [
        { type: "dns", value: "device7.acme.test" },
        { type: "email", value: "it@acme.test" },
        { type: "uri", value: "urn:uuid:4f6c1b2a" },
        { type: "upn", value: "user@acme.test" },
      ],
    });
    const r = opensslOk(["req", "-inform", "DER", "-in", "r.der", "-verify", "-noout", "-text"], { files: { "r.der": der } });
    const text = r.stdout.toString();
    expect(r.stderr + text).toMatch(/verify OK/);
    expect(text).toMatch(/challengePassword\s*:\s*c-123/);
    expect(text).toMatch(/Subject: CN ?= ?Device 7, O ?= ?Acme Corp, C ?= ?US/);
    expect(text).toContain("DNS:device7.acme.test");
    expect(text).toContain("email:it@acme.test");
    expect(text).toContain("URI:urn:uuid:4f6c1b2a");
    expect(text).toMatch(/othername: ?UPN:+user@acme\.test/i);

    const csr = parseCsr(der);
    expect(csr.subjectAltNames).toEqual([
      { type: "dns", value: "device7.acme.test" },
      { type: "email", value: "it@acme.test" },
      { type: "uri", value: "urn:uuid:4f6c1b2a" },
      { type: "upn", value: "user@acme.test" },
    ]);
  });

  it("encodes long SAN values (multi-octet lengths) that openssl reads back", () => {
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const email = `${"a".repeat(150)}@example.test`;
    const dns = `${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.test`;
    const der = createCsr({ subject: "CN=long", key, subjectAltNames: [{ type: "email", value: email }, { type: "dns", value: dns }] });
    const text = opensslOk(["req", "-inform", "DER", "-in", "r.der", "-noout", "-text"], { files: { "r.der": der } }).stdout.toString();
    expect(text).toContain(`email:${email}`);
    expect(text).toContain(`DNS:${dns}`);
    expect(parseCsr(der).subjectAltNames).toEqual([
      { type: "email", value: email },
      { type: "dns", value: dns },
    ]);
  });

  it("signs with an EC key", () => {
    const key = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    const der = createCsr({ subject: "CN=ec", key, hash: "sha384" });
    const r = opensslOk(["req", "-inform", "DER", "-in", "r.der", "-verify", "-noout", "-text"], { files: { "r.der": der } });
    expect(r.stdout.toString()).toContain("ecdsa-with-SHA384");
    expect(parseCsr(der).key).toEqual({ type: "ec", bits: 256, curve: "prime256v1" });
  });
});

describe("parseCsr on openssl requests", () => {
  it("reads an EC P-384 request with SANs added by openssl", () => {
    const r = opensslOk(
      [
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes", "-keyout", "k.pem", "-subj", "/CN=laptop/OU=IT",
        "-addext", "subjectAltName=DNS:laptop.test,IP:10.0.0.1", "-addext", "keyUsage=digitalSignature", "-outform", "DER", "-out", "r.der",
      ],
      { outputs: ["r.der"] },
    );
    const csr = parseCsr(r.outputs["r.der"]!);
    expect(csr.signatureValid).toBe(true);
    expect(csr.subject).toBe("CN=laptop, OU=IT");
    expect(csr.key).toEqual({ type: "ec", bits: 384, curve: "secp384r1" });
    expect(csr.challengePassword).toBeUndefined();
    expect(csr.subjectAltNames).toEqual([
      { type: "dns", value: "laptop.test" },
      { type: "ip", value: "10.0.0.1" },
    ]);
    expect(csr.extensions.map((e) => e.oid)).toEqual(["2.5.29.17", "2.5.29.15"]);
  });

  it("reads a UTF-8 challenge and reports a 1024-bit key's size", () => {
    const r = opensslOk(
      [
        "req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "k.pem", "-utf8", "-config", "req.cnf", "-outform", "DER", "-out", "r.der",
      ],
      {
        files: {
          "req.cnf": "[req]\ndistinguished_name=dn\nattributes=attrs\nprompt=no\nstring_mask=utf8only\n[dn]\nCN=old\n[attrs]\nchallengePassword=pässwörd\n",
        },
        outputs: ["r.der"],
      },
    );
    const csr = parseCsr(r.outputs["r.der"]!);
    expect(csr.challengePassword).toBe("pässwörd");
    expect(csr.key).toEqual({ type: "rsa", bits: 1024 });
  });

  it("flags a request whose signature does not match its content", () => {
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const der = Buffer.from(createCsr({ subject: "CN=original", key }));
    const at = der.indexOf(Buffer.from("original"));
    der[at] = "O".charCodeAt(0);
    const csr = parseCsr(der);
    expect(csr.subject).toBe("CN=Original");
    expect(csr.signatureValid).toBe(false);
  });

  it("throws CsrError for garbage and truncation", () => {
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const der = createCsr({ subject: "CN=x", key });
    for (const bad of [randomBytes(40), der.subarray(0, der.length - 1), der.subarray(0, 20), new Uint8Array(0)]) {
      expect(() => parseCsr(bad)).toThrow(CsrError);
    }
  });
});
