// "Was this certificate issued and signed by that one?" (RFC 5280 §6.1.3 (a)(1) and (a)(4)), answered from the
// DER for the signature algorithms devices and CAs use, so that deciding a device certificate's path costs a
// DER walk and one crypto.verify. node's X509Certificate costs ~170 µs to build and ~6 KB of native memory that
// is only freed when V8 collects its wrapper, long after: at 90,000 first sightings in a command round that was
// the bulk of the server's resident memory. It remains the fallback for algorithms read nowhere else here
// (RSASSA-PSS, whose parameters it interprets).

import { X509Certificate, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { DerTag, bytesEqual, children, contentOf, encodingOf, expectTag, oidEquals, oidContent, oidToString, readRoot, type Tlv } from "./der-reader.ts";

/** The parts of a certificate its issuer vouches for, and the names and key identifiers that link the two. */
export interface SignedParts {
  tbs: Uint8Array;
  /** signatureAlgorithm, dotted. */
  algorithm: string;
  signature: Uint8Array;
  issuer: Uint8Array;
  subject: Uint8Array;
  /** authorityKeyIdentifier's keyIdentifier, when present. */
  authorityKeyId: Uint8Array | undefined;
}

const OID_AUTHORITY_KEY_ID = oidContent("2.5.29.35");

/** Signature algorithm OID -> [digest for crypto.verify (null: none, as EdDSA), key type it needs]. */
const SIGNATURE_ALGORITHMS: ReadonlyMap<string, readonly [string | null, string]> = new Map([
  ["1.2.840.113549.1.1.5", ["sha1", "rsa"]],
  ["1.2.840.113549.1.1.14", ["sha224", "rsa"]],
  ["1.2.840.113549.1.1.11", ["sha256", "rsa"]],
  ["1.2.840.113549.1.1.12", ["sha384", "rsa"]],
  ["1.2.840.113549.1.1.13", ["sha512", "rsa"]],
  ["1.2.840.10045.4.1", ["sha1", "ec"]],
  ["1.2.840.10045.4.3.1", ["sha224", "ec"]],
  ["1.2.840.10045.4.3.2", ["sha256", "ec"]],
  ["1.2.840.10045.4.3.3", ["sha384", "ec"]],
  ["1.2.840.10045.4.3.4", ["sha512", "ec"]],
  ["1.3.101.112", [null, "ed25519"]],
  ["1.3.101.113", [null, "ed448"]],
] as const);

export function readSignedParts(der: Uint8Array): SignedParts {
  const [tbs, algorithm, signature] = children(der, expectTag(readRoot(der), DerTag.SEQUENCE, "Certificate"));
  const fields = children(der, expectTag(tbs, DerTag.SEQUENCE, "TBSCertificate"));
  let i = fields[0]?.tag === DerTag.CONTEXT_0 ? 3 : 2; // version?, serialNumber, signature
  const issuer = expectTag(fields[i++], DerTag.SEQUENCE, "issuer");
  i++; // validity
  const subject = expectTag(fields[i++], DerTag.SEQUENCE, "subject");
  const bits = contentOf(der, expectTag(signature, DerTag.BIT_STRING, "signatureValue"));
  const [oid] = children(der, expectTag(algorithm, DerTag.SEQUENCE, "signatureAlgorithm"));
  return {
    tbs: encodingOf(der, tbs!),
    algorithm: oidToString(der, expectTag(oid, DerTag.OID, "signatureAlgorithm")),
    signature: bits.subarray(1),
    issuer: encodingOf(der, issuer),
    subject: encodingOf(der, subject),
    authorityKeyId: authorityKeyId(der, fields.slice(i).find((f) => f.tag === DerTag.CONTEXT_3)),
  };
}

function authorityKeyId(der: Uint8Array, wrapper: Tlv | undefined): Uint8Array | undefined {
  if (wrapper === undefined) return undefined;
  const [extensions] = children(der, wrapper);
  for (const ext of children(der, expectTag(extensions, DerTag.SEQUENCE, "extensions"))) {
    const parts = children(der, ext);
    if (!oidEquals(der, parts[0]!, OID_AUTHORITY_KEY_ID)) continue;
    const value = contentOf(der, expectTag(parts[parts.length - 1], DerTag.OCTET_STRING, "extnValue"));
    const keyId = children(value, expectTag(readRoot(value), DerTag.SEQUENCE, "AuthorityKeyIdentifier")).find((f) => f.tag === DerTag.CONTEXT_PRIMITIVE_0);
    return keyId === undefined ? undefined : contentOf(value, keyId);
  }
  return undefined;
}

export interface IssuerCandidate {
  der: Uint8Array;
  publicKey: KeyObject;
  subjectKeyId: Uint8Array | undefined;
  /** keyUsage's keyCertSign, or undefined when the extension is absent. */
  keyCertSign: boolean | undefined;
}

/**
 * True when `issuer` issued `child`: the child's issuer name is the issuer's subject (RFC 5280 §7.1 matching),
 * the key identifiers agree where both are present, the issuer may sign certificates, and its key verifies the
 * child's signature. Never throws: an unreadable certificate issued nothing.
 */
export function isIssuedBy(child: Uint8Array, issuer: IssuerCandidate): boolean {
  try {
    const c = readSignedParts(child);
    const subject = readSignedParts(issuer.der).subject;
    if (!namesMatch(c.issuer, subject)) return false;
    if (c.authorityKeyId !== undefined && issuer.subjectKeyId !== undefined && !bytesEqual(c.authorityKeyId, issuer.subjectKeyId)) return false;
    if (issuer.keyCertSign === false) return false;
    const known = SIGNATURE_ALGORITHMS.get(c.algorithm);
    if (known === undefined) {
      const x509 = new X509Certificate(child);
      return x509.checkIssued(new X509Certificate(issuer.der)) && x509.verify(issuer.publicKey);
    }
    const [digest, keyType] = known;
    if (issuer.publicKey.asymmetricKeyType !== keyType) return false;
    return cryptoVerify(digest, c.tbs, issuer.publicKey, c.signature);
  } catch {
    return false;
  }
}

/**
 * RFC 5280 §7.1 name matching: identical encodings match; otherwise attribute by attribute, with directory
 * strings compared after trimming, collapsing inner white space and folding ASCII case (as OpenSSL's
 * canonical form does), and every other value by its encoding.
 */
export function namesMatch(a: Uint8Array, b: Uint8Array): boolean {
  if (bytesEqual(a, b)) return true;
  try {
    const ca = canonicalName(a);
    const cb = canonicalName(b);
    return ca.length === cb.length && ca.every((rdn, i) => rdn === cb[i]);
  } catch {
    return false;
  }
}

const STRING_TAGS = new Set([0x0c, 0x13, 0x14, 0x16, 0x1c, 0x1e]); // UTF8, Printable, Teletex, IA5, Universal, BMP

function canonicalName(der: Uint8Array): string[] {
  return children(der, expectTag(readRoot(der), DerTag.SEQUENCE, "Name")).map((rdn) =>
    children(der, expectTag(rdn, DerTag.SET, "RelativeDistinguishedName"))
      .map((ava) => {
        const [type, value] = children(der, expectTag(ava, DerTag.SEQUENCE, "AttributeTypeAndValue"));
        const oid = oidToString(der, expectTag(type, DerTag.OID, "attribute type"));
        if (value === undefined) throw new Error("attribute without a value");
        return `${oid}=${STRING_TAGS.has(value.tag) ? `s:${canonicalString(der, value)}` : `b:${Buffer.from(encodingOf(der, value)).toString("hex")}`}`;
      })
      .sort()
      .join("+"),
  );
}

function canonicalString(der: Uint8Array, value: Tlv): string {
  const bytes = Buffer.from(contentOf(der, value));
  let text: string;
  if (value.tag === 0x1e) text = bytes.swap16().toString("utf16le");
  else if (value.tag === 0x1c) text = Array.from({ length: bytes.length / 4 }, (_, i) => String.fromCodePoint(bytes.readUInt32BE(i * 4))).join("");
  else if (value.tag === 0x14) text = bytes.toString("latin1");
  else text = bytes.toString("utf8");
  return text.trim().replace(/\s+/g, " ").replace(/[A-Z]/g, (ch) => ch.toLowerCase());
}
