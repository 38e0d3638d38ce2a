// Structures shared by the CMS (RFC 5652) content types: ContentInfo, attributes,
// IssuerAndSerialNumber, and the error type the CMS code throws.

import {
  Asn1Error,
  Tag,
  contextTag,
  expectTag,
  explicit,
  oid,
  parseAsn1,
  readOid,
  sequence,
  setOf,
  tlv,
  type Asn1Node,
} from "./der.ts";
import type { Certificate } from "./certificate.ts";

export type CmsErrorCode =
  | "malformed"
  | "unexpected-content-type"
  | "unsupported-algorithm"
  | "algorithm-not-allowed"
  | "recipient-not-found"
  | "decrypt-failed"
  | "signer-not-found"
  | "digest-mismatch"
  | "content-type-mismatch"
  | "bad-signature"
  | "no-content";

export class CmsError extends Error {
  override readonly name = "CmsError";
  constructor(
    readonly code: CmsErrorCode,
    message: string,
    /** The algorithm concerned, for unsupported-algorithm / algorithm-not-allowed. */
    readonly algorithm?: string,
  ) {
    super(message);
  }
}

/** Runs a parse step, turning ASN.1 errors into CmsError("malformed"). */
export function parsing<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Asn1Error) throw new CmsError("malformed", `${what}: ${e.message}`);
    throw e;
  }
}

export function wrapContentInfo(contentType: string, content: Uint8Array): Uint8Array {
  return sequence(oid(contentType), explicit(0, content));
}

/**
 * The content of a ContentInfo of the expected type. Some producers omit the ContentInfo wrapper
 * for nested content, so a bare structure (a SEQUENCE starting with a version INTEGER) is accepted too.
 */
export function unwrapContentInfo(input: Uint8Array | Asn1Node, expectedType: string, what: string): Asn1Node {
  return parsing(what, () => {
    const root = expectTag(input instanceof Uint8Array ? parseAsn1(input) : input, Tag.SEQUENCE, what);
    const first = root.children[0];
    if (first?.tag === Tag.INTEGER) return root;
    const type = readOid(first, `${what} contentType`);
    if (type !== expectedType) {
      throw new CmsError("unexpected-content-type", `${what}: content type ${type}, expected ${expectedType}`);
    }
    const wrapper = root.children[1];
    if (!wrapper || contextTag(wrapper) !== 0 || !wrapper.children[0]) throw new CmsError("malformed", `${what}: no content`);
    return expectTag(wrapper.children[0], Tag.SEQUENCE, what);
  });
}

export interface CmsAttribute {
  oid: string;
  /** DER encoding of each attribute value. */
  values: Uint8Array[];
}

export function encodeAttribute(attr: CmsAttribute): Uint8Array {
  return sequence(oid(attr.oid), setOf(...attr.values));
}

/** A DER SET OF Attribute, sorted as DER requires (this is what a CMS signature covers). */
export function encodeAttributeSet(attrs: readonly CmsAttribute[]): Uint8Array {
  return setOf(...attrs.map(encodeAttribute));
}

export interface ParsedAttribute {
  oid: string;
  values: readonly Asn1Node[];
}

export function decodeAttributes(set: Asn1Node): ParsedAttribute[] {
  return set.children.map((a) => {
    expectTag(a, Tag.SEQUENCE, "Attribute");
    const values = expectTag(a.children[1], Tag.SET, "attribute values");
    return { oid: readOid(a.children[0], "attribute type"), values: values.children };
  });
}

export function findAttribute(attrs: readonly ParsedAttribute[], attrOid: string): Asn1Node | undefined {
  return attrs.find((a) => a.oid === attrOid)?.values[0];
}

/** IssuerAndSerialNumber of a certificate, with the serial octets copied exactly as the certificate has them. */
export function issuerAndSerialNumber(cert: Certificate): Uint8Array {
  return sequence(cert.issuerDer, tlv(Tag.INTEGER, cert.serialNumber));
}

/** Whether an IssuerAndSerialNumber node names the certificate (byte comparison of issuer and serial). */
export function matchesIssuerAndSerial(node: Asn1Node, cert: Certificate): boolean {
  const issuer = node.children[0];
  const serial = node.children[1];
  if (!issuer || !serial || serial.tag !== Tag.INTEGER) return false;
  return Buffer.from(issuer.raw).equals(Buffer.from(cert.issuerDer)) && Buffer.from(serial.content).equals(Buffer.from(cert.serialNumber));
}
