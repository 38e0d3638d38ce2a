// The device-identity check the MDM routes use: Mdm-Signature, TLS client certificates and certificates
// forwarded by a trusted proxy, all verified against Orchard's CA (and configured extra CAs) by the cached
// verifier in src/pki/mdm-signature.ts.
import { createMdmSignatureVerifier } from "../pki/mdm-signature.ts";
import { parseClientCertificateHeader } from "../pki/mdm-signature-cert-header.ts";
import type { DeviceCertificateVerifier, IdentityResult } from "../http/mdm-device-request.ts";

export function createDeviceCertificateVerifier(trustedCaDers: Uint8Array[], cacheSize?: number): DeviceCertificateVerifier {
  const v = createMdmSignatureVerifier({ trustedCaDers, ...(cacheSize ? { cacheSize } : {}) });
  const adapt = (r: { ok: true; certDer: Uint8Array; fingerprint: string } | { ok: false; reason: string; detail: string }): IdentityResult =>
    r.ok ? { ok: true, certDer: r.certDer, fingerprint: r.fingerprint } : { ok: false, reason: `${r.reason}: ${r.detail}` };
  return {
    verifySignature: (header, body) => adapt(v.verify(header, body)),
    verifyForwarded: (header) => {
      const parsed = parseClientCertificateHeader(header);
      return parsed.ok ? adapt(v.verifyIdentityCertificate(parsed.certDer, parsed.chain)) : { ok: false, reason: `${parsed.reason}: ${parsed.detail}` };
    },
    verifyCertificate: (der) => adapt(v.verifyIdentityCertificate(der)),
  };
}
