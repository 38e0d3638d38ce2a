// Produces Mdm-Signature header values as an Apple device does: base64 of a detached CMS SignedData over the
// body, signed with the device identity key, the identity certificate embedded, signed attributes contentType +
// messageDigest (+ signingTime). Used by the device simulator, which signs many messages, so the fixed parts of
// the structure are encoded once per signer and each message costs one hash and one private-key operation.

import { createHash, createPrivateKey, sign as cryptoSign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { readCertificateFacts } from "./mdm-signature-cert.ts";

export type MdmDigest = "sha1" | "sha256" | "sha384" | "sha512";

export interface MdmBodySignerOptions {
  /** Digest algorithm (default sha256; many real clients use sha1). */
  digest?: MdmDigest;
  /** Include signed attributes (default true). Without them the signature covers the body directly. */
  signedAttributes?: boolean;
  /** Include a signingTime attribute (default true; only with signed attributes). */
  signingTime?: boolean;
  /** Further certificates to embed after the signer's (intermediates). */
  extraCertificates?: readonly Uint8Array[];
}

export type MdmBodySigner = (body: Uint8Array, signingTime?: Date) => string;

// ---- a minimal DER writer: only what a SignedData needs ----

function lengthOctets(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return [0x80 | bytes.length, ...bytes];
}

function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const content = Buffer.concat(contents);
  return Buffer.concat([Uint8Array.of(tag, ...lengthOctets(content.length)), content]);
}

const seq = (...items: Uint8Array[]): Uint8Array => tlv(0x30, ...items);

/** DER SET OF: elements sorted by their encodings (X.690 §11.6). */
function setOf(tag: number, items: Uint8Array[]): Uint8Array {
  return tlv(tag, ...[...items].sort((a, b) => Buffer.compare(a, b)));
}

function oid(dotted: string): Uint8Array {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const out: number[] = [];
  for (const arc of [a * 40 + b, ...rest]) {
    const groups: number[] = [];
    let v = arc;
    do {
      groups.unshift((v % 128) | (groups.length === 0 ? 0 : 0x80));
      v = Math.floor(v / 128);
    } while (v > 0);
    out.push(...groups);
  }
  return tlv(0x06, Uint8Array.from(out));
}

function utcTime(date: Date): Uint8Array {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) {
    return tlv(0x17, Buffer.from(`${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`, "latin1"));
  }
  return tlv(0x18, Buffer.from(`${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`, "latin1"));
}

const NULL = Uint8Array.of(0x05, 0x00);

const DIGEST_OID: Record<MdmDigest, string> = {
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
};
const ECDSA_OID: Record<MdmDigest, string> = {
  sha1: "1.2.840.10045.4.1",
  sha256: "1.2.840.10045.4.3.2",
  sha384: "1.2.840.10045.4.3.3",
  sha512: "1.2.840.10045.4.3.4",
};
const OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const OID_SIGNED_DATA = "1.2.840.113549.1.7.2";
const OID_DATA = "1.2.840.113549.1.7.1";
const OID_CONTENT_TYPE = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME = "1.2.840.113549.1.9.5";

function toPrivateKey(key: KeyObject | string | Uint8Array): KeyObject {
  if (typeof key === "string") return createPrivateKey(key);
  if (key instanceof Uint8Array) return createPrivateKey({ key: Buffer.from(key), format: "der", type: "pkcs8" });
  return key;
}

/** Prepares a signer for one identity (certificate + private key); each call signs one body. */
export function createMdmBodySigner(certDer: Uint8Array, key: KeyObject | string | Uint8Array, options: MdmBodySignerOptions = {}): MdmBodySigner {
  const digest = options.digest ?? "sha256";
  const withAttributes = options.signedAttributes ?? true;
  const withSigningTime = options.signingTime ?? true;
  const privateKey = toPrivateKey(key);
  const keyType = privateKey.asymmetricKeyType;
  if (keyType !== "rsa" && keyType !== "ec") throw new Error(`cannot sign Mdm-Signature with a ${keyType ?? "unknown"} key`);

  const facts = readCertificateFacts(certDer);
  const digestAlgorithm = seq(oid(DIGEST_OID[digest]));
  const signatureAlgorithm = keyType === "rsa" ? seq(oid(OID_RSA_ENCRYPTION), NULL) : seq(oid(ECDSA_OID[digest]));
  const sid = seq(facts.issuer, tlv(0x02, facts.serial));
  const certificates = tlv(0xa0, certDer, ...(options.extraCertificates ?? []));
  const head = [
    tlv(0x02, Uint8Array.of(1)),
    setOf(0x31, [digestAlgorithm]),
    seq(oid(OID_DATA)),
    certificates,
  ];
  const contentTypeAttr = seq(oid(OID_CONTENT_TYPE), setOf(0x31, [oid(OID_DATA)]));

  return (body: Uint8Array, signingTime: Date = new Date()): string => {
    let signedAttrs: Uint8Array | undefined;
    let signature: Uint8Array;
    if (withAttributes) {
      const attrs = [contentTypeAttr, seq(oid(OID_MESSAGE_DIGEST), setOf(0x31, [tlv(0x04, createHash(digest).update(body).digest())]))];
      if (withSigningTime) attrs.push(seq(oid(OID_SIGNING_TIME), setOf(0x31, [utcTime(signingTime)])));
      const asSet = setOf(0x31, attrs);
      signature = cryptoSign(digest, asSet, privateKey);
      signedAttrs = Buffer.from(asSet);
      signedAttrs[0] = 0xa0; // [0] IMPLICIT in the SignerInfo; the signature covers the SET OF form
    } else {
      signature = cryptoSign(digest, body, privateKey);
    }
    const signerInfo = seq(
      tlv(0x02, Uint8Array.of(1)),
      sid,
      digestAlgorithm,
      ...(signedAttrs ? [signedAttrs] : []),
      signatureAlgorithm,
      tlv(0x04, signature),
    );
    const signedData = seq(...head, tlv(0x31, signerInfo));
    return Buffer.from(seq(oid(OID_SIGNED_DATA), tlv(0xa0, signedData))).toString("base64");
  };
}

/** Signs one body: returns the Mdm-Signature header value. Prefer createMdmBodySigner for many messages. */
export function signMdmBody(
  body: Uint8Array,
  certDer: Uint8Array,
  key: KeyObject | string | Uint8Array,
  digest: MdmDigest = "sha256",
  options: Omit<MdmBodySignerOptions, "digest"> = {},
): string {
  return createMdmBodySigner(certDer, key, { ...options, digest })(body);
}
