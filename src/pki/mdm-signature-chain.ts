// Path building from a device identity certificate to one of the configured trust anchors (Orchard's CA and
// any extra CAs). Done once per certificate (the verifier caches the outcome); each link is checked from the
// DER by certificate-issuance.ts.

import { hash } from "node:crypto";
import type { JsonWebKey, KeyObject } from "node:crypto";
import { DerError } from "./der-reader.ts";
import { identityUsageProblem, readCertificateFacts } from "./mdm-signature-cert.ts";
import type { CertificateFacts } from "./mdm-signature-cert.ts";
import { importSpki, keyPartsToJwk, readSpkiKeyParts } from "./spki-key.ts";
import { RsaPublicValues } from "./rsa-native.ts";
import { isIssuedBy } from "./certificate-issuance.ts";
import { nameToString } from "./names.ts";

/** What crypto.verify takes for a key: a KeyObject, or the key's JWK or SPKI for a one-off import. */
export type VerifyKey = KeyObject | { key: JsonWebKey; format: "jwk" } | { key: Buffer; format: "der"; type: "spki" };

/**
 * A certificate as the verifier keeps it. Its public key is imported on first use of `publicKey` and kept, for
 * certificates the verifier caches; `oneOffKey()` serves a certificate seen once, without a KeyObject: a
 * KeyObject holds 2-3 KB of native memory that is only freed when V8 collects its wrapper, and V8, which sees
 * only the wrapper, is in no hurry, so a cache churning through a large fleet piles up hundreds of megabytes.
 */
export class ParsedCertificate {
  private key: KeyObject | undefined;
  /** Until the key is imported: the JWK a one-off check imports from (dropped once a KeyObject exists). */
  private jwk: JsonWebKey | undefined;

  /** An RSA key's n and e, for the native verifier (rsa-native.ts); views into `der`. */
  readonly rsa: RsaPublicValues | undefined;

  constructor(
    readonly der: Uint8Array,
    readonly fingerprint: string,
    readonly facts: CertificateFacts,
  ) {
    const parts = readSpkiKeyParts(facts.spki);
    this.jwk = parts && keyPartsToJwk(parts);
    this.rsa = parts?.kty === "RSA" ? new RsaPublicValues(parts.n, parts.e) : undefined;
    // A key the JWK reader leaves to OpenSSL is imported now, so that an unreadable key is found at parse time.
    if (this.jwk === undefined) this.key = importKey(facts.spki);
  }

  get publicKey(): KeyObject {
    if (this.key === undefined) {
      this.key = importKey(this.facts.spki);
      this.jwk = undefined;
    }
    return this.key;
  }

  /** "rsa", "ec", … as node names them. */
  get keyType(): string | undefined {
    if (this.key !== undefined) return this.key.asymmetricKeyType;
    return this.jwk?.kty === "RSA" ? "rsa" : "ec";
  }

  oneOffKey(): VerifyKey {
    if (this.key !== undefined) return this.key;
    return this.jwk !== undefined ? { key: this.jwk, format: "jwk" } : { key: Buffer.from(this.facts.spki), format: "der", type: "spki" };
  }
}

function importKey(spki: Uint8Array): KeyObject {
  try {
    return importSpki(spki);
  } catch (error) {
    throw new DerError(`the certificate's public key cannot be read (${error instanceof Error ? error.message : String(error)})`);
  }
}

export type ChainFailure = "untrusted-certificate" | "certificate-usage" | "malformed-certificate";

export type ChainResult =
  | { ok: true; notBefore: Date; notAfter: Date }
  | { ok: false; reason: ChainFailure; detail: string };

export function sha256Hex(der: Uint8Array): string {
  return hash("sha256", der, "hex");
}

/** Parses a certificate for the verifier; throws DerError when it is not one (or its key cannot be read). */
export function parseCertificate(der: Uint8Array, fingerprint = sha256Hex(der)): ParsedCertificate {
  return new ParsedCertificate(der, fingerprint, readCertificateFacts(der));
}

function issuedBy(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  return isIssuedBy(child.der, { der: issuer.der, publicKey: issuer.publicKey, subjectKeyId: issuer.facts.subjectKeyId, keyCertSign: issuer.facts.keyUsage?.keyCertSign });
}

/**
 * Finds a path leaf -> (intermediates) -> anchor where each certificate is issued and signed by the next, and
 * returns the window in which every certificate on it is valid. Usage of the leaf is checked first.
 */
export function buildChain(
  leaf: ParsedCertificate,
  intermediates: readonly ParsedCertificate[],
  anchors: readonly ParsedCertificate[],
  maxIntermediates: number,
): ChainResult {
  const usage = identityUsageProblem(leaf.facts);
  if (usage !== undefined) return { ok: false, reason: "certificate-usage", detail: usage };

  const path: ParsedCertificate[] = [leaf];
  let current = leaf;
  for (;;) {
    const anchor = anchors.find((a) => issuedBy(current, a));
    if (anchor !== undefined) {
      path.push(anchor);
      let notBefore = path[0]?.facts.notBefore ?? leaf.facts.notBefore;
      let notAfter = path[0]?.facts.notAfter ?? leaf.facts.notAfter;
      for (const c of path) {
        if (c.facts.notBefore > notBefore) notBefore = c.facts.notBefore;
        if (c.facts.notAfter < notAfter) notAfter = c.facts.notAfter;
      }
      return { ok: true, notBefore, notAfter };
    }
    if (path.length > maxIntermediates) break;
    const next = intermediates.find((c) => c.facts.isCa && !path.includes(c) && issuedBy(current, c));
    if (next === undefined) break;
    path.push(next);
    current = next;
  }
  let issuerName: string;
  try {
    issuerName = nameToString(leaf.facts.issuer);
  } catch {
    issuerName = "unreadable";
  }
  return {
    ok: false,
    reason: "untrusted-certificate",
    detail: `no path from the certificate (issuer ${issuerName}) to a trusted CA`,
  };
}
