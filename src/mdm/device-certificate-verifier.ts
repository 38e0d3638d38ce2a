// The device-identity check the MDM routes use: Mdm-Signature, TLS client certificates and certificates
// forwarded by a trusted proxy, all verified against Orchard's CA (and configured extra CAs) by the cached
// verifier in src/pki/mdm-signature.ts, then refused when revoked (the revocation list is kept current on
// every replica by src/pki/certificate-service.ts).
import { createMdmSignatureVerifier } from "../pki/mdm-signature.ts";
import { parseClientCertificateHeader } from "../pki/mdm-signature-cert-header.ts";
import type { DeviceCertificateVerifier, IdentityResult } from "./device-identity.ts";

/** Whether a certificate, by SHA-256 fingerprint, has been revoked. */
export type RevocationCheck = (fingerprint: string) => boolean;

export function createDeviceCertificateVerifier(trustedCaDers: Uint8Array[], cacheSize?: number, isRevoked: RevocationCheck = () => false): DeviceCertificateVerifier {
  const v = createMdmSignatureVerifier({ trustedCaDers, ...(cacheSize ? { cacheSize } : {}) });
  const adapt = (r: { ok: true; certDer: Uint8Array; fingerprint: string } | { ok: false; reason: string; detail: string }): IdentityResult => {
    if (!r.ok) return { ok: false, reason: `${r.reason}: ${r.detail}` };
    if (isRevoked(r.fingerprint)) return { ok: false, reason: `certificate revoked: the identity certificate ${r.fingerprint.slice(0, 16)}… has been revoked by an administrator` };
    return { ok: true, certDer: r.certDer, fingerprint: r.fingerprint };
  };
  return {
    verifySignature: (header, body) => adapt(v.verify(header, body)),
    verifyForwarded: (header) => {
      const parsed = parseClientCertificateHeader(header);
      return parsed.ok ? adapt(v.verifyIdentityCertificate(parsed.certDer, parsed.chain)) : { ok: false, reason: `${parsed.reason}: ${parsed.detail}` };
    },
    verifyCertificate: (der) => adapt(v.verifyIdentityCertificate(der)),
  };
}
