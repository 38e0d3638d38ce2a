// RSASSA-PKCS1-v1_5 signature verification (RFC 8017 §8.2.2) with the RSA public-key operation from the
// optional native helper (native/rsa-public.c), for the Mdm-Signature hot path.
//
// Why: node:crypto's verify() does the same RSA operation, but around it OpenSSL 3 builds a fresh digest and
// key context per call (algorithm fetches, parameter lookups, allocations): measured under the idle-connect
// benchmark, that wrapping cost as much CPU as the modular exponentiation itself. The helper keeps one RSA key
// per cached certificate and performs only s^e mod n; the encoding check is done here, the way §8.2.2 asks:
// build the expected EMSA-PKCS1-v1_5 encoding of the hash and compare every byte (no parsing of the
// recovered block, so none of the lenient-parser forgeries apply).
//
// When the helper is not built, `rsaNative()` is undefined and the verifier uses node:crypto.
import { hash } from "node:crypto";
import { loadNativeHelper } from "../native/native-helper.ts";
import type { CmsDigest } from "./mdm-signature-cms.ts";

/** An RSA public key held by the helper; freed when V8 collects this handle. */
export type RsaNativeKey = { readonly __brand: "RsaNativeKey" };

export interface RsaPublicExports {
  /** The key, or -1 when the values are out of bounds (modulus up to 16,384 bits, exponent up to 64). */
  rsaPublicKey(n: Uint8Array, e: Uint8Array): RsaNativeKey | -1;
  /** RSAVP1 of `input` (exactly the modulus length) into `output`: bytes written, or -1 (input not below n). */
  rsaPublicOp(key: RsaNativeKey, input: Uint8Array, output: Uint8Array): number;
  rsaPublicOpOnce(n: Uint8Array, e: Uint8Array, input: Uint8Array, output: Uint8Array): number;
}

/** DER of DigestInfo up to the hash value, per digest (RFC 8017 §9.2, note 1). */
const DIGEST_INFO_PREFIX: Readonly<Record<CmsDigest, Buffer>> = {
  sha1: Buffer.from("3021300906052b0e03021a05000414", "hex"),
  sha224: Buffer.from("302d300d06096086480165030402040500041c", "hex"),
  sha256: Buffer.from("3031300d060960864801650304020105000420", "hex"),
  sha384: Buffer.from("3041300d060960864801650304020205000430", "hex"),
  sha512: Buffer.from("3051300d060960864801650304020305000440", "hex"),
};

/** An RSA public key as n and e (big-endian magnitudes), with the helper's key made on first use. */
export class RsaPublicValues {
  private kept: RsaNativeKey | undefined;
  constructor(
    readonly n: Uint8Array,
    readonly e: Uint8Array,
  ) {}

  /** The helper's key for repeated use (kept with this object), or undefined when the helper refuses the values. */
  key(helper: RsaPublicExports): RsaNativeKey | undefined {
    if (this.kept === undefined) {
      const made = helper.rsaPublicKey(this.n, this.e);
      if (made === -1) return undefined;
      this.kept = made;
    }
    return this.kept;
  }
}

export interface RsaNative {
  readonly helper: RsaPublicExports;
  /**
   * Verifies an RSASSA-PKCS1-v1_5 signature over `data`. `keep`: use (and keep) the helper's key for `key`
   * rather than making one for this call only: for keys that will be used again.
   */
  verify(key: RsaPublicValues, digest: CmsDigest, data: Uint8Array, signature: Uint8Array, keep: boolean): boolean;
}

/** The helper (loaded once, by loadNativeHelper). */
function loadHelper() {
  return loadNativeHelper<RsaPublicExports>("rsa-public", ["rsaPublicKey", "rsaPublicOp", "rsaPublicOpOnce"]);
}

let instance: RsaNative | null | undefined;

/** The helper-backed verifier, or undefined when the helper is not built or cannot be loaded here. */
export function rsaNative(): RsaNative | undefined {
  if (instance === undefined) {
    const helper = loadHelper().exports;
    instance = helper === undefined ? null : nativeVerifier(helper);
  }
  return instance ?? undefined;
}

/** Why the helper is or is not used (for the startup log). */
export function rsaNativeStatus(): string {
  return loadHelper().why;
}

function nativeVerifier(helper: RsaPublicExports): RsaNative {
  return {
    helper,
    verify(key, digest, data, signature, keep) {
      // §8.2.2 step 1: the signature is exactly as long as the modulus.
      const k = key.n.length;
      if (signature.length !== k) return false;
      const em = Buffer.allocUnsafe(k);
      let written: number;
      if (keep) {
        const kept = key.key(helper);
        if (kept === undefined) return false;
        written = helper.rsaPublicOp(kept, signature, em);
      } else {
        written = helper.rsaPublicOpOnce(key.n, key.e, signature, em);
      }
      if (written !== k) return false;
      return matchesEncoding(em, DIGEST_INFO_PREFIX[digest], hash(digest, data, "buffer"));
    },
  };
}

/** EM = 0x00 || 0x01 || PS (0xff, at least 8) || 0x00 || DigestInfo prefix || H, compared in full (§9.2). */
export function matchesEncoding(em: Uint8Array, prefix: Uint8Array, h: Uint8Array): boolean {
  const k = em.length;
  const tLen = prefix.length + h.length;
  if (k < tLen + 11) return false;
  let diff = em[0]! | (em[1]! ^ 0x01) | em[k - tLen - 1]!;
  for (let i = 2; i < k - tLen - 1; i++) diff |= em[i]! ^ 0xff;
  const t = k - tLen;
  for (let i = 0; i < prefix.length; i++) diff |= em[t + i]! ^ prefix[i]!;
  const hAt = t + prefix.length;
  for (let i = 0; i < h.length; i++) diff |= em[hAt + i]! ^ h[i]!;
  return diff === 0;
}
