// The device-identity check the MDM routes use: Mdm-Signature, TLS client certificates and certificates
// forwarded by a trusted proxy, all verified against Orchard's CA (and configured extra CAs) by the cached
// verifier in src/pki/mdm-signature.ts.
import { createMdmSignatureVerifier } from "../pki/mdm-signature.ts";
import type { DeviceCertificateVerifier, IdentityResult } from "../http/mdm-routes.ts";
import { pemBlocks } from "../pki/pem.ts";

export function createDeviceCertificateVerifier(trustedCaDers: Uint8Array[]): DeviceCertificateVerifier {
  const v = createMdmSignatureVerifier({ trustedCaDers });
  const adapt = (r: { ok: true; certDer: Uint8Array; fingerprint: string } | { ok: false; reason: string; detail: string }): IdentityResult =>
    r.ok ? { ok: true, certDer: r.certDer, fingerprint: r.fingerprint } : { ok: false, reason: `${r.reason}: ${r.detail}` };
  return {
    verifySignature: (header, body) => adapt(v.verify(header, body)),
    verifyCertificate: (der) => adapt(v.verifyIdentityCertificate(der)),
    parseForwardedCertificate,
  };
}

/** A proxy's client-certificate header: RFC 9440 (":base64:") or URL-escaped PEM (nginx $ssl_client_escaped_cert). */
export function parseForwardedCertificate(value: string): Uint8Array | undefined {
  const v = value.trim();
  const sf = /^:([A-Za-z0-9+/]+={0,2}):$/.exec(v);
  if (sf?.[1]) return new Uint8Array(Buffer.from(sf[1], "base64"));
  let text: string;
  try {
    text = decodeURIComponent(v.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
  // Some proxies put the PEM on one line with spaces instead of newlines.
  const normalised = text.replace(/-----BEGIN CERTIFICATE-----\s*/, "-----BEGIN CERTIFICATE-----\n").replace(/\s*-----END CERTIFICATE-----/, "\n-----END CERTIFICATE-----").replace(/(?<=\n[^-]*) (?=[^-])/g, "\n");
  try {
    return pemBlocks(normalised).find((b) => b.label === "CERTIFICATE")?.der;
  } catch {
    return undefined;
  }
}
