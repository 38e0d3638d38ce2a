// Reads the CMS SignedData (RFC 5652 §5) carried in an Mdm-Signature header: a detached signature over the
// request body, one signer, the signer's certificate embedded (sometimes with intermediates). Only offsets into
// the decoded header bytes are produced; the verifier decides what they mean.

import {
  DerError,
  DerTag,
  bytesEqual,
  children,
  contentOf,
  encodingOf,
  expectTag,
  oidContent,
  oidEquals,
  oidToString,
  readRoot,
} from "./der-reader.ts";
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

/** The algorithm's OID looked up in `table`; `undefined` value with the dotted OID (for the message) when unknown. */
function lookupAlgorithm<V>(b: Uint8Array, tlv: Tlv | undefined, what: string, ...tables: [Uint8Array, V][][]): { value: V | undefined; oid: () => string } {
  const parts = children(b, expectTag(tlv, DerTag.SEQUENCE, what));
  const oid = expectTag(parts[0], DerTag.OID, `${what} OID`);
  for (const table of tables) {
    for (const [content, value] of table) if (oidEquals(b, oid, content)) return { value, oid: () => oidToString(b, oid) };
  }
  return { value: undefined, oid: () => oidToString(b, oid) };
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

function parse(b: Uint8Array): DetachedSignedData {
  const contentInfo = children(b, expectTag(readRoot(b), DerTag.SEQUENCE, "ContentInfo"));
  const contentType = expectTag(contentInfo[0], DerTag.OID, "contentType");
  if (!oidEquals(b, contentType, OID_SIGNED_DATA)) {
    throw new CmsStructureError("unsupported", `content type ${oidToString(b, contentType)} is not SignedData`);
  }
  const [signedDataTlv] = children(b, expectTag(contentInfo[1], DerTag.CONTEXT_0, "content"));
  const sd = children(b, expectTag(signedDataTlv, DerTag.SEQUENCE, "SignedData"));
  let i = 0;
  expectTag(sd[i++], DerTag.INTEGER, "SignedData version");
  expectTag(sd[i++], DerTag.SET, "digestAlgorithms");
  const encap = children(b, expectTag(sd[i++], DerTag.SEQUENCE, "encapContentInfo"));
  const eContentType = expectTag(encap[0], DerTag.OID, "eContentType");
  const certificates: Uint8Array[] = [];
  if (sd[i]?.tag === DerTag.CONTEXT_0) {
    for (const cert of children(b, sd[i++] as Tlv)) {
      // Other CertificateChoices (attribute certificates, [0]..[3]) are skipped: only X.509 certificates sign.
      if (cert.tag === DerTag.SEQUENCE) certificates.push(encodingOf(b, cert));
    }
  }
  if (sd[i]?.tag === DerTag.CONTEXT_1) i++; // crls
  const signerInfos = children(b, expectTag(sd[i++], DerTag.SET, "signerInfos"));
  if (signerInfos.length === 0) throw new CmsStructureError("malformed", "SignedData has no signer");
  if (signerInfos.length > 1) throw new CmsStructureError("unsupported", `SignedData has ${signerInfos.length} signers; one is expected`);

  const si = children(b, expectTag(signerInfos[0], DerTag.SEQUENCE, "SignerInfo"));
  let j = 0;
  expectTag(si[j++], DerTag.INTEGER, "SignerInfo version");
  const sidTlv = si[j++];
  let signerId: SignerId;
  if (sidTlv?.tag === DerTag.SEQUENCE) {
    const parts = children(b, sidTlv);
    signerId = {
      kind: "issuerSerial",
      issuer: encodingOf(b, expectTag(parts[0], DerTag.SEQUENCE, "issuer")),
      serial: contentOf(b, expectTag(parts[1], DerTag.INTEGER, "serialNumber")),
    };
  } else if (sidTlv?.tag === DerTag.CONTEXT_PRIMITIVE_0) {
    signerId = { kind: "subjectKeyId", keyId: contentOf(b, sidTlv) };
  } else {
    throw new CmsStructureError("malformed", "SignerInfo has no valid signer identifier");
  }

  const digestAlg = lookupAlgorithm(b, si[j++], "digestAlgorithm", DIGEST_TABLE, DIGEST_FROM_SIGNATURE_TABLE);
  const digest = digestAlg.value;
  if (digest === undefined) throw new CmsStructureError("unsupported", `digest algorithm ${digestAlg.oid()} is not supported`);

  let signedAttributes: Uint8Array | undefined;
  let messageDigest: Uint8Array | undefined;
  if (si[j]?.tag === DerTag.CONTEXT_0) {
    const attrs = si[j++] as Tlv;
    if (attrs.indefinite) throw new CmsStructureError("malformed", "signed attributes are not DER-encoded");
    signedAttributes = encodingOf(b, attrs);
    messageDigest = readRequiredAttributes(b, attrs, contentOf(b, eContentType));
  }

  const signatureAlg = lookupAlgorithm(b, si[j++], "signatureAlgorithm", SIGNATURE_TABLE);
  const algorithm = signatureAlg.value;
  if (algorithm === undefined) throw new CmsStructureError("unsupported", `signature algorithm ${signatureAlg.oid()} is not supported`);
  const signatureTlv = si[j++];
  if (signatureTlv?.tag === 0x24) throw new CmsStructureError("unsupported", "constructed (BER) signature OCTET STRING");
  const signature = contentOf(b, expectTag(signatureTlv, DerTag.OCTET_STRING, "signature"));

  return {
    certificates,
    signerId,
    digest,
    scheme: algorithm[0],
    signatureDigest: algorithm[1] ?? digest,
    signedAttributes,
    messageDigest,
    signature,
  };
}

/**
 * RFC 5652 §5.3: with signed attributes, contentType (equal to eContentType) and messageDigest must both be
 * present, each once with one value. Returns the messageDigest value.
 */
function readRequiredAttributes(b: Uint8Array, attrs: Tlv, eContentType: Uint8Array): Uint8Array {
  let messageDigest: Uint8Array | undefined;
  let contentTypeSeen = false;
  for (const attr of children(b, attrs)) {
    const [type, values] = children(b, expectTag(attr, DerTag.SEQUENCE, "Attribute"));
    const typeTlv = expectTag(type, DerTag.OID, "attrType");
    const isDigest = oidEquals(b, typeTlv, OID_MESSAGE_DIGEST);
    const isContentType = oidEquals(b, typeTlv, OID_CONTENT_TYPE);
    if (!isDigest && !isContentType) continue;
    const valueList = children(b, expectTag(values, DerTag.SET, "attrValues"));
    if (valueList.length !== 1) throw new CmsStructureError("malformed", "a signed attribute must have exactly one value");
    if (isDigest) {
      if (messageDigest !== undefined) throw new CmsStructureError("malformed", "messageDigest attribute appears twice");
      messageDigest = contentOf(b, expectTag(valueList[0], DerTag.OCTET_STRING, "messageDigest"));
    } else {
      if (contentTypeSeen) throw new CmsStructureError("malformed", "contentType attribute appears twice");
      contentTypeSeen = true;
      const value = expectTag(valueList[0], DerTag.OID, "contentType value");
      if (!bytesEqual(contentOf(b, value), eContentType)) {
        throw new CmsStructureError("malformed", "contentType attribute does not match eContentType");
      }
    }
  }
  if (messageDigest === undefined) throw new CmsStructureError("malformed", "signed attributes lack messageDigest");
  if (!contentTypeSeen) throw new CmsStructureError("malformed", "signed attributes lack contentType");
  return messageDigest;
}
