// The certificate authority: creating a self-signed one, or importing an existing CA (root or
// intermediate, with its chain) from PEM.

import type { KeyObject } from "node:crypto";
import {
  certificateKeyUsage,
  certificatePublicKey,
  isCertificateAuthority,
  isIssuedBy,
  isSelfIssued,
  isValidAt,
  parseCertificate,
  subjectString,
  type Certificate,
} from "./certificate.ts";
import { basicConstraints, keyUsage, subjectKeyIdentifier } from "./extensions.ts";
import { buildCertificate, DAY_MS, type SigningIdentity } from "./issue.ts";
import { describeKey, generatePrivateKey, importPrivateKey, keysMatch, spkiDer, type KeySpec } from "./keys.ts";
import { pemBlocks } from "./pem.ts";

export class CaError extends Error {
  override readonly name = "CaError";
}

export interface CreateCaOptions {
  /** RFC 4514 subject; default "CN=Orchard CA". */
  subject?: string;
  /** Key to use, or the kind of key to generate (default RSA 2048). */
  key?: KeySpec | KeyObject;
  /** Default 10 years. */
  validityDays?: number;
  /** basicConstraints pathLenConstraint; absent means unconstrained. */
  pathLength?: number;
}

/** Creates a self-signed root CA. Its `chainDer` is empty. */
export async function createCa(opts: CreateCaOptions = {}): Promise<SigningIdentity> {
  const key = isKeyObject(opts.key) ? opts.key : await generatePrivateKey(opts.key ?? { type: "rsa", bits: 2048 });
  if (key.type !== "private") throw new CaError("the CA key must be a private key");
  const spki = spkiDer(key);
  const certDer = buildCertificate(
    {
      subject: opts.subject ?? "CN=Orchard CA",
      publicKey: spki,
      validityDays: opts.validityDays ?? 3650,
      notBefore: new Date(Date.now() - DAY_MS),
      extensions: [
        basicConstraints(true, opts.pathLength),
        keyUsage(["digitalSignature", "keyCertSign", "cRLSign"]),
        subjectKeyIdentifier(spki),
      ],
    },
    { selfSigned: key },
  );
  return { certDer, key, chainDer: [] };
}

function isKeyObject(k: KeySpec | KeyObject | undefined): k is KeyObject {
  return typeof k === "object" && k !== null && "asymmetricKeyType" in k;
}

export interface ImportCaInput {
  /** The CA certificate in PEM; further certificates in the same text are taken as its chain. */
  certPem: string;
  /** The CA's private key in PEM (PKCS#8, PKCS#1 or SEC1, unencrypted). */
  keyPem: string;
  /** The chain above the CA (intermediates, optionally the root), nearest first. */
  chainPem?: string;
  /** Reference time for the validity check (tests). */
  now?: Date;
}

/**
 * Imports an external CA and checks what would otherwise fail later and obscurely: the certificate
 * is a CA that may sign certificates, is currently valid, the key belongs to it, and each chain
 * certificate issued the one before it.
 */
export function importCa(input: ImportCaInput): SigningIdentity {
  const certs = pemBlocks(input.certPem).filter((b) => b.label === "CERTIFICATE");
  const first = certs[0];
  if (!first) throw new CaError("no CERTIFICATE block in the CA certificate PEM");
  const chainDer = [
    ...certs.slice(1).map((b) => b.der),
    ...(input.chainPem ? pemBlocks(input.chainPem).filter((b) => b.label === "CERTIFICATE").map((b) => b.der) : []),
  ];
  const cert = parse(first.der, "CA certificate");
  const key = importPrivateKey(input.keyPem);
  if (key.type !== "private") throw new CaError("the CA key PEM does not hold a private key");
  const name = subjectString(cert);
  if (!isCertificateAuthority(cert)) throw new CaError(`"${name}" is not a CA certificate (basicConstraints cA is not set)`);
  const usage = certificateKeyUsage(cert);
  if (usage && !usage.includes("keyCertSign")) throw new CaError(`"${name}" may not sign certificates (no keyCertSign)`);
  if (!isValidAt(cert, input.now)) {
    throw new CaError(`"${name}" is not valid now (${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()})`);
  }
  if (!keysMatch(key, certificatePublicKey(cert))) throw new CaError(`the private key does not belong to "${name}"`);
  const kd = describeKey(key);
  if (kd.type === "rsa" && kd.bits < 2048) throw new CaError(`the CA key is RSA-${kd.bits}; at least 2048 bits are required`);

  let below: Certificate = cert;
  chainDer.forEach((der, i) => {
    const up = parse(der, `chain certificate ${i + 1}`);
    if (!isCertificateAuthority(up)) throw new CaError(`chain certificate ${i + 1} ("${subjectString(up)}") is not a CA`);
    if (!isIssuedBy(below, up)) {
      throw new CaError(`"${subjectString(below)}" was not issued by chain certificate ${i + 1} ("${subjectString(up)}")`);
    }
    below = up;
  });
  if (isSelfIssued(cert) && chainDer.length > 0) throw new CaError("a self-signed CA certificate has no chain above it");
  return { certDer: first.der, key, chainDer };
}

function parse(der: Uint8Array, what: string): Certificate {
  try {
    return parseCertificate(der);
  } catch (e) {
    throw new CaError(`${what}: ${(e as Error).message}`);
  }
}
