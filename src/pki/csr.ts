// PKCS #10 certificate requests (RFC 2986): parsing what a SCEP client sends, and building them
// (for the device simulator and tests).

import type { KeyObject } from "node:crypto";
import {
  Asn1Error,
  Tag,
  bitString,
  contextTag,
  directoryString,
  expectTag,
  integer,
  oid,
  parseAsn1,
  readBitString,
  readOid,
  readSmallInteger,
  readString,
  sequence,
  setOf,
  tlv,
  type Asn1Node,
} from "./der.ts";
import {
  decodeExtensions,
  decodeSubjectAltName,
  encodeExtensions,
  findExtension,
  subjectAltName,
  type Extension,
  type GeneralName,
} from "./extensions.ts";
import { describeKey, publicKeyFromSpki, spkiDer, type KeyDescription } from "./keys.ts";
import { encodeName, nameToString } from "./names.ts";
import { OID } from "./oids.ts";
import { signData, signatureAlgorithmIdentifier, verifyWithAlgorithm, type DigestName } from "./signature-algorithms.ts";

export class CsrError extends Error {
  override readonly name = "CsrError";
}

export interface Csr {
  readonly der: Uint8Array;
  readonly subjectDer: Uint8Array;
  /** RFC 4514 rendering of the subject (for display and logs). */
  readonly subject: string;
  readonly spkiDer: Uint8Array;
  readonly publicKey: KeyObject;
  readonly key: KeyDescription;
  /** The challengePassword attribute, when present. A secret: do not log it. */
  readonly challengePassword?: string;
  /** Extensions requested through the extensionRequest attribute. */
  readonly extensions: readonly Extension[];
  /** Names from a requested subjectAltName extension. */
  readonly subjectAltNames: readonly GeneralName[];
  /** Whether the request is signed by the key it carries (proof of possession). */
  readonly signatureValid: boolean;
}

/** Parses and checks the self-signature of a DER PKCS #10 request. Throws CsrError when unreadable. */
export function parseCsr(der: Uint8Array): Csr {
  try {
    const root = expectTag(parseAsn1(der), Tag.SEQUENCE, "CertificationRequest");
    const info = expectTag(root.children[0], Tag.SEQUENCE, "certificationRequestInfo");
    const sigAlg = expectTag(root.children[1], Tag.SEQUENCE, "signatureAlgorithm");
    const { bytes: signature } = readBitString(root.children[2], "signature");
    const version = readSmallInteger(info.children[0], "version");
    if (version !== 0) throw new CsrError(`unsupported PKCS #10 version ${version}`);
    const subject = expectTag(info.children[1], Tag.SEQUENCE, "subject");
    const spki = expectTag(info.children[2], Tag.SEQUENCE, "subjectPKInfo");
    const attrs = info.children[3];
    let challengePassword: string | undefined;
    let extensions: Extension[] = [];
    if (attrs && contextTag(attrs) === 0) {
      for (const attr of attrs.children) {
        const type = readOid(attr.children[0], "attribute type");
        const value = firstValue(attr);
        if (type === OID.challengePassword && value) challengePassword = readString(value, "challengePassword");
        else if ((type === OID.extensionRequest || type === OID.verisignExtensionRequest) && value) {
          extensions = extensions.concat(decodeExtensions(value));
        }
      }
    }
    const publicKey = publicKeyFromSpki(spki.raw);
    let signatureValid: boolean;
    try {
      signatureValid = verifyWithAlgorithm(sigAlg, publicKey, info.raw, signature);
    } catch {
      signatureValid = false;
    }
    const san = findExtension(extensions, OID.subjectAltName);
    let subjectText: string | undefined;
    const csr: Csr = {
      der,
      subjectDer: subject.raw,
      // Formatting a name costs ~100 µs; most requests never need the text.
      get subject() {
        return (subjectText ??= safeNameToString(subject.raw));
      },
      spkiDer: spki.raw,
      publicKey,
      key: describeKey(publicKey),
      extensions,
      subjectAltNames: san ? decodeSubjectAltName(san) : [],
      signatureValid,
      ...(challengePassword === undefined ? {} : { challengePassword }),
    };
    return csr;
  } catch (e) {
    if (e instanceof CsrError) throw e;
    throw new CsrError(`not a valid PKCS #10 request: ${(e as Error).message}`);
  }
}

function safeNameToString(der: Uint8Array): string {
  try {
    return nameToString(der);
  } catch {
    return `<unreadable name ${Buffer.from(der).toString("hex").slice(0, 64)}>`;
  }
}

function firstValue(attr: Asn1Node): Asn1Node | undefined {
  const values = attr.children[1];
  if (!values || values.tag !== Tag.SET) throw new Asn1Error("attribute values: expected SET");
  return values.children[0];
}

export interface CreateCsrOptions {
  subject: string | Uint8Array;
  /** The private key; the request certifies its public half and is signed with it. */
  key: KeyObject;
  challengePassword?: string;
  subjectAltNames?: GeneralName[];
  /** Further extensions to request. */
  extensions?: Extension[];
  hash?: DigestName;
}

/** Builds a signed PKCS #10 request (DER). */
export function createCsr(opts: CreateCsrOptions): Uint8Array {
  const attributes: Uint8Array[] = [];
  if (opts.challengePassword !== undefined) {
    attributes.push(sequence(oid(OID.challengePassword), setOf(directoryString(opts.challengePassword))));
  }
  const exts = [...(opts.extensions ?? [])];
  if (opts.subjectAltNames && opts.subjectAltNames.length > 0) exts.push(subjectAltName(opts.subjectAltNames));
  if (exts.length > 0) attributes.push(sequence(oid(OID.extensionRequest), setOf(encodeExtensions(exts))));
  const info = sequence(
    integer(0),
    typeof opts.subject === "string" ? encodeName(opts.subject) : opts.subject,
    spkiDer(opts.key),
    tlv(0xa0, ...[...attributes].sort(Buffer.compare)),
  );
  const hash = opts.hash ?? "sha256";
  return sequence(info, signatureAlgorithmIdentifier(opts.key, hash), bitString(signData(opts.key, hash, info)));
}
