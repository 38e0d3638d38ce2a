import { generateKeyPairSync } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { CaError, createCa, importCa } from "./ca.ts";
import {
  certificateExtendedKeyUsage,
  certificateKeyDescription,
  certificateKeyUsage,
  certificateSubjectAltNames,
  isCertificateAuthority,
  isIssuedBy,
  parseCertificate,
  subjectString,
} from "./certificate.ts";
import { createCsr, parseCsr } from "./csr.ts";
import {
  issueDeviceCertificate,
  issueProfileSigningCertificate,
  issueRaCertificate,
  issueServerCertificate,
  type SigningIdentity,
} from "./issue.ts";
import { exportPrivateKeyPem } from "./keys.ts";
import { OID } from "./oids.ts";
import { certificateFingerprint, derToPem, pemBlocks, pemToDer } from "./pem.ts";
import { openssl, opensslOk } from "./test-support/openssl.ts";

const pem = (der: Uint8Array) => derToPem(der);

function x509Text(der: Uint8Array): string {
  return opensslOk(["x509", "-inform", "DER", "-in", "c.der", "-noout", "-text"], { files: { "c.der": der } }).stdout.toString();
}

function verify(leaf: Uint8Array, ca: Uint8Array, extra: string[] = [], untrusted?: Uint8Array): { ok: boolean; out: string } {
  const files: Record<string, string> = { "ca.pem": pem(ca), "leaf.pem": pem(leaf) };
  const args = ["verify", "-CAfile", "ca.pem", ...extra];
  if (untrusted) {
    files["int.pem"] = pem(untrusted);
    args.push("-untrusted", "int.pem");
  }
  const r = openssl([...args, "leaf.pem"], { files });
  return { ok: r.status === 0, out: r.stdout.toString() + r.stderr };
}

describe("createCa", () => {
  it.each([
    { type: "rsa", bits: 2048 },
    { type: "rsa", bits: 3072 },
    { type: "ec", curve: "P-256" },
  ] as const)("creates a self-signed CA with a $type key", async (spec) => {
    const ca = await createCa({ subject: "CN=Test Root,O=Orchard Tests", key: spec, validityDays: 30 });
    const cert = parseCertificate(ca.certDer);
    expect(isCertificateAuthority(cert)).toBe(true);
    expect(isIssuedBy(cert, cert)).toBe(true);
    expect(certificateKeyUsage(cert)).toEqual(["digitalSignature", "keyCertSign", "cRLSign"]);
    const days = (cert.notAfter.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
    const text = x509Text(ca.certDer);
    expect(text).toContain("CA:TRUE");
    expect(text).toMatch(/Subject: CN ?= ?Test Root, O ?= ?Orchard Tests/);
    expect(text).toContain(spec.type === "rsa" ? `Public-Key: (${spec.bits} bit)` : "NIST CURVE: P-256");
    expect(verify(ca.certDer, ca.certDer).ok).toBe(true);
  });

  it("creates an RSA-4096 CA", async () => {
    const ca = await createCa({ key: { type: "rsa", bits: 4096 } });
    expect(certificateKeyDescription(parseCertificate(ca.certDer))).toEqual({ type: "rsa", bits: 4096 });
    expect(verify(ca.certDer, ca.certDer).ok).toBe(true);
  }, 60_000);
});

describe("issuing certificates", () => {
  let ca: SigningIdentity;
  let ecCa: SigningIdentity;
  beforeAll(async () => {
    ca = await createCa({ subject: "CN=Orchard Test CA" });
    ecCa = await createCa({ subject: "CN=Orchard EC CA", key: { type: "ec", curve: "P-256" } });
  });

  it("issues a device identity certificate from an openssl CSR carrying a challenge", () => {
    const gen = opensslOk(
      ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-config", "req.cnf", "-outform", "DER", "-out", "r.der"],
      {
        files: {
          "req.cnf":
            "[req]\ndistinguished_name=dn\nattributes=attrs\nprompt=no\n[dn]\nCN=device-42\nO=Acme\n[attrs]\nchallengePassword=s3cret-challenge\n",
        },
        outputs: ["r.der"],
      },
    );
    const csr = parseCsr(gen.outputs["r.der"]!);
    expect(csr.signatureValid).toBe(true);
    expect(csr.challengePassword).toBe("s3cret-challenge");
    expect(csr.subject).toBe("CN=device-42, O=Acme");
    expect(csr.key).toEqual({ type: "rsa", bits: 2048 });

    const der = issueDeviceCertificate(ca, { subject: csr.subjectDer, publicKey: csr.spkiDer, validityDays: 365 });
    const cert = parseCertificate(der);
    expect(isIssuedBy(cert, parseCertificate(ca.certDer))).toBe(true);
    expect(certificateKeyUsage(cert)).toEqual(["digitalSignature", "keyEncipherment"]);
    expect(certificateExtendedKeyUsage(cert)).toEqual([OID.clientAuth]);
    expect(cert.serialNumber.length).toBe(16);
    expect(cert.serialNumber[0]! & 0x80).toBe(0);
    const text = x509Text(der);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(text).toContain("TLS Web Client Authentication");
    expect(text).toContain("CA:FALSE");
    expect(text).toMatch(/Subject: CN ?= ?device-42, O ?= ?Acme/);
    expect(verify(der, ca.certDer, ["-purpose", "sslclient"]).ok).toBe(true);
    expect(verify(der, ca.certDer, ["-purpose", "sslserver"]).ok).toBe(false);
  });

  it("gives every certificate a different random serial", () => {
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      serials.add(parseCertificate(issueDeviceCertificate(ca, { subject: "CN=x", publicKey: key })).serialNumberHex);
    }
    expect(serials.size).toBe(20);
  });

  it("issues a device certificate for an EC key, signed by an EC CA, with signing-only usage", () => {
    const key = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    const csr = parseCsr(createCsr({ subject: "CN=ec-device", key }));
    const der = issueDeviceCertificate(ecCa, { subject: csr.subjectDer, publicKey: csr.spkiDer });
    expect(certificateKeyUsage(parseCertificate(der))).toEqual(["digitalSignature"]);
    expect(x509Text(der)).toContain("ecdsa-with-SHA256");
    expect(verify(der, ecCa.certDer, ["-purpose", "sslclient"]).ok).toBe(true);
  });

  it("issues a TLS server certificate with DNS and IP SANs", async () => {
    const { certDer, key } = await issueServerCertificate(ca, {
      dnsNames: ["mdm.example.test", "localhost"],
      ipAddresses: ["127.0.0.1", "2001:db8::1"],
    });
    expect(key).toBeDefined();
    const cert = parseCertificate(certDer);
    expect(subjectString(cert)).toBe("CN=mdm.example.test");
    expect(certificateSubjectAltNames(cert)).toEqual([
      { type: "dns", value: "mdm.example.test" },
      { type: "dns", value: "localhost" },
      { type: "ip", value: "127.0.0.1" },
      { type: "ip", value: "2001:db8::1" },
    ]);
    const text = x509Text(certDer);
    expect(text).toContain("DNS:mdm.example.test, DNS:localhost, IP Address:127.0.0.1, IP Address:2001:DB8:0:0:0:0:0:1");
    expect(text).toContain("TLS Web Server Authentication");
    expect(verify(certDer, ca.certDer, ["-purpose", "sslserver", "-verify_hostname", "mdm.example.test"]).ok).toBe(true);
    expect(verify(certDer, ca.certDer, ["-purpose", "sslserver", "-verify_ip", "127.0.0.1"]).ok).toBe(true);
    expect(verify(certDer, ca.certDer, ["-purpose", "sslserver", "-verify_hostname", "evil.test"]).ok).toBe(false);
    // the key openssl would serve with matches the certificate
    const mod = (args: string[], files: Record<string, string | Uint8Array>) => opensslOk(args, { files }).stdout.toString();
    expect(mod(["rsa", "-in", "k.pem", "-noout", "-modulus"], { "k.pem": exportPrivateKeyPem(key!) })).toBe(
      mod(["x509", "-in", "c.pem", "-noout", "-modulus"], { "c.pem": pem(certDer) }),
    );
  });

  it("issues a SCEP RA certificate with its own RSA key", async () => {
    const ra = await issueRaCertificate(ca);
    const cert = parseCertificate(ra.certDer);
    expect(certificateKeyUsage(cert)).toEqual(["digitalSignature", "keyEncipherment"]);
    expect(isCertificateAuthority(cert)).toBe(false);
    expect(ra.key.asymmetricKeyType).toBe("rsa");
    expect(Buffer.from(cert.spkiDer).equals(Buffer.from(parseCertificate(ca.certDer).spkiDer))).toBe(false);
    expect(verify(ra.certDer, ca.certDer).ok).toBe(true);
    await expect(issueRaCertificate(ca, { key: ca.key })).rejects.toThrow(/must not share the CA key/);
    await expect(issueRaCertificate(ecCa, { key: ecCa.key })).rejects.toThrow(/RSA key/);
  });

  it("issues a profile-signing certificate openssl accepts for S/MIME signing", async () => {
    const signer = await issueProfileSigningCertificate(ca);
    expect(certificateExtendedKeyUsage(parseCertificate(signer.certDer))).toEqual([OID.emailProtection]);
    expect(verify(signer.certDer, ca.certDer, ["-purpose", "smimesign"]).ok).toBe(true);
    expect(signer.chainDer).toEqual([ca.certDer]);
  });

  it("computes the SHA-256 fingerprint openssl computes", () => {
    const out = opensslOk(["x509", "-in", "c.pem", "-noout", "-fingerprint", "-sha256"], { files: { "c.pem": pem(ca.certDer) } })
      .stdout.toString()
      .trim();
    expect(out.split("=")[1]!.replace(/:/g, "").toLowerCase()).toBe(certificateFingerprint(ca.certDer));
  });
});

describe("importCa", () => {
  // A root and an intermediate made entirely by openssl, as an operator would bring them.
  let rootPem: string;
  let intPem: string;
  let intKeyPem: string;
  let leafPem: string;
  beforeAll(() => {
    const ext =
      "[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n" +
      "[v3_leaf]\nbasicConstraints=CA:FALSE\n";
    const r = opensslOk(
      [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.pem", "-subj", "/CN=Import Root",
        "-days", "30", "-config", "ext.cnf", "-extensions", "v3_ca",
      ],
      { files: { "ext.cnf": `[req]\ndistinguished_name=dn\n[dn]\n${ext}` }, outputs: ["root.pem", "root.key"] },
    );
    rootPem = r.outputs["root.pem"]!.toString();
    const i = opensslOk(
      [
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "int.key", "-out", "int.csr",
        "-subj", "/CN=Import Intermediate",
      ],
      { outputs: ["int.key", "int.csr"] },
    );
    intKeyPem = i.outputs["int.key"]!.toString();
    const s = opensslOk(
      [
        "x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial", "-days", "20",
        "-extfile", "ext.cnf", "-extensions", "v3_ca", "-out", "int.pem",
      ],
      {
        files: { "int.csr": i.outputs["int.csr"]!, "root.pem": rootPem, "root.key": r.outputs["root.key"]!, "ext.cnf": ext },
        outputs: ["int.pem"],
      },
    );
    intPem = s.outputs["int.pem"]!.toString();
    const l = opensslOk(
      [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.pem", "-subj", "/CN=Not A CA",
        "-days", "5", "-config", "ext.cnf", "-extensions", "v3_leaf",
      ],
      { files: { "ext.cnf": `[req]\ndistinguished_name=dn\n[dn]\n${ext}` }, outputs: ["leaf.pem"] },
    );
    leafPem = l.outputs["leaf.pem"]!.toString();
  });

  it("imports an intermediate CA with its chain and issues certificates openssl chains to the root", () => {
    const ca = importCa({ certPem: intPem, keyPem: intKeyPem, chainPem: rootPem });
    expect(ca.chainDer).toHaveLength(1);
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const der = issueDeviceCertificate(ca, { subject: "CN=device via intermediate", publicKey: key });
    expect(verify(der, pemToDer(rootPem), ["-purpose", "sslclient"], pemToDer(intPem)).ok).toBe(true);
    // without the intermediate the chain does not build
    expect(verify(der, pemToDer(rootPem)).ok).toBe(false);
  });

  it("accepts the chain appended to the certificate PEM", () => {
    const ca = importCa({ certPem: intPem + rootPem, keyPem: intKeyPem });
    expect(ca.chainDer).toEqual([pemToDer(rootPem)]);
  });

  it("refuses a key that does not belong to the certificate", () => {
    const other = exportPrivateKeyPem(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey);
    expect(() => importCa({ certPem: intPem, keyPem: other })).toThrow(/does not belong/);
  });

  it("refuses a certificate that is not a CA", () => {
    const k = exportPrivateKeyPem(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey);
    expect(() => importCa({ certPem: leafPem, keyPem: k })).toThrow(/not a CA certificate/);
  });

  it("refuses a chain that does not link up", () => {
    expect(() => importCa({ certPem: intPem, keyPem: intKeyPem, chainPem: intPem })).toThrow(CaError);
  });

  it("refuses a CA that has expired", () => {
    expect(() => importCa({ certPem: intPem, keyPem: intKeyPem, now: new Date(Date.now() + 40 * 86_400_000) })).toThrow(
      /not valid now/,
    );
  });

  it("reads PEM with surrounding text and several blocks", () => {
    const blocks = pemBlocks(`Bag Attributes: x\n${intPem}\nsome text\n${rootPem}`);
    expect(blocks.map((b) => b.label)).toEqual(["CERTIFICATE", "CERTIFICATE"]);
    expect(derToPem(blocks[1]!.der)).toBe(rootPem.replace(/\r/g, ""));
  });
});
