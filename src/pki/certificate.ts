// Reading X.509 certificates (RFC 5280) into the fields the PKI and MDM code act on.
//
// A lean DER walk rather than @peculiar/x509 because certificates are read on every SCEP request
// (signer, recipient, chain); names are formatted lazily through names.ts when a string is wanted.

import type { KeyObject } from "node:crypto";
import {
  Asn1Error,
  Tag,
  child,
  contextTag,
  expectTag,
  parseAsn1,
  readBitString,
  readIntegerBytes,
  readTime,
  type Asn1Node,
} from "./der.ts";
import {
  decodeAuthorityKeyIdentifier,
  decodeBasicConstraints,
  decodeExtendedKeyUsage,
  decodeExtensions,
  decodeKeyIdentifier,
  decodeKeyUsage,
  decodeSubjectAltName,
  findExtension,
  type Extension,
  type GeneralName,
  type KeyUsage,
} from "./extensions.ts";
import { describeKey, publicKeyFromSpki, type KeyDescription } from "./keys.ts";
import { nameToString } from "./names.ts";
import { OID } from "./oids.ts";
import { certificateFingerprint } from "./pem.ts";
import { verifyWithAlgorithm } from "./signature-algorithms.ts";

export class CertificateError extends Error {
  override readonly name = "CertificateError";
}

export interface Certificate {
  readonly der: Uint8Array;
  /** The TBSCertificate encoding, as signed. */
  readonly tbs: Uint8Array;
  /** Serial number content octets, exactly as encoded (two's complement, may start with 00). */
  readonly serialNumber: Uint8Array;
  /** Serial number as lowercase hex without leading zero octets. */
  readonly serialNumberHex: string;
  readonly issuerDer: Uint8Array;
  readonly subjectDer: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spkiDer: Uint8Array;
  readonly extensions: readonly Extension[];
  readonly signatureAlgorithm: Asn1Node;
  readonly signature: Uint8Array;
  /** SHA-256 of the DER, lowercase hex. */
  readonly fingerprint: string;
}

/** Parses a DER certificate. Throws CertificateError when it is not one. */
export function parseCertificate(der: Uint8Array): Certificate {
  try {
    const root = expectTag(parseAsn1(der), Tag.SEQUENCE, "Certificate");
    const tbsNode = expectTag(root.children[0], Tag.SEQUENCE, "tbsCertificate");
    const sigAlg = expectTag(root.children[1], Tag.SEQUENCE, "signatureAlgorithm");
    const { bytes: signature } = readBitString(root.children[2], "signatureValue");
    const f = tbsNode.children;
    let i = 0;
    if (f[0] && contextTag(f[0]) === 0) i++; // version
    const serialNumber = readIntegerBytes(f[i++], "serialNumber");
    i++; // signature algorithm (repeated inside the TBS)
    const issuer = expectTag(f[i++], Tag.SEQUENCE, "issuer");
    const validity = expectTag(f[i++], Tag.SEQUENCE, "validity");
    const subject = expectTag(f[i++], Tag.SEQUENCE, "subject");
    const spki = expectTag(f[i++], Tag.SEQUENCE, "subjectPublicKeyInfo");
    let extensions: Extension[] = [];
    for (; i < f.length; i++) {
      const node = f[i]!;
      if (contextTag(node) === 3) extensions = decodeExtensions(child(node, 0, "extensions"));
    }
    return {
      der,
      tbs: tbsNode.raw,
      serialNumber,
      serialNumberHex: serialHex(serialNumber),
      issuerDer: issuer.raw,
      subjectDer: subject.raw,
      notBefore: readTime(validity.children[0], "notBefore"),
      notAfter: readTime(validity.children[1], "notAfter"),
      spkiDer: spki.raw,
      extensions,
      signatureAlgorithm: sigAlg,
      signature,
      fingerprint: certificateFingerprint(der),
    };
  } catch (e) {
    if (e instanceof Asn1Error) throw new CertificateError(`not a valid X.509 certificate: ${e.message}`);
    throw e;
  }
}

function serialHex(bytes: Uint8Array): string {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return Buffer.from(bytes.subarray(start)).toString("hex");
}

const publicKeys = new WeakMap<Certificate, KeyObject>();

/** The certificate's public key as a KeyObject (cached per parsed certificate). */
export function certificatePublicKey(cert: Certificate): KeyObject {
  let key = publicKeys.get(cert);
  if (!key) {
    key = publicKeyFromSpki(cert.spkiDer);
    publicKeys.set(cert, key);
  }
  return key;
}

export function certificateKeyDescription(cert: Certificate): KeyDescription {
  return describeKey(certificatePublicKey(cert));
}

export const subjectString = (cert: Certificate): string => nameToString(cert.subjectDer);
export const issuerString = (cert: Certificate): string => nameToString(cert.issuerDer);

export function isCertificateAuthority(cert: Certificate): boolean {
  const bc = findExtension(cert.extensions, OID.basicConstraints);
  return bc ? decodeBasicConstraints(bc).ca : false;
}

export function certificateKeyUsage(cert: Certificate): KeyUsage[] | undefined {
  const ext = findExtension(cert.extensions, OID.keyUsage);
  return ext ? decodeKeyUsage(ext) : undefined;
}

export function certificateExtendedKeyUsage(cert: Certificate): string[] | undefined {
  const ext = findExtension(cert.extensions, OID.extKeyUsage);
  return ext ? decodeExtendedKeyUsage(ext) : undefined;
}

export function certificateSubjectAltNames(cert: Certificate): GeneralName[] {
  const ext = findExtension(cert.extensions, OID.subjectAltName);
  return ext ? decodeSubjectAltName(ext) : [];
}

export function certificateSubjectKeyId(cert: Certificate): Uint8Array | undefined {
  const ext = findExtension(cert.extensions, OID.subjectKeyIdentifier);
  return ext ? decodeKeyIdentifier(ext) : undefined;
}

export function certificateAuthorityKeyId(cert: Certificate): Uint8Array | undefined {
  const ext = findExtension(cert.extensions, OID.authorityKeyIdentifier);
  return ext ? decodeAuthorityKeyIdentifier(ext) : undefined;
}

export function isSelfIssued(cert: Certificate): boolean {
  return Buffer.from(cert.issuerDer).equals(Buffer.from(cert.subjectDer));
}

/** True when `cert` names `issuer` as its issuer and carries a valid signature by the issuer's key. */
export function isIssuedBy(cert: Certificate, issuer: Certificate): boolean {
  if (!Buffer.from(cert.issuerDer).equals(Buffer.from(issuer.subjectDer))) return false;
  try {
    return verifyWithAlgorithm(cert.signatureAlgorithm, certificatePublicKey(issuer), cert.tbs, cert.signature);
  } catch {
    return false;
  }
}

export function isValidAt(cert: Certificate, at: Date = new Date()): boolean {
  return cert.notBefore.getTime() <= at.getTime() && at.getTime() <= cert.notAfter.getTime();
}

/** Whether two certificates are byte-for-byte the same. */
export function sameCertificate(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}
