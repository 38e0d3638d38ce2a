// Path building from a device identity certificate to one of the configured trust anchors (Orchard's CA and
// any extra CAs). Done once per certificate (the verifier caches the outcome), so it may use node:crypto's
// X509Certificate: checkIssued() matches issuer/subject names and key identifiers, verify() checks the signature.

import { X509Certificate, createHash, createPublicKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { DerError } from "./der-reader.ts";
import { identityUsageProblem, readCertificateFacts } from "./mdm-signature-cert.ts";
import type { CertificateFacts } from "./mdm-signature-cert.ts";

export interface ParsedCertificate {
  der: Uint8Array;
  fingerprint: string;
  /** Made on first use (chain building). */
  readonly x509: X509Certificate;
  /**
   * Lets node's X509Certificate go (it is made again if needed): ~6 KB of native memory that a device
   * certificate, once its chain is decided, never needs again, where a cache holds thousands of them.
   */
  releaseX509(): void;
  publicKey: KeyObject;
  facts: CertificateFacts;
}

export type ChainFailure = "untrusted-certificate" | "certificate-usage" | "malformed-certificate";

export type ChainResult =
  | { ok: true; notBefore: Date; notAfter: Date }
  | { ok: false; reason: ChainFailure; detail: string };

export function sha256Hex(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

/**
 * Parses a certificate for the verifier; throws DerError (or node's error, wrapped) when it is not one.
 * Building node's X509Certificate costs ~170 µs, several times the rest: it is made only when a chain has to be
 * built (first sight of a certificate whose trust is not already known), never for a signature check.
 */
export function parseCertificate(der: Uint8Array, fingerprint = sha256Hex(der)): ParsedCertificate {
  const facts = readCertificateFacts(der);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(facts.spki), format: "der", type: "spki" });
  } catch (error) {
    throw new DerError(`the certificate's public key cannot be read (${error instanceof Error ? error.message : String(error)})`);
  }
  let x509: X509Certificate | undefined;
  return {
    der,
    fingerprint,
    publicKey,
    facts,
    get x509(): X509Certificate {
      if (x509 === undefined) {
        try {
          x509 = new X509Certificate(der);
        } catch (error) {
          throw new DerError(`not a certificate node:crypto can read (${error instanceof Error ? error.message : String(error)})`);
        }
      }
      return x509;
    },
    releaseX509() {
      x509 = undefined;
    },
  };
}

function issuedBy(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  try {
    return child.x509.checkIssued(issuer.x509) && child.x509.verify(issuer.publicKey);
  } catch {
    return false;
  }
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
  const issuerName = leaf.x509.issuer.replace(/\n/g, ", ");
  return {
    ok: false,
    reason: "untrusted-certificate",
    detail: `no path from the certificate (issuer ${issuerName}) to a trusted CA`,
  };
}
