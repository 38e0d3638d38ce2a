// The signed push certificate request an MDM vendor makes from a customer's CSR, for Apple's Push
// Certificates Portal (Apple: "Setting up push notifications for your MDM customers", "Sign the CSR"):
//   1. the CSR in DER; 2. signed with the MDM vendor (CSR signing) certificate's private key, SHA256WithRSA;
//   3. the signature in base64; 4. the CSR in base64; 5. a plist {PushCertRequestCSR, PushCertCertificateChain,
//   PushCertSignature}, itself base64-encoded. The chain is PEM, from the vendor certificate up to and
//   including Apple's root, 64-character lines.
import type { KeyObject } from "node:crypto";
import { certificatePublicKey, isIssuedBy, isSelfIssued, parseCertificate, subjectString } from "../pki/certificate.ts";
import { CsrError, parseCsr } from "../pki/csr.ts";
import { keysMatch } from "../pki/keys.ts";
import { derToPem } from "../pki/pem.ts";
import { signData } from "../pki/signature-algorithms.ts";
import { buildPlist } from "../wire/plist.ts";

export class PushRequestError extends Error {
  override readonly name = "PushRequestError";
}

export interface PushCertificateRequestInput {
  /** The customer's CSR, DER. */
  csrDer: Uint8Array;
  /** The MDM vendor certificate (Apple's "MDM CSR" signing certificate), DER. */
  vendorCertDer: Uint8Array;
  vendorKey: KeyObject;
  /** The certificates above the vendor certificate: Apple's WWDR intermediate and Apple's root, DER. */
  chainDer?: Uint8Array[];
  /** Apple documents SHA256WithRSA; very old instructions said SHA1WithRSA. */
  digest?: "sha256" | "sha1";
}

export interface PushCertificateRequest {
  /** The plist (XML) before its base64 encoding, for inspection. */
  plist: string;
  /** What to upload to Apple's Push Certificates Portal. */
  encoded: string;
  /** Problems Apple's portal is likely to reject the request for (e.g. an incomplete chain). */
  warnings: string[];
}

export function buildPushCertificateRequest(input: PushCertificateRequestInput): PushCertificateRequest {
  let csr;
  try {
    csr = parseCsr(input.csrDer);
  } catch (e) {
    if (e instanceof CsrError || e instanceof Error) throw new PushRequestError(`the CSR is not a readable PKCS #10 request: ${e.message}`);
    throw e;
  }
  if (!csr.signatureValid) throw new PushRequestError("the CSR's own signature does not verify: it was altered or damaged");
  let vendor;
  try {
    vendor = parseCertificate(input.vendorCertDer);
  } catch (e) {
    throw new PushRequestError(`the vendor certificate is not readable: ${(e as Error).message}`);
  }
  if (input.vendorKey.type !== "private" || !keysMatch(input.vendorKey, certificatePublicKey(vendor))) {
    throw new PushRequestError(`the vendor private key does not belong to the vendor certificate "${subjectString(vendor)}"`);
  }
  if (input.vendorKey.asymmetricKeyType !== "rsa") throw new PushRequestError("the vendor key must be an RSA key (Apple requires SHA256WithRSA)");

  const chain = input.chainDer ?? [];
  const warnings: string[] = [];
  if (vendor.notAfter.getTime() < Date.now()) warnings.push(`the vendor certificate expired on ${vendor.notAfter.toISOString()}`);
  let below = vendor;
  for (const der of chain) {
    const c = parseCertificate(der);
    if (!isIssuedBy(below, c)) warnings.push(`"${subjectString(c)}" did not issue "${subjectString(below)}": the chain is out of order or wrong`);
    below = c;
  }
  if (!isSelfIssued(below)) warnings.push("the chain does not reach a root certificate: Apple expects the vendor certificate, Apple's WWDR intermediate and Apple's root (pass them with --chain)");

  const signature = signData(input.vendorKey, input.digest ?? "sha256", input.csrDer);
  const plist = buildPlist({
    PushCertRequestCSR: Buffer.from(input.csrDer).toString("base64"),
    PushCertCertificateChain: [input.vendorCertDer, ...chain].map((d) => derToPem(d)).join(""),
    PushCertSignature: Buffer.from(signature).toString("base64"),
  });
  return { plist, encoded: Buffer.from(plist, "utf8").toString("base64"), warnings };
}
