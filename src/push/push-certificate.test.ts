// Push certificate reading: the topic from the subject UID, the refusals that matter (expired, key of another
// certificate, not an MDM topic), and .p12 files written by openssl (OpenSSL 3's PBES2/AES default and the
// legacy 3DES + RC2-40 layout macOS Keychain exports) as the independent producer.
import { describe, expect, it, beforeAll } from "vitest";
import { createCa } from "../pki/ca.ts";
import type { SigningIdentity } from "../pki/issue.ts";
import { generatePrivateKey, exportPrivateKeyPem } from "../pki/keys.ts";
import { derToPem, pemToDer } from "../pki/pem.ts";
import { openssl } from "../pki/test-support/openssl.ts";
import { issuePushCertificate, type IssuedPushCertificate } from "./apns-dev/authority.ts";
import { PushCertificateError, readPushCertificate } from "./push-certificate.ts";
import { readPkcs12 } from "./pkcs12.ts";

const DAY = 86_400_000;

function problem(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof PushCertificateError) return `${e.problem}: ${e.message}`;
    throw e;
  }
  return undefined;
}

describe("push certificate", () => {
  let ca: SigningIdentity;
  let cert: IssuedPushCertificate;
  beforeAll(async () => {
    ca = await createCa({ subject: "CN=Test Apple-like CA" });
    cert = await issuePushCertificate(ca, { topic: "com.apple.mgmt.External.3f1c6d2e-0000-4000-8000-000000000001" });
  });

  it("reads the topic from the subject UID, as openssl prints it", () => {
    const m = readPushCertificate(cert.certPem, cert.keyPem);
    expect(m.topic).toBe("com.apple.mgmt.External.3f1c6d2e-0000-4000-8000-000000000001");
    const printed = openssl(["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", "c.pem"], { files: { "c.pem": cert.certPem } }).stdout.toString();
    expect(printed).toContain(`UID=${m.topic}`);
    expect(m.notAfter.getTime()).toBeGreaterThan(Date.now() + 360 * DAY);
    // Certificate and key in one text (openssl pkcs12 -nodes output) work too.
    expect(readPushCertificate(cert.certPem + cert.keyPem, undefined).topic).toBe(m.topic);
  });

  it("refuses an expired certificate, a key of another certificate, an app topic and a certificate without a UID", async () => {
    const expired = await issuePushCertificate(ca, { notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
    expect(problem(() => readPushCertificate(expired.certPem, expired.keyPem))).toMatch(/^expired: .*expired on .*renew it/);
    const otherKey = exportPrivateKeyPem(await generatePrivateKey({ type: "rsa", bits: 2048 }));
    expect(problem(() => readPushCertificate(cert.certPem, otherKey))).toMatch(/^key_mismatch: the private key does not belong/);
    const app = await issuePushCertificate(ca, { topic: "com.example.app" });
    expect(problem(() => readPushCertificate(app.certPem, app.keyPem))).toMatch(/^not_mdm: .*com\.example\.app/);
    expect(problem(() => readPushCertificate(Buffer.from(ca.certDer), exportPrivateKeyPem(ca.key)))).toMatch(/^no_topic: /);
    expect(problem(() => readPushCertificate("garbage", cert.keyPem))).toMatch(/^unreadable: /);
    expect(problem(() => readPushCertificate(cert.certPem, undefined))).toMatch(/^no_key: /);
  });

  describe(".p12 files from openssl", () => {
    const variants: Array<[string, string[]]> = [
      ["OpenSSL 3 default (PBES2 AES-256-CBC, HMAC-SHA-256)", []],
      ["legacy (3DES key, RC2-40 certificates, SHA-1 MAC), as Keychain Access exports", ["-legacy"]],
      ["3DES for both", ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"]],
      ["AES-128 with PBKDF2-SHA-1", ["-keypbe", "AES-128-CBC", "-certpbe", "AES-128-CBC"]],
    ];
    for (const [name, extra] of variants) {
      it(name, () => {
        const r = openssl(["pkcs12", "-export", "-in", "c.pem", "-inkey", "k.pem", "-certfile", "ca.pem", "-passout", "pass:sécret pw", "-out", "p.p12", ...extra], {
          files: { "c.pem": cert.certPem, "k.pem": cert.keyPem, "ca.pem": derToPem(ca.certDer) },
          outputs: ["p.p12"],
        });
        expect(r.status, r.stderr).toBe(0);
        const p12 = readPkcs12(r.outputs["p.p12"]!, "sécret pw");
        expect(Buffer.from(p12.certDer).equals(Buffer.from(pemToDer(cert.certPem)))).toBe(true);
        expect(p12.chainDer.map((d) => Buffer.from(d).equals(Buffer.from(ca.certDer)))).toEqual([true]);
        expect(exportPrivateKeyPem(p12.key)).toBe(cert.keyPem);
        expect(problem(() => readPkcs12(r.outputs["p.p12"]!, "wrong"))).toMatch(/^unreadable: the \.p12 password is wrong/);
      });
    }
    it("refuses bytes that are not PKCS #12", () => {
      expect(problem(() => readPkcs12(new Uint8Array([1, 2, 3]), "x"))).toMatch(/^unreadable: /);
    });
  });
});
