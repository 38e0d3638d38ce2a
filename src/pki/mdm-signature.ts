// Verifies the Mdm-Signature header: base64 of a detached CMS SignedData (RFC 5652) over the exact request body,
// made with the device's identity certificate. Also checks identity certificates that arrive by TLS client
// authentication or a proxy header, with the same trust rules and the same cache.
//
// Cost model (DESIGN.md, "The hot path"): pkijs takes ~9 ms per request here. This walks the SignedData with a
// zero-copy DER reader, looks the signer certificate up in an LRU cache keyed by its SHA-256 fingerprint, and
// does one signature check with the cached public key (RSA through the native helper when it is built, see
// rsa-native.ts; otherwise, and for EC keys, crypto.verify). Path building and the usage checks run once per
// certificate; the validity window (the intersection over the path) is re-checked against the clock on every
// request, so a cached certificate still expires on time.

import { X509Certificate, hash, verify as cryptoVerify } from "node:crypto";
import { DerError, bytesEqual } from "./der-reader.ts";
import { LruCache } from "./mdm-signature-cache.ts";
import { buildChain, parseCertificate, sha256Hex } from "./mdm-signature-chain.ts";
import type { ChainResult, ParsedCertificate } from "./mdm-signature-chain.ts";
import { CmsStructureError, parseDetachedSignedData } from "./mdm-signature-cms.ts";
import { rsaNative } from "./rsa-native.ts";
import type { CmsDigest, DetachedSignedData, SignerId } from "./mdm-signature-cms.ts";

export type { CmsDigest } from "./mdm-signature-cms.ts";

/** Why a signature or identity certificate was refused. Each maps to one cause, so logs and metrics can tell them apart. */
export type MdmSignatureFailure =
  /** The header is empty, too long, or not base64. */
  | "malformed-header"
  /** The bytes are not a well-formed CMS SignedData. */
  | "malformed-cms"
  /** Well-formed CMS this verifier does not accept (several signers, not SignedData, unknown algorithm). */
  | "unsupported-cms"
  /** No embedded certificate matches the SignerInfo. */
  | "signer-certificate-missing"
  /** The embedded certificate cannot be parsed. */
  | "malformed-certificate"
  /** The messageDigest attribute does not match the body: the body was altered (or is not the signed one). */
  | "digest-mismatch"
  /** The signature does not verify with the certificate's key. */
  | "bad-signature"
  /** No path to a trusted CA. */
  | "untrusted-certificate"
  | "certificate-expired"
  | "certificate-not-yet-valid"
  /** The certificate may not act as a device identity (CA certificate, keyUsage, extendedKeyUsage). */
  | "certificate-usage";

export type MdmSignatureResult =
  | { ok: true; certDer: Uint8Array; fingerprint: string; notAfter: Date; digest: CmsDigest }
  | { ok: false; reason: MdmSignatureFailure; detail: string };

export type IdentityCertificateResult =
  | { ok: true; certDer: Uint8Array; fingerprint: string; notAfter: Date }
  | { ok: false; reason: MdmSignatureFailure; detail: string };

export interface MdmSignatureVerifierOptions {
  /** DER certificates of the CAs that may issue device identities: Orchard's CA plus configured extra CAs. */
  trustedCaDers: readonly Uint8Array[];
  /** The clock; injectable for tests. */
  now?: () => Date;
  /** Parsed certificates remembered (default 5,000). */
  cacheSize?: number;
  /**
   * Trust verdicts remembered (default 250,000: a whole fleet). A verdict is ~90 bytes of heap, a parsed
   * certificate a few kilobytes; with the verdict known, a certificate that fell out of the parsed cache costs
   * a DER walk and a key import again (~40 µs), not a chain check (~250 µs).
   */
  verdictCacheSize?: number;
  /** Intermediate CAs allowed between a device certificate and a trusted CA (default 4). */
  maxIntermediates?: number;
  /** RSA signatures through the native helper when it is built (default true); false: node:crypto only. */
  nativeRsa?: boolean;
}

export interface MdmSignatureVerifierStats {
  cached: number;
  hits: number;
  misses: number;
  /** Path-building runs: once per certificate while it stays cached. */
  chainChecks: number;
}

export interface MdmSignatureVerifier {
  /** Checks an Mdm-Signature header value against the exact request body. Never throws. */
  verify(headerValue: string, body: Uint8Array): MdmSignatureResult;
  /**
   * Checks a device identity certificate received by TLS client authentication or a proxy header (see
   * parseClientCertificateHeader), with intermediates the client or proxy supplied. Never throws.
   */
  verifyIdentityCertificate(certDer: Uint8Array, intermediates?: readonly Uint8Array[]): IdentityCertificateResult;
  stats(): MdmSignatureVerifierStats;
}

/** A remembered certificate: parsed once, its trust decided once (or decided again if that may change). */
interface CertEntry {
  cert: ParsedCertificate;
  /** Undefined until this certificate is first used as a leaf. */
  trust: ChainResult | undefined;
  /** In the cache (its key is imported once and kept), or seen once (a one-off key, see ParsedCertificate). */
  cached: boolean;
  /** When it was last used, by the verifier's clock (ms). */
  lastUsed: number;
}

/** A full certificate cache replaces its least recently used entry only once that has been idle this long. */
const REPLACE_AFTER_IDLE_MS = 15 * 60_000;

const MAX_HEADER_LENGTH = 64 * 1024;
const BASE64_RE = /^[A-Za-z0-9+/\-_]+={0,2}$/;
const NODE_DIGEST: Record<CmsDigest, string> = { sha1: "sha1", sha224: "sha224", sha256: "sha256", sha384: "sha384", sha512: "sha512" };

function fail(reason: MdmSignatureFailure, detail: string): { ok: false; reason: MdmSignatureFailure; detail: string } {
  return { ok: false, reason, detail };
}

function decodeHeader(value: string): Uint8Array | undefined {
  if (value.length === 0 || value.length > MAX_HEADER_LENGTH) return undefined;
  // Fast path for the usual single-line standard base64: Node skips characters outside the alphabet, so a
  // decoded length short of what the text length implies means the text was not clean base64.
  if (value.length % 4 === 0) {
    const bytes = Buffer.from(value, "base64");
    const padding = value.endsWith("==") ? 2 : value.endsWith("=") ? 1 : 0;
    if (bytes.length === (value.length / 4) * 3 - padding && bytes.length > 0 && value.indexOf("-") === -1 && value.indexOf("_") === -1) {
      return bytes;
    }
  }
  const compact = /\s/.test(value) ? value.replace(/\s+/g, "") : value;
  if (!BASE64_RE.test(compact) || compact.replace(/=+$/, "").length % 4 === 1) return undefined;
  const bytes = Buffer.from(compact, compact.includes("-") || compact.includes("_") ? "base64url" : "base64");
  return bytes.length === 0 ? undefined : bytes;
}

function matchesSigner(cert: ParsedCertificate, id: SignerId): boolean {
  if (id.kind === "issuerSerial") return bytesEqual(cert.facts.serial, id.serial) && bytesEqual(cert.facts.issuer, id.issuer);
  return cert.facts.subjectKeyId !== undefined && bytesEqual(cert.facts.subjectKeyId, id.keyId);
}

export function createMdmSignatureVerifier(options: MdmSignatureVerifierOptions): MdmSignatureVerifier {
  const clock = options.now;
  const nowMs = clock === undefined ? Date.now : () => clock().getTime();
  const maxIntermediates = options.maxIntermediates ?? 4;
  const native = options.nativeRsa === false ? undefined : rsaNative();
  const cache = new LruCache<string, CertEntry>(options.cacheSize ?? 5_000);
  // A verdict is kept small because there is one per device: the key is the fingerprint's first 128 bits as a
  // 16-character binary string (32 bytes of heap, against 80 for the hex), the value the end of the path's
  // validity window. Only paths that start being valid with the leaf are remembered (the usual case: a CA
  // issues within its own validity), so the window's start is the leaf's notBefore and need not be stored.
  const verdicts = new LruCache<string, number>(options.verdictCacheSize ?? 250_000);
  const verdictKey = (fingerprint: string): string => Buffer.from(fingerprint.slice(0, 32), "hex").toString("latin1");
  // A bad trust anchor is a configuration error: say so at startup rather than refuse every device later.
  const anchors = options.trustedCaDers.map((der, i) => {
    try {
      const anchor = parseCertificate(new Uint8Array(der));
      new X509Certificate(der); // node must be able to read it, too
      return anchor;
    } catch (error) {
      throw new Error(`trusted CA certificate #${i + 1} cannot be read: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  const counters = { hits: 0, misses: 0, chainChecks: 0 };

  /**
   * The cache entry for a certificate, parsing it on first sight. Throws DerError for non-certificates.
   *
   * Admission: while the cache has room every certificate goes in; once it is full, a certificate takes the
   * place of the least recently used one only when that one has not been used for REPLACE_AFTER_IDLE_MS, and
   * is otherwise checked with a one-off key. A fleet larger than the cache, connecting in random order, gets
   * the same hit rate from any replacement policy (capacity / fleet), but replacing on every miss allocates a
   * KeyObject's native memory (~3-6 KB in many small blocks) for nearly every request, and those long-lived
   * blocks, scattered through glibc's heap among short-lived ones, keep it resident: measured with 50,000
   * P-256 devices and a 10,000-entry cache, 152 MB of glibc's heap stayed resident after malloc_trim with
   * replacement on the second miss, 81 MB without replacement.
   */
  function entryFor(der: Uint8Array): CertEntry {
    const fingerprint = sha256Hex(der);
    const now = nowMs();
    const cached = cache.get(fingerprint);
    if (cached !== undefined) {
      counters.hits++;
      cached.lastUsed = now;
      return cached;
    }
    counters.misses++;
    // Own copy: the input is a view into a request buffer that will be reused.
    const entry: CertEntry = { cert: parseCertificate(new Uint8Array(der), fingerprint), trust: undefined, cached: false, lastUsed: now };
    if (cache.size < cache.capacity || now - (cache.coldest()?.lastUsed ?? now) >= REPLACE_AFTER_IDLE_MS) {
      entry.cached = true;
      cache.set(fingerprint, entry);
    }
    return entry;
  }

  /**
   * Trust of a leaf, decided once. A remembered "untrusted" is decided again when intermediates come along,
   * since they may complete the path; every other outcome depends on the leaf and the anchors alone.
   */
  function trustOf(entry: CertEntry, intermediateDers: readonly Uint8Array[]): ChainResult {
    const known = entry.trust;
    if (known !== undefined && (known.ok || known.reason !== "untrusted-certificate" || intermediateDers.length === 0)) return known;
    if (known === undefined) {
      // A path found once stays valid (anchors are fixed per verifier); only its window is re-checked per use.
      const notAfter = verdicts.get(verdictKey(entry.cert.fingerprint));
      if (notAfter !== undefined) {
        entry.trust = { ok: true, notBefore: entry.cert.facts.notBefore, notAfter: new Date(notAfter) };
        return entry.trust;
      }
    }
    counters.chainChecks++;
    const intermediates: ParsedCertificate[] = [];
    for (const der of intermediateDers) {
      try {
        intermediates.push(entryFor(der).cert);
      } catch {
        // An unreadable extra certificate cannot help build a path; ignore it.
      }
    }
    const result = buildChain(entry.cert, intermediates, anchors, maxIntermediates);
    if (result.ok && result.notBefore.getTime() === entry.cert.facts.notBefore.getTime()) verdicts.set(verdictKey(entry.cert.fingerprint), result.notAfter.getTime());
    // A path that failed with these intermediates may succeed with others: remember only what they cannot change.
    if (result.ok || result.reason !== "untrusted-certificate" || intermediateDers.length === 0 || known === undefined) entry.trust = result;
    return result;
  }

  function checkWindow(trust: ChainResult & { ok: true }): { ok: false; reason: MdmSignatureFailure; detail: string } | undefined {
    const t = nowMs();
    if (t < trust.notBefore.getTime()) return fail("certificate-not-yet-valid", `valid from ${trust.notBefore.toISOString()}`);
    if (t > trust.notAfter.getTime()) return fail("certificate-expired", `expired at ${trust.notAfter.toISOString()}`);
    return undefined;
  }

  function checkSignature(sd: DetachedSignedData, entry: CertEntry, body: Uint8Array): { ok: false; reason: MdmSignatureFailure; detail: string } | undefined {
    const cert = entry.cert;
    const keyType = cert.keyType;
    if ((sd.scheme === "rsa-pkcs1" && keyType !== "rsa") || (sd.scheme === "ecdsa" && keyType !== "ec")) {
      return fail("unsupported-cms", `a ${sd.scheme} signature cannot come from a ${keyType ?? "unknown"} key`);
    }
    let signed: Uint8Array = body;
    if (sd.signedAttributes !== undefined && sd.messageDigest !== undefined) {
      const digest = hash(NODE_DIGEST[sd.digest], body, "buffer");
      if (!bytesEqual(digest, sd.messageDigest)) return fail("digest-mismatch", `the body's ${sd.digest} digest does not match the signed messageDigest`);
      // RFC 5652 §5.4: the signature covers the DER of the attributes with the SET OF tag, not the [0] tag.
      signed = Buffer.from(sd.signedAttributes);
      signed[0] = 0x31;
    }
    let valid: boolean;
    try {
      // A certificate seen once gets no kept key, native or KeyObject (see ParsedCertificate).
      valid =
        native !== undefined && cert.rsa !== undefined
          ? native.verify(cert.rsa, sd.signatureDigest, signed, sd.signature, entry.cached)
          : cryptoVerify(NODE_DIGEST[sd.signatureDigest], signed, entry.cached ? cert.publicKey : cert.oneOffKey(), sd.signature);
    } catch (error) {
      return fail("bad-signature", `signature could not be checked (${error instanceof Error ? error.message : String(error)})`);
    }
    return valid ? undefined : fail("bad-signature", "the signature does not verify with the signer certificate's key");
  }

  function verify(headerValue: string, body: Uint8Array): MdmSignatureResult {
    const der = decodeHeader(headerValue);
    if (der === undefined) return fail("malformed-header", "the Mdm-Signature header is not base64");
    let sd: DetachedSignedData;
    try {
      sd = parseDetachedSignedData(der);
    } catch (error) {
      if (error instanceof CmsStructureError) return fail(error.kind === "unsupported" ? "unsupported-cms" : "malformed-cms", error.message);
      return fail("malformed-cms", String(error));
    }

    let signer: CertEntry | undefined;
    let unreadable: string | undefined;
    const others: Uint8Array[] = [];
    for (const certDer of sd.certificates) {
      let entry: CertEntry;
      try {
        entry = entryFor(certDer);
      } catch (error) {
        unreadable = error instanceof DerError ? error.message : String(error);
        continue;
      }
      if (signer === undefined && matchesSigner(entry.cert, sd.signerId)) signer = entry;
      else others.push(certDer);
    }
    if (signer === undefined) {
      return unreadable !== undefined
        ? fail("malformed-certificate", `an embedded certificate cannot be read: ${unreadable}`)
        : fail("signer-certificate-missing", "no embedded certificate matches the signer");
    }

    const trust = trustOf(signer, others);
    if (!trust.ok) return trust;
    const window = checkWindow(trust);
    if (window !== undefined) return window;
    const bad = checkSignature(sd, signer, body);
    if (bad !== undefined) return bad;
    return { ok: true, certDer: signer.cert.der, fingerprint: signer.cert.fingerprint, notAfter: signer.cert.facts.notAfter, digest: sd.digest };
  }

  function verifyIdentityCertificate(certDer: Uint8Array, intermediates: readonly Uint8Array[] = []): IdentityCertificateResult {
    let entry: CertEntry;
    try {
      entry = entryFor(certDer);
    } catch (error) {
      return fail("malformed-certificate", error instanceof DerError ? error.message : String(error));
    }
    const trust = trustOf(entry, intermediates);
    if (!trust.ok) return trust;
    const window = checkWindow(trust);
    if (window !== undefined) return window;
    return { ok: true, certDer: entry.cert.der, fingerprint: entry.cert.fingerprint, notAfter: entry.cert.facts.notAfter };
  }

  function safely<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R | { ok: false; reason: MdmSignatureFailure; detail: string } {
    // Both checks face the network: whatever slips past the specific handling above is a refusal, never a crash.
    return (...args: A) => {
      try {
        return fn(...args);
      } catch (error) {
        return fail("malformed-cms", `unexpected failure: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
  }

  return {
    verify: safely(verify),
    verifyIdentityCertificate: safely(verifyIdentityCertificate),
    stats: () => ({ cached: cache.size, ...counters }),
  };
}
