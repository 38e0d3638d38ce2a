// How a device proves who it is: the identity certificate it presents (TLS client certificate, a trusted
// proxy's header, or Mdm-Signature), verified against Orchard's CA (src/pki/mdm-signature.ts).

export interface DeviceIdentity {
  /** SHA-256 of the certificate's DER, hex. */
  fingerprint: string;
  certDer: Uint8Array;
}

export type IdentityResult = ({ ok: true } & DeviceIdentity) | { ok: false; reason: string };

/** Verifies the certificate a device presents. */
export interface DeviceCertificateVerifier {
  /** Mdm-Signature: base64 detached CMS SignedData over the exact body. */
  verifySignature(headerValue: string, body: Uint8Array): IdentityResult;
  /** A certificate presented over TLS (DER). */
  verifyCertificate(der: Uint8Array): IdentityResult;
  /** A certificate forwarded by a trusted proxy (RFC 9440 :base64:, URL-escaped PEM, …). */
  verifyForwarded(headerValue: string): IdentityResult;
}
