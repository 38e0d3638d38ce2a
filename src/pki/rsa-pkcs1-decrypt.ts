// RSAES-PKCS1-v1_5 decryption with implicit rejection, for SCEP key transport.
//
// Node 20's OpenSSL refuses RSA_PKCS1_PADDING for private decryption (CVE-2023-46809, the Marvin
// attack) unless the whole process runs with --security-revert, which we do not do. SCEP clients
// still wrap their content-encryption keys with PKCS #1 v1.5, so we decrypt in two steps:
//
//  1. the raw RSA operation, by OpenSSL (privateDecrypt with RSA_NO_PADDING, which Node 20 allows;
//     OpenSSL applies RSA blinding to it), and
//  2. the PKCS #1 v1.5 unpadding below, with implicit rejection as OpenSSL 3.2+ does it
//     (draft-irtf-cfrg-rsa-guidance, "implicit rejection"): when the padding is wrong we return a
//     synthetic message derived from the private key and the ciphertext instead of an error, so the
//     result does not tell an attacker whether the padding was valid. The synthetic message is
//     deterministic, so asking twice gives the same answer.
//
// The unpadding avoids data-dependent branches and table lookups on secret bytes; JavaScript gives
// no hard constant-time guarantee, so a caller must still never reveal *why* a decryption failed.

import { constants, createHash, createHmac, privateDecrypt, type KeyObject } from "node:crypto";

export class RsaDecryptError extends Error {
  override readonly name = "RsaDecryptError";
}

/** SHA-256 of I2OSP(d, k) per private key: the HMAC key of the key-derivation key (KDK). */
const kdkHmacKeys = new WeakMap<KeyObject, Buffer>();

function kdkHmacKey(key: KeyObject, k: number): Buffer {
  let hk = kdkHmacKeys.get(key);
  if (!hk) {
    const jwk = key.export({ format: "jwk" });
    if (typeof jwk.d !== "string") throw new RsaDecryptError("the key has no private exponent");
    const d = Buffer.from(jwk.d, "base64url");
    if (d.length > k) throw new RsaDecryptError("private exponent longer than the modulus");
    const padded = Buffer.alloc(k);
    d.copy(padded, k - d.length);
    hk = createHash("sha256").update(padded).digest();
    padded.fill(0);
    d.fill(0);
    kdkHmacKeys.set(key, hk);
  }
  return hk;
}

/** The PRF of the implicit-rejection scheme: HMAC-SHA256(KDK, I2OSP(i, 2) || label || I2OSP(bits, 2)), i = 0, 1, ... */
function prf(kdk: Buffer, label: string, outLength: number): Buffer {
  const bits = Buffer.alloc(2);
  bits.writeUInt16BE(outLength * 8);
  const labelBytes = Buffer.from(label, "latin1");
  const out = Buffer.alloc(outLength);
  const counter = Buffer.alloc(2);
  for (let pos = 0, i = 0; pos < outLength; pos += 32, i++) {
    counter.writeUInt16BE(i);
    const block = createHmac("sha256", kdk).update(counter).update(labelBytes).update(bits).digest();
    block.copy(out, pos, 0, Math.min(32, outLength - pos));
  }
  return out;
}

// Branch-free helpers on small non-negative integers; masks are all ones (-1) or zero.
const isZero = (x: number): number => (~x & (x - 1)) >> 31;
const eq = (a: number, b: number): number => isZero(a ^ b);
const lt = (a: number, b: number): number => (a - b) >> 31;
const select = (mask: number, a: number, b: number): number => (mask & a) | (~mask & b);

const LENGTH_CANDIDATES = 128;

/**
 * Decrypts an RSAES-PKCS1-v1_5 ciphertext. Never reports bad padding: an invalid ciphertext yields a
 * pseudo-random message (of pseudo-random length) that is a function of the key and the ciphertext.
 * Throws only for publicly invalid input (too long, or not smaller than the modulus) or a non-RSA key.
 */
export function rsaPkcs1v15Decrypt(key: KeyObject, ciphertext: Uint8Array): Buffer {
  if (key.type !== "private" || key.asymmetricKeyType !== "rsa") throw new RsaDecryptError("an RSA private key is required");
  const bitsLength = key.asymmetricKeyDetails?.modulusLength;
  if (!bitsLength) throw new RsaDecryptError("cannot read the RSA modulus length");
  const k = Math.ceil(bitsLength / 8);
  if (k < 11) throw new RsaDecryptError("RSA modulus too small");
  if (ciphertext.length > k) throw new RsaDecryptError("ciphertext longer than the RSA modulus");
  // Some encoders drop leading zero octets of the ciphertext; I2OSP puts them back.
  const c = Buffer.alloc(k);
  c.set(ciphertext, k - ciphertext.length);

  let em: Buffer;
  try {
    em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, c);
  } catch {
    // Only happens for c >= n, which anyone holding the public key can check.
    throw new RsaDecryptError("ciphertext is not smaller than the RSA modulus");
  }
  if (em.length !== k) {
    const padded = Buffer.alloc(k);
    em.copy(padded, k - em.length);
    em = padded;
  }

  const kdk = createHmac("sha256", kdkHmacKey(key, k)).update(c).digest();
  const synthetic = prf(kdk, "message", k);
  const candidates = prf(kdk, "length", LENGTH_CANDIDATES * 2);

  // The synthetic length: the last candidate below the largest possible message length.
  const maxSepOffset = k - 2 - 8;
  let lenMask = maxSepOffset;
  lenMask |= lenMask >> 1;
  lenMask |= lenMask >> 2;
  lenMask |= lenMask >> 4;
  lenMask |= lenMask >> 8;
  let syntheticLength = 0;
  for (let i = 0; i < LENGTH_CANDIDATES * 2; i += 2) {
    const candidate = ((candidates[i]! << 8) | candidates[i + 1]!) & lenMask;
    syntheticLength = select(lt(candidate, maxSepOffset), candidate, syntheticLength);
  }
  const syntheticIndex = k - syntheticLength;

  // EM = 0x00 || 0x02 || PS (>= 8 non-zero octets) || 0x00 || M
  let good = isZero(em[0]!) & eq(em[1]!, 2);
  let zeroIndex = 0;
  let found = 0;
  for (let i = 2; i < k; i++) {
    const isSep = isZero(em[i]!);
    zeroIndex = select(~found & isSep, i, zeroIndex);
    found |= isSep;
  }
  good &= ~lt(zeroIndex, 2 + 8);
  const msgIndex = select(good, zeroIndex + 1, syntheticIndex);

  const out = Buffer.alloc(k - msgIndex);
  for (let i = msgIndex, j = 0; i < k; i++, j++) out[j] = select(good, em[i]!, synthetic[i]!);
  em.fill(0);
  return out;
}
