// Public keys from a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) without OpenSSL 3's generic decoder.
//
// node's createPublicKey({format: "der", type: "spki"}) goes through OSSL_DECODER, which tries decoder after
// decoder: ~170 µs here for an RSA-2048 key. The same key handed over as a JWK (its modulus and exponent) is
// built directly in ~25 µs; a P-256 key in ~135 µs instead of ~180 µs. A device whose certificate has left the
// verifier's cache pays this on every request, so the usual key types (RSA per RFC 8017 §A.1.1, EC on the
// named NIST curves with an uncompressed point per SEC 1 §2.3.3) are read here; anything else (compressed
// points, RSA-PSS or EdDSA keys, explicit curve parameters) is left to the generic decoder.

import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import { DerTag, children, contentOf, expectTag, oidEquals, oidContent, readRoot, type Tlv } from "./der-reader.ts";

const OID_RSA = oidContent("1.2.840.113549.1.1.1");
const OID_EC = oidContent("1.2.840.10045.2.1");
const CURVES: ReadonlyArray<{ oid: Uint8Array; crv: string; size: number }> = [
  { oid: oidContent("1.2.840.10045.3.1.7"), crv: "P-256", size: 32 },
  { oid: oidContent("1.3.132.0.34"), crv: "P-384", size: 48 },
  { oid: oidContent("1.3.132.0.35"), crv: "P-521", size: 66 },
];

/** The public key in a SubjectPublicKeyInfo (DER). Throws node's error for a key it cannot read. */
export function importSpki(spki: Uint8Array): KeyObject {
  const jwk = spkiToJwk(spki);
  if (jwk !== undefined) {
    try {
      return createPublicKey({ key: jwk, format: "jwk" });
    } catch {
      // Let the generic decoder give its verdict (and its message) on a key the JWK path would not take.
    }
  }
  return createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: "der", type: "spki" });
}

/** The numbers of an RSA or named-curve EC public key (views into the SPKI), as its JWK would hold them. */
export type SpkiKeyParts = { kty: "RSA"; n: Uint8Array; e: Uint8Array } | { kty: "EC"; crv: string; x: Uint8Array; y: Uint8Array };

/** The key's numbers for an RSA or named-curve EC key, or undefined for anything this reader leaves to OpenSSL. */
export function readSpkiKeyParts(spki: Uint8Array): SpkiKeyParts | undefined {
  try {
    const [algorithm, bits] = children(spki, expectTag(readRoot(spki), DerTag.SEQUENCE, "SubjectPublicKeyInfo"));
    const [oid, params] = children(spki, expectTag(algorithm, DerTag.SEQUENCE, "AlgorithmIdentifier"));
    const key = contentOf(spki, expectTag(bits, DerTag.BIT_STRING, "subjectPublicKey"));
    if (key[0] !== 0) return undefined; // unused bits: not a key encoding
    const body = key.subarray(1);
    if (oidEquals(spki, expectTag(oid, DerTag.OID, "algorithm"), OID_RSA)) return rsaParts(body);
    if (oidEquals(spki, oid!, OID_EC) && params !== undefined) return ecParts(spki, params, body);
    return undefined;
  } catch {
    return undefined;
  }
}

export function keyPartsToJwk(parts: SpkiKeyParts): JsonWebKey {
  return parts.kty === "RSA"
    ? { kty: "RSA", n: base64url(parts.n), e: base64url(parts.e) }
    : { kty: "EC", crv: parts.crv, x: base64url(parts.x), y: base64url(parts.y) };
}

/** The JWK form of an RSA or named-curve EC key, or undefined for anything this reader leaves to OpenSSL. */
export function spkiToJwk(spki: Uint8Array): JsonWebKey | undefined {
  const parts = readSpkiKeyParts(spki);
  return parts && keyPartsToJwk(parts);
}

function rsaParts(body: Uint8Array): SpkiKeyParts | undefined {
  const [n, e, extra] = children(body, expectTag(readRoot(body), DerTag.SEQUENCE, "RSAPublicKey"));
  if (extra !== undefined) return undefined;
  const modulus = unsigned(body, expectTag(n, DerTag.INTEGER, "modulus"));
  const exponent = unsigned(body, expectTag(e, DerTag.INTEGER, "publicExponent"));
  if (modulus === undefined || exponent === undefined) return undefined;
  return { kty: "RSA", n: modulus, e: exponent };
}

function ecParts(spki: Uint8Array, params: Tlv, point: Uint8Array): SpkiKeyParts | undefined {
  const curve = CURVES.find((c) => oidEquals(spki, params, c.oid));
  if (curve === undefined || point.length !== 1 + 2 * curve.size || point[0] !== 0x04) return undefined;
  return { kty: "EC", crv: curve.crv, x: point.subarray(1, 1 + curve.size), y: point.subarray(1 + curve.size) };
}

/** A positive INTEGER's magnitude without its sign octet; undefined for zero or negative values. */
function unsigned(b: Uint8Array, tlv: Tlv): Uint8Array | undefined {
  let v = contentOf(b, tlv);
  if (v.length === 0 || ((v[0] as number) & 0x80) !== 0) return undefined;
  while (v.length > 1 && v[0] === 0) v = v.subarray(1);
  return v[0] === 0 ? undefined : v;
}

function base64url(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64url");
}
