// Signature and digest algorithm identifiers <-> node:crypto, for X.509, PKCS#10 and CMS.

import { createHash, sign, verify, type KeyObject } from "node:crypto";
import { algorithmIdentifier, nullValue, parseAsn1, readOid, type Asn1Node } from "./der.ts";
import { OID } from "./oids.ts";

export type DigestName = "sha1" | "sha256" | "sha384" | "sha512";

export class UnsupportedAlgorithmError extends Error {
  override readonly name = "UnsupportedAlgorithmError";
  constructor(
    readonly algorithm: string,
    message: string,
  ) {
    super(message);
  }
}

const DIGEST_OIDS: Record<DigestName, string> = {
  sha1: OID.sha1,
  sha256: OID.sha256,
  sha384: OID.sha384,
  sha512: OID.sha512,
};

const DIGEST_BY_OID = new Map<string, DigestName>(
  Object.entries(DIGEST_OIDS).map(([name, o]) => [o, name as DigestName]),
);

const RSA_SIG: Record<DigestName, string> = {
  sha1: OID.sha1WithRSAEncryption,
  sha256: OID.sha256WithRSAEncryption,
  sha384: OID.sha384WithRSAEncryption,
  sha512: OID.sha512WithRSAEncryption,
};
const ECDSA_SIG: Record<DigestName, string> = {
  sha1: OID.ecdsaWithSHA1,
  sha256: OID.ecdsaWithSHA256,
  sha384: OID.ecdsaWithSHA384,
  sha512: OID.ecdsaWithSHA512,
};
const SIG_DIGEST = new Map<string, DigestName>([
  ...Object.entries(RSA_SIG).map(([d, o]) => [o, d as DigestName] as const),
  ...Object.entries(ECDSA_SIG).map(([d, o]) => [o, d as DigestName] as const),
]);

export function digestOid(name: DigestName): string {
  return DIGEST_OIDS[name];
}

/** AlgorithmIdentifier for a digest. Parameters are absent, as RFC 5754 asks for SHA-2 (and openssl does for SHA-1). */
export function digestAlgorithmIdentifier(name: DigestName): Uint8Array {
  return algorithmIdentifier(DIGEST_OIDS[name]);
}

export function digestFromOid(algOid: string): DigestName {
  const d = DIGEST_BY_OID.get(algOid);
  if (!d) throw new UnsupportedAlgorithmError(algOid, `unsupported digest algorithm ${algOid}`);
  return d;
}

export function digest(name: DigestName, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(name).update(data).digest());
}

/** The AlgorithmIdentifier a key signs with, for certificates, CSRs and CMS signerInfos. */
export function signatureAlgorithmIdentifier(key: KeyObject, hash: DigestName): Uint8Array {
  switch (key.asymmetricKeyType) {
    case "rsa":
      // RFC 4055: the parameters of the PKCS #1 v1.5 signature algorithms are NULL.
      return algorithmIdentifier(RSA_SIG[hash], nullValue());
    case "ec":
      return algorithmIdentifier(ECDSA_SIG[hash]);
    default:
      throw new UnsupportedAlgorithmError(String(key.asymmetricKeyType), `cannot sign with a ${String(key.asymmetricKeyType)} key`);
  }
}

/** Signs data; ECDSA signatures come out DER-encoded, as X.509 and CMS carry them. */
export function signData(key: KeyObject, hash: DigestName, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign(hash, data, key));
}

/**
 * Verifies a signature given its AlgorithmIdentifier. In CMS the signature algorithm is often just
 * rsaEncryption/ecPublicKey, with the digest named separately: pass it as `cmsDigest`.
 */
export function verifyWithAlgorithm(
  algorithm: Asn1Node,
  publicKey: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
  cmsDigest?: DigestName,
): boolean {
  const algOid = readOid(algorithm.children[0], "signature algorithm");
  let hash = SIG_DIGEST.get(algOid);
  if (!hash && (algOid === OID.rsaEncryption || algOid === OID.ecPublicKey) && cmsDigest) hash = cmsDigest;
  if (!hash) throw new UnsupportedAlgorithmError(algOid, `unsupported signature algorithm ${algOid}`);
  const keyType = publicKey.asymmetricKeyType;
  const isRsaAlg = algOid === OID.rsaEncryption || Object.values(RSA_SIG).includes(algOid);
  if ((keyType === "rsa") !== isRsaAlg) return false;
  try {
    return verify(hash, data, publicKey, signature);
  } catch {
    return false;
  }
}

/** Parses an encoded AlgorithmIdentifier (used by tests and by callers holding raw bytes). */
export function algorithmOidOf(encoded: Uint8Array): string {
  return readOid(parseAsn1(encoded).children[0]);
}
