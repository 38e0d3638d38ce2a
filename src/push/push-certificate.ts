// An uploaded MDM push certificate: its topic (the subject's UID, com.apple.mgmt.External.…), its key
// and the checks that would otherwise fail later and silently (expired, key of another certificate,
// not a push certificate at all).
import { createHash, type KeyObject } from "node:crypto";
import { CertificateError, certificatePublicKey, isValidAt, issuerString, parseCertificate, subjectString, type Certificate } from "../pki/certificate.ts";
import { importPrivateKey, keysMatch, KeyError } from "../pki/keys.ts";
import { nameAttribute } from "../pki/names.ts";
import { derToPem, pemBlocks, PemError } from "../pki/pem.ts";

/** userId (RFC 4519 UID), where Apple puts the push topic. */
export const UID_OID = "0.9.2342.19200300.100.1.1";
/** Every MDM push topic starts so; app push certificates carry bundle ids instead. */
export const MDM_TOPIC_PREFIX = "com.apple.mgmt.";
/** Warn this long before a push certificate expires. */
export const EXPIRY_WARNING_MS = 30 * 86_400_000;

export type PushCertificateProblem = "unreadable" | "no_topic" | "not_mdm" | "expired" | "not_yet_valid" | "no_key" | "key_mismatch";

export class PushCertificateError extends Error {
  override readonly name = "PushCertificateError";
  constructor(
    readonly problem: PushCertificateProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface PushCertificateMaterial {
  certDer: Uint8Array;
  /** Certificates uploaded after the push certificate (issuer chain), nearest first. */
  chainDer: Uint8Array[];
  key: KeyObject;
  topic: string;
  subject: string;
  issuer: string;
  serial: string;
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
}

/** The topic in a certificate's subject UID, if it has one. */
export function pushTopicOf(cert: Certificate): string | undefined {
  try {
    return nameAttribute(cert.subjectDer, UID_OID);
  } catch {
    return undefined;
  }
}

/** SHA-256 of a key's (or certificate's) SubjectPublicKeyInfo, hex: pairs a certificate with a pending key. */
export function spkiSha256(spki: Uint8Array): string {
  return createHash("sha256").update(spki).digest("hex");
}

/**
 * Reads a push certificate from PEM text (the certificate first, optionally its chain and, when
 * `key` is absent, the private key in the same text) and checks it.
 */
export function readPushCertificate(certificate: string | Uint8Array, key: string | KeyObject | undefined, opts: { now?: Date } = {}): PushCertificateMaterial {
  const { certDer, chainDer, keyPem } = splitPem(certificate);
  const keyObject = typeof key === "string" ? importKey(key) : (key ?? (keyPem ? importKey(keyPem) : undefined));
  if (!keyObject) throw new PushCertificateError("no_key", "no private key was given for the push certificate (send the key you made the CSR with, or upload a .p12 holding both)");
  return checkPushCertificate(certDer, chainDer, keyObject, opts.now);
}

/** The certificate, its chain and any private key PEM in an uploaded text (or DER bytes). */
export function splitPem(input: string | Uint8Array): { certDer: Uint8Array; chainDer: Uint8Array[]; keyPem?: string } {
  if (input instanceof Uint8Array && input[0] === 0x30) return { certDer: input, chainDer: [] };
  const text = typeof input === "string" ? input : Buffer.from(input).toString("utf8");
  let blocks;
  try {
    blocks = pemBlocks(text);
  } catch (e) {
    if (e instanceof PemError) throw new PushCertificateError("unreadable", `the push certificate is not readable PEM: ${e.message}`);
    throw e;
  }
  const certs = blocks.filter((b) => b.label === "CERTIFICATE");
  const first = certs[0];
  if (!first) throw new PushCertificateError("unreadable", "no CERTIFICATE PEM block found (expected the .pem Apple's Push Certificates Portal issues)");
  const keyBlock = blocks.find((b) => /PRIVATE KEY$/.test(b.label));
  return { certDer: first.der, chainDer: certs.slice(1).map((b) => b.der), ...(keyBlock ? { keyPem: derToPem(keyBlock.der, keyBlock.label) } : {}) };
}

function importKey(pem: string): KeyObject {
  try {
    return importPrivateKey(pem);
  } catch (e) {
    if (e instanceof KeyError) throw new PushCertificateError("unreadable", `the private key is not readable: ${e.message.replace(/^unreadable private key: /, "")} (an unencrypted PEM key is expected)`);
    throw e;
  }
}

/** Checks a push certificate and its key and describes it. */
export function checkPushCertificate(certDer: Uint8Array, chainDer: Uint8Array[], key: KeyObject, now: Date = new Date()): PushCertificateMaterial {
  let cert: Certificate;
  try {
    cert = parseCertificate(certDer);
  } catch (e) {
    if (e instanceof CertificateError || e instanceof Error) throw new PushCertificateError("unreadable", `the push certificate is not a readable X.509 certificate: ${e.message}`);
    throw e;
  }
  const subject = safeName(() => subjectString(cert));
  const topic = pushTopicOf(cert);
  if (!topic) throw new PushCertificateError("no_topic", `"${subject}" has no UID in its subject, so it names no push topic: it is not an APNs push certificate`);
  if (!topic.startsWith(MDM_TOPIC_PREFIX)) {
    throw new PushCertificateError("not_mdm", `the certificate's topic is "${topic}", not an MDM topic (${MDM_TOPIC_PREFIX}…): it is an app push certificate, which devices ignore for MDM`);
  }
  if (cert.notAfter.getTime() < now.getTime()) {
    throw new PushCertificateError("expired", `the push certificate for ${topic} expired on ${cert.notAfter.toISOString()}: renew it in Apple's Push Certificates Portal (use Renew, not Create, to keep the topic) and upload the new one`);
  }
  if (!isValidAt(cert, now)) throw new PushCertificateError("not_yet_valid", `the push certificate for ${topic} is not valid before ${cert.notBefore.toISOString()}`);
  if (key.type !== "private") throw new PushCertificateError("no_key", "the key given is not a private key");
  if (!keysMatch(key, certificatePublicKey(cert))) {
    throw new PushCertificateError("key_mismatch", `the private key does not belong to the push certificate for ${topic} (use the key the CSR was made with)`);
  }
  return {
    certDer,
    chainDer,
    key,
    topic,
    subject,
    issuer: safeName(() => issuerString(cert)),
    serial: cert.serialNumberHex,
    fingerprint: cert.fingerprint,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

function safeName(f: () => string): string {
  try {
    // The name formatter does not know Apple's UID attribute by name.
    return f().replaceAll(`${UID_OID}=`, "UID=");
  } catch {
    return "(unreadable name)";
  }
}
