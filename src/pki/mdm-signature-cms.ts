// Reads the CMS SignedData (RFC 5652 §5) carried in an Mdm-Signature header: a detached signature over the
// request body, one signer, the signer's certificate embedded (sometimes with intermediates). Only offsets into
// the decoded header bytes are produced; the verifier decides what they mean.

import { DerError, DerTag, contentOf, encodingOf, expectTag, oidContent, oidEquals, oidToString, readRoot, readTlv } from "./der-reader.ts";
import type { Tlv } from "./der-reader.ts";

export type CmsDigest = "sha1" | "sha224" | "sha256" | "sha384" | "sha512";
export type CmsSignatureScheme = "rsa-pkcs1" | "ecdsa";

export type SignerId = { kind: "issuerSerial"; issuer: Uint8Array; serial: Uint8Array } | { kind: "subjectKeyId"; keyId: Uint8Array };

export interface DetachedSignedData {
  /** Embedded certificates (DER), views into the input. */
  certificates: Uint8Array[];
  signerId: SignerId;
  digest: CmsDigest;
  scheme: CmsSignatureScheme;
  /** The hash the signature algorithm names (it may differ from `digest` only for sha*WithRSA identifiers). */
  signatureDigest: CmsDigest;
  /** The [0] IMPLICIT SignedAttributes element, whole encoding (re-tagged to SET before verifying), if present. */
  signedAttributes: Uint8Array | undefined;
  /** The messageDigest attribute's value (present exactly when signed attributes are). */
  messageDigest: Uint8Array | undefined;
  signature: Uint8Array;
}

/** Structural problems: `unsupported` for valid CMS this verifier does not handle, `malformed` otherwise. */
export class CmsStructureError extends Error {
  override readonly name = "CmsStructureError";
  readonly kind: "malformed" | "unsupported";
  constructor(kind: "malformed" | "unsupported", message: string) {
    super(message);
    this.kind = kind;
  }
}

const OID_SIGNED_DATA = oidContent("1.2.840.113549.1.7.2");
const OID_CONTENT_TYPE = oidContent("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST = oidContent("1.2.840.113549.1.9.4");

const DIGESTS: ReadonlyMap<string, CmsDigest> = new Map([
  ["1.3.14.3.2.26", "sha1"],
  ["2.16.840.1.101.3.4.2.4", "sha224"],
  ["2.16.840.1.101.3.4.2.1", "sha256"],
  ["2.16.840.1.101.3.4.2.2", "sha384"],
  ["2.16.840.1.101.3.4.2.3", "sha512"],
]);

// Signature algorithm identifiers: [scheme, hash named by the identifier (undefined: use digestAlgorithm)].
const SIGNATURE_ALGORITHMS: ReadonlyMap<string, [CmsSignatureScheme, CmsDigest | undefined]> = new Map([
  ["1.2.840.113549.1.1.1", ["rsa-pkcs1", undefined]],
  ["1.2.840.113549.1.1.5", ["rsa-pkcs1", "sha1"]],
  ["1.2.840.113549.1.1.14", ["rsa-pkcs1", "sha224"]],
  ["1.2.840.113549.1.1.11", ["rsa-pkcs1", "sha256"]],
  ["1.2.840.113549.1.1.12", ["rsa-pkcs1", "sha384"]],
  ["1.2.840.113549.1.1.13", ["rsa-pkcs1", "sha512"]],
  ["1.2.840.10045.2.1", ["ecdsa", undefined]],
  ["1.2.840.10045.4.1", ["ecdsa", "sha1"]],
  ["1.2.840.10045.4.3.1", ["ecdsa", "sha224"]],
  ["1.2.840.10045.4.3.2", ["ecdsa", "sha256"]],
  ["1.2.840.10045.4.3.3", ["ecdsa", "sha384"]],
  ["1.2.840.10045.4.3.4", ["ecdsa", "sha512"]],
]);

// Some signers put a sha*WithRSAEncryption identifier in digestAlgorithm; read it as the hash it names.
const DIGEST_FROM_SIGNATURE_OID: ReadonlyMap<string, CmsDigest> = new Map(
  [...SIGNATURE_ALGORITHMS].flatMap(([oid, [, hash]]) => (hash === undefined ? [] : [[oid, hash] as [string, CmsDigest]])),
);

/** Known OIDs by their encoded content, so the hot path compares bytes instead of decoding dotted strings. */
function byContent<V>(table: ReadonlyMap<string, V>): [Uint8Array, V][] {
  return [...table].map(([dotted, v]) => [oidContent(dotted), v]);
}
const DIGEST_TABLE = byContent(DIGESTS);
const DIGEST_FROM_SIGNATURE_TABLE = byContent(DIGEST_FROM_SIGNATURE_OID);
const SIGNATURE_TABLE = byContent(SIGNATURE_ALGORITHMS);

const ALGORITHM_NOUN = { digestAlgorithm: "digest", signatureAlgorithm: "signature" } as const;

/**
 * The algorithm identifier's OID looked up in `tables`. Unknown OIDs throw `unsupported` naming the OID, so the
 * hot path builds no result object and no message.
 */
function lookupAlgorithm<V>(b: Uint8Array, tlv: Tlv | undefined, what: "digestAlgorithm" | "signatureAlgorithm", ...tables: [Uint8Array, V][][]): V {
  const seq = expectTag(tlv, DerTag.SEQUENCE, what);
  const oid = expectTag(first(b, seq), DerTag.OID, `${what} OID`);
  for (const table of tables) {
    for (const [content, value] of table) if (oidEquals(b, oid, content)) return value;
  }
  throw new CmsStructureError("unsupported", `${ALGORITHM_NOUN[what]} algorithm ${oidToString(b, oid)} is not supported`);
}

/** The first element inside a constructed element, or undefined when it is empty. */
function first(b: Uint8Array, parent: Tlv): Tlv | undefined {
  return parent.contentStart < parent.contentEnd ? readTlv(b, parent.contentStart, parent.contentEnd) : undefined;
}

/** The element after `prev` inside `parent`, or undefined at the end. */
function next(b: Uint8Array, parent: Tlv, prev: Tlv): Tlv | undefined {
  return prev.end < parent.contentEnd ? readTlv(b, prev.end, parent.contentEnd) : undefined;
}

export function parseDetachedSignedData(der: Uint8Array): DetachedSignedData {
  try {
    return parse(der);
  } catch (error) {
    if (error instanceof CmsStructureError) throw error;
    if (error instanceof DerError) throw new CmsStructureError("malformed", error.message);
    throw error;
  }
}

// The walk reads one element at a time (first/next) rather than listing children: every request with an
// Mdm-Signature comes through here, and arrays of elements were most of what it allocated.
function parse(b: Uint8Array): DetachedSignedData {
  const contentInfo = expectTag(readRoot(b), DerTag.SEQUENCE, "ContentInfo");
  const contentType = expectTag(first(b, contentInfo), DerTag.OID, "contentType");
  if (!oidEquals(b, contentType, OID_SIGNED_DATA)) {
    throw new CmsStructureError("unsupported", `content type ${oidToString(b, contentType)} is not SignedData`);
  }
  const content = expectTag(next(b, contentInfo, contentType), DerTag.CONTEXT_0, "content");
  const sd = expectTag(first(b, content), DerTag.SEQUENCE, "SignedData");
  const version = expectTag(first(b, sd), DerTag.INTEGER, "SignedData version");
  const digestAlgorithms = expectTag(next(b, sd, version), DerTag.SET, "digestAlgorithms");
  const encap = expectTag(next(b, sd, digestAlgorithms), DerTag.SEQUENCE, "encapContentInfo");
  const eContentType = expectTag(first(b, encap), DerTag.OID, "eContentType");
  let field = next(b, sd, encap);
  const certificates: Uint8Array[] = [];
  if (field?.tag === DerTag.CONTEXT_0) {
    for (let cert = first(b, field); cert !== undefined; cert = next(b, field, cert)) {
      // Other CertificateChoices (attribute certificates, [0]..[3]) are skipped: only X.509 certificates sign.
      if (cert.tag === DerTag.SEQUENCE) certificates.push(encodingOf(b, cert));
    }
    field = next(b, sd, field);
  }
  if (field?.tag === DerTag.CONTEXT_1) field = next(b, sd, field); // crls
  const signerInfos = expectTag(field, DerTag.SET, "signerInfos");
  const signerInfo = first(b, signerInfos);
  if (signerInfo === undefined) throw new CmsStructureError("malformed", "SignedData has no signer");
  if (next(b, signerInfos, signerInfo) !== undefined) {
    let count = 1;
    for (let other = next(b, signerInfos, signerInfo); other !== undefined; other = next(b, signerInfos, other)) count++;
    throw new CmsStructureError("unsupported", `SignedData has ${count} signers; one is expected`);
  }

  const si = expectTag(signerInfo, DerTag.SEQUENCE, "SignerInfo");
  const siVersion = expectTag(first(b, si), DerTag.INTEGER, "SignerInfo version");
  const sidTlv = next(b, si, siVersion);
  let signerId: SignerId;
  if (sidTlv?.tag === DerTag.SEQUENCE) {
    const issuer = expectTag(first(b, sidTlv), DerTag.SEQUENCE, "issuer");
    const serial = expectTag(next(b, sidTlv, issuer), DerTag.INTEGER, "serialNumber");
    signerId = { kind: "issuerSerial", issuer: encodingOf(b, issuer), serial: contentOf(b, serial) };
  } else if (sidTlv?.tag === DerTag.CONTEXT_PRIMITIVE_0) {
    signerId = { kind: "subjectKeyId", keyId: contentOf(b, sidTlv) };
  } else {
    throw new CmsStructureError("malformed", "SignerInfo has no valid signer identifier");
  }

  const digestAlgorithm = next(b, si, sidTlv);
  const digest = lookupAlgorithm(b, digestAlgorithm, "digestAlgorithm", DIGEST_TABLE, DIGEST_FROM_SIGNATURE_TABLE);

  let signedAttributes: Uint8Array | undefined;
  let messageDigest: Uint8Array | undefined;
  field = next(b, si, digestAlgorithm as Tlv);
  if (field?.tag === DerTag.CONTEXT_0) {
    if (field.indefinite) throw new CmsStructureError("malformed", "signed attributes are not DER-encoded");
    signedAttributes = encodingOf(b, field);
    messageDigest = readRequiredAttributes(b, field, eContentType);
    field = next(b, si, field);
  }

  const [scheme, namedDigest] = lookupAlgorithm(b, field, "signatureAlgorithm", SIGNATURE_TABLE);
  const signatureTlv = next(b, si, field as Tlv);
  if (signatureTlv?.tag === 0x24) throw new CmsStructureError("unsupported", "constructed (BER) signature OCTET STRING");
  const signature = contentOf(b, expectTag(signatureTlv, DerTag.OCTET_STRING, "signature"));

  return { certificates, signerId, digest, scheme, signatureDigest: namedDigest ?? digest, signedAttributes, messageDigest, signature };
}

/**
 * RFC 5652 §5.3: with signed attributes, contentType (equal to eContentType) and messageDigest must both be
 * present, each once with one value. Returns the messageDigest value.
 */
function readRequiredAttributes(b: Uint8Array, attrs: Tlv, eContentType: Tlv): Uint8Array {
  let messageDigest: Uint8Array | undefined;
  let contentTypeSeen = false;
  for (let attr = first(b, attrs); attr !== undefined; attr = next(b, attrs, attr)) {
    const type = expectTag(first(b, expectTag(attr, DerTag.SEQUENCE, "Attribute")), DerTag.OID, "attrType");
    const isDigest = oidEquals(b, type, OID_MESSAGE_DIGEST);
    const isContentType = oidEquals(b, type, OID_CONTENT_TYPE);
    if (!isDigest && !isContentType) continue;
    const values = expectTag(next(b, attr, type), DerTag.SET, "attrValues");
    const value = first(b, values);
    if (value === undefined || next(b, values, value) !== undefined) throw new CmsStructureError("malformed", "a signed attribute must have exactly one value");
    if (isDigest) {
      if (messageDigest !== undefined) throw new CmsStructureError("malformed", "messageDigest attribute appears twice");
      messageDigest = contentOf(b, expectTag(value, DerTag.OCTET_STRING, "messageDigest"));
    } else {
      if (contentTypeSeen) throw new CmsStructureError("malformed", "contentType attribute appears twice");
      contentTypeSeen = true;
      if (!bytesEqualAt(b, expectTag(value, DerTag.OID, "contentType value"), eContentType)) {
        throw new CmsStructureError("malformed", "contentType attribute does not match eContentType");
      }
    }
  }
  if (messageDigest === undefined) throw new CmsStructureError("malformed", "signed attributes lack messageDigest");
  if (!contentTypeSeen) throw new CmsStructureError("malformed", "signed attributes lack contentType");
  return messageDigest;
}

/** Whether two elements of `b` have the same contents. */
function bytesEqualAt(b: Uint8Array, x: Tlv, y: Tlv): boolean {
  const length = x.contentEnd - x.contentStart;
  if (length !== y.contentEnd - y.contentStart) return false;
  for (let i = 0; i < length; i++) if (b[x.contentStart + i] !== b[y.contentStart + i]) return false;
  return true;
}
