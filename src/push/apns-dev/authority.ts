// The local APNs endpoint's own small PKI: a CA that issues the endpoint's TLS certificate and, for
// development and tests, push certificates shaped like Apple's (subject UID = com.apple.mgmt.External.<uuid>).
// The endpoint trusts this CA for client certificates, so a push certificate it issued works end to end.
import { randomUUID, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCa } from "../../pki/ca.ts";
import { parseCertificate } from "../../pki/certificate.ts";
import { authorityKeyIdentifier, basicConstraints, extendedKeyUsage, keyIdentifier, keyUsage, subjectKeyIdentifier } from "../../pki/extensions.ts";
import { buildCertificate, DAY_MS, issueServerCertificate, type SigningIdentity } from "../../pki/issue.ts";
import { exportPrivateKeyPem, generatePrivateKey, importPrivateKey, spkiDer } from "../../pki/keys.ts";
import { OID } from "../../pki/oids.ts";
import { derToPem, pemToDer } from "../../pki/pem.ts";
import { UID_OID } from "../push-certificate.ts";

export interface ApnsDevAuthority {
  ca: SigningIdentity;
  caPem: string;
  /** The endpoint's TLS server identity (localhost, 127.0.0.1, ::1). */
  tls: { certPem: string; keyPem: string };
}

export interface IssuedPushCertificate {
  topic: string;
  certPem: string;
  keyPem: string;
  key: KeyObject;
}

const FILES = { ca: "ca.pem", caKey: "ca-key.pem", tls: "tls.pem", tlsKey: "tls-key.pem" };

/** Loads the authority from `dir` or creates it there (or in memory when `dir` is undefined). */
export async function loadOrCreateApnsDevAuthority(dir?: string): Promise<ApnsDevAuthority> {
  if (dir && existsSync(join(dir, FILES.ca)) && existsSync(join(dir, FILES.tlsKey))) {
    const read = (f: string) => readFileSync(join(dir, f), "utf8");
    const caPem = read(FILES.ca);
    const ca = { certDer: pemToDer(caPem, "CERTIFICATE"), key: importPrivateKey(read(FILES.caKey)), chainDer: [] };
    const tls = { certPem: read(FILES.tls), keyPem: read(FILES.tlsKey) };
    // An expired TLS certificate would fail every push with an obscure TLS error: make a new one.
    if (parseCertificate(pemToDer(tls.certPem, "CERTIFICATE")).notAfter.getTime() > Date.now() + DAY_MS) return { ca, caPem, tls };
  }
  const ca = await createCa({ subject: "CN=Orchard local APNs CA,O=Orchard development", validityDays: 3650 });
  const caPem = derToPem(ca.certDer);
  const server = await issueServerCertificate(ca, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"], subject: "CN=Orchard local APNs" });
  const tls = { certPem: derToPem(server.certDer), keyPem: exportPrivateKeyPem(server.key!) };
  if (dir) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const write = (f: string, text: string, secret: boolean) => {
      writeFileSync(join(dir, f), text, { mode: secret ? 0o600 : 0o644 });
      if (secret) chmodSync(join(dir, f), 0o600);
    };
    write(FILES.ca, caPem, false);
    write(FILES.caKey, exportPrivateKeyPem(ca.key), true);
    write(FILES.tls, tls.certPem, false);
    write(FILES.tlsKey, tls.keyPem, true);
  }
  return { ca, caPem, tls };
}

export interface PushCertificateSpec {
  /** Default: com.apple.mgmt.External.<random UUID>, as Apple issues. */
  topic?: string;
  notBefore?: Date;
  notAfter?: Date;
  key?: KeyObject;
}

/**
 * A push certificate as Apple's portal shapes it (UID=topic, CN=APSP:<uuid>, clientAuth), issued by `ca`.
 * Not accepted by Apple's gateway, of course: it is for the local endpoint and for tests.
 */
export async function issuePushCertificate(ca: SigningIdentity, spec: PushCertificateSpec = {}): Promise<IssuedPushCertificate> {
  const uuid = randomUUID();
  const topic = spec.topic ?? `com.apple.mgmt.External.${uuid}`;
  const key = spec.key ?? (await generatePrivateKey({ type: "rsa", bits: 2048 }));
  const spki = spkiDer(key);
  const caCert = parseCertificate(ca.certDer);
  const notBefore = spec.notBefore ?? new Date(Date.now() - 5 * 60_000);
  const certDer = buildCertificate(
    {
      subject: `${UID_OID}=${topic},CN=APSP:${uuid},C=US`,
      publicKey: spki,
      notBefore,
      notAfter: spec.notAfter ?? new Date(notBefore.getTime() + 365 * DAY_MS),
      extensions: [
        basicConstraints(false),
        keyUsage(["digitalSignature"]),
        extendedKeyUsage([OID.clientAuth]),
        subjectKeyIdentifier(spki),
        authorityKeyIdentifier(keyIdentifier(caCert.spkiDer)),
      ],
    },
    ca,
  );
  return { topic, certPem: derToPem(certDer), keyPem: exportPrivateKeyPem(key), key };
}
