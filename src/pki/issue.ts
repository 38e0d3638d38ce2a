// Building and signing X.509 certificates: the generic builder and the certificate profiles Orchard
// issues (device identity, TLS server, SCEP RA, profile signing).
//
// The TBSCertificate is assembled from DER pieces (names and public keys are copied as bytes from the
// CSR or key) and signed with node:crypto, so issuing a device certificate costs one signature
// (~1 ms for RSA-2048) rather than the ~3 ms @peculiar/x509's WebCrypto path measured here.

import { randomBytes, type KeyObject } from "node:crypto";
import { bitString, explicit, integer, parseAsn1, readOid, sequence, time } from "./der.ts";
import {
  authorityKeyIdentifier,
  basicConstraints,
  encodeExtensions,
  extendedKeyUsage,
  keyIdentifier,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
  type Extension,
  type GeneralName,
  type KeyUsage,
} from "./extensions.ts";
import { certificateSubjectKeyId, parseCertificate, type Certificate } from "./certificate.ts";
import { generatePrivateKey, spkiDer, type KeySpec } from "./keys.ts";
import { encodeName } from "./names.ts";
import { OID } from "./oids.ts";
import { signData, signatureAlgorithmIdentifier, type DigestName } from "./signature-algorithms.ts";

/** A certificate together with the private key that signs in its name. */
export interface SigningIdentity {
  certDer: Uint8Array;
  key: KeyObject;
  /** Certificates above `certDer`, nearest first (intermediates, optionally the root). */
  chainDer?: Uint8Array[];
}

export interface CertificateTemplate {
  /** Subject as an RFC 4514 string or DER. */
  subject: string | Uint8Array;
  /** Public key to certify: a KeyObject (private keys are reduced to their public half) or SPKI DER. */
  publicKey: KeyObject | Uint8Array;
  extensions: Extension[];
  /** Defaults to now minus 5 minutes, tolerating client clock skew. */
  notBefore?: Date;
  notAfter?: Date;
  /** Used when notAfter is absent. */
  validityDays?: number;
  /** Positive serial number magnitude; a random 16-octet one by default. */
  serialNumber?: Uint8Array;
  hash?: DigestName;
}

export const DAY_MS = 86_400_000;
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * A random positive 128-bit serial number (RFC 5280 allows up to 20 octets; CA/B asks for 64 bits of
 * entropy). The top bit is cleared so the INTEGER stays positive and the next one set so its length is fixed.
 */
export function randomSerialNumber(): Uint8Array {
  const s = new Uint8Array(randomBytes(16));
  s[0] = (s[0]! & 0x7f) | 0x40;
  return s;
}

/**
 * Signs a certificate. `issuer` is the issuing identity; for a self-signed certificate pass
 * `{ selfSigned: key }`, whose key must be the private half of `template.publicKey`.
 */
export function buildCertificate(
  template: CertificateTemplate,
  issuer: SigningIdentity | { selfSigned: KeyObject },
): Uint8Array {
  const hash = template.hash ?? "sha256";
  const signingKey = "selfSigned" in issuer ? issuer.selfSigned : issuer.key;
  const subjectDer = typeof template.subject === "string" ? encodeName(template.subject) : template.subject;
  const issuerDer = "selfSigned" in issuer ? subjectDer : parseCertificate(issuer.certDer).subjectDer;
  const spki = template.publicKey instanceof Uint8Array ? template.publicKey : spkiDer(template.publicKey);
  parseAsn1(spki); // reject malformed key bytes before they are signed over
  const notBefore = template.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS);
  const notAfter = template.notAfter ?? new Date(Date.now() + (template.validityDays ?? 365) * DAY_MS);
  if (notAfter.getTime() <= notBefore.getTime()) throw new RangeError("certificate validity ends before it starts");
  const sigAlg = signatureAlgorithmIdentifier(signingKey, hash);
  const tbs = sequence(
    explicit(0, integer(2)), // v3
    integer(template.serialNumber ?? randomSerialNumber()),
    sigAlg,
    issuerDer,
    sequence(time(notBefore), time(notAfter)),
    subjectDer,
    spki,
    ...(template.extensions.length > 0 ? [explicit(3, encodeExtensions(template.extensions))] : []),
  );
  const signature = signData(signingKey, hash, tbs);
  return sequence(tbs, sigAlg, bitString(signature));
}

/** Extensions every issued (non-self-signed) certificate carries: key identifiers linking it to its issuer. */
function linkExtensions(spki: Uint8Array, issuerCert: Certificate): Extension[] {
  const issuerKeyId = certificateSubjectKeyId(issuerCert) ?? keyIdentifier(issuerCert.spkiDer);
  return [subjectKeyIdentifier(spki), authorityKeyIdentifier(issuerKeyId)];
}

function spkiOf(publicKey: KeyObject | Uint8Array): Uint8Array {
  return publicKey instanceof Uint8Array ? publicKey : spkiDer(publicKey);
}

function isRsaSpki(spki: Uint8Array): boolean {
  return readOid(parseAsn1(spki).children[0]?.children[0], "SPKI algorithm") === OID.rsaEncryption;
}

/** Key usages for a leaf key: RSA keys sign and wrap keys; EC keys cannot encipher, so they only sign. */
function leafKeyUsage(spki: Uint8Array): KeyUsage[] {
  return isRsaSpki(spki) ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"];
}

interface LeafOptions {
  subject: string | Uint8Array;
  publicKey: KeyObject | Uint8Array;
  validityDays?: number;
  notAfter?: Date;
  serialNumber?: Uint8Array;
}

// ---- certificate profiles --------------------------------------------------------------------

export interface DeviceCertificateOptions extends LeafOptions {
  /** SANs to include; a CSR's requested names are only copied when the caller decides to pass them. */
  subjectAltNames?: GeneralName[];
}

/**
 * A device identity certificate: TLS client authentication and CMS signing (Mdm-Signature), with
 * digitalSignature + keyEncipherment as Apple's SCEP payload requests with Key Usage 5.
 */
export function issueDeviceCertificate(ca: SigningIdentity, opts: DeviceCertificateOptions): Uint8Array {
  const spki = spkiOf(opts.publicKey);
  const caCert = parseCertificate(ca.certDer);
  const extensions: Extension[] = [
    basicConstraints(false),
    keyUsage(leafKeyUsage(spki)),
    extendedKeyUsage([OID.clientAuth]),
    ...linkExtensions(spki, caCert),
  ];
  if (opts.subjectAltNames && opts.subjectAltNames.length > 0) extensions.push(subjectAltName(opts.subjectAltNames));
  return buildCertificate({ ...leafTemplate(opts, 365), publicKey: spki, extensions }, ca);
}

export interface ServerCertificateOptions extends Omit<LeafOptions, "subject" | "publicKey"> {
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Defaults to CN=<first DNS name or IP>. */
  subject?: string | Uint8Array;
  /** Key to certify; a new key of `keySpec` (default RSA 2048) is generated when absent. */
  publicKey?: KeyObject | Uint8Array;
  keySpec?: KeySpec;
}

/** A TLS server certificate (serverAuth) for the given DNS names and IP addresses. */
export async function issueServerCertificate(
  ca: SigningIdentity,
  opts: ServerCertificateOptions,
): Promise<{ certDer: Uint8Array; key?: KeyObject }> {
  const names: GeneralName[] = [
    ...(opts.dnsNames ?? []).map((value): GeneralName => ({ type: "dns", value })),
    ...(opts.ipAddresses ?? []).map((value): GeneralName => ({ type: "ip", value })),
  ];
  if (names.length === 0) throw new RangeError("a server certificate needs at least one DNS name or IP address");
  const key = opts.publicKey ? undefined : await generatePrivateKey(opts.keySpec ?? { type: "rsa", bits: 2048 });
  const spki = spkiOf(opts.publicKey ?? key!);
  const caCert = parseCertificate(ca.certDer);
  const subject = opts.subject ?? `CN=${opts.dnsNames?.[0] ?? opts.ipAddresses?.[0] ?? ""}`;
  const certDer = buildCertificate(
    {
      ...leafTemplate({ ...opts, subject, publicKey: spki }, 397),
      extensions: [
        basicConstraints(false),
        keyUsage(leafKeyUsage(spki)),
        extendedKeyUsage([OID.serverAuth]),
        ...linkExtensions(spki, caCert),
        subjectAltName(names),
      ],
    },
    ca,
  );
  return key ? { certDer, key } : { certDer };
}

export interface RaCertificateOptions extends Omit<LeafOptions, "subject" | "publicKey"> {
  subject?: string | Uint8Array;
  /** The RA's own RSA key; a new RSA-2048 key is generated when absent. Never the CA key. */
  key?: KeyObject;
}

/**
 * The SCEP RA certificate: clients encrypt their requests to it (keyEncipherment) and CertReps are
 * signed with it (digitalSignature). It has its own RSA key so the CA key never decrypts anything.
 */
export async function issueRaCertificate(ca: SigningIdentity, opts: RaCertificateOptions = {}): Promise<SigningIdentity> {
  const key = opts.key ?? (await generatePrivateKey({ type: "rsa", bits: 2048 }));
  if (key.asymmetricKeyType !== "rsa") throw new RangeError("the SCEP RA key must be an RSA key (SCEP key transport)");
  if (Buffer.from(spkiDer(key)).equals(Buffer.from(parseCertificate(ca.certDer).spkiDer))) {
    throw new RangeError("the SCEP RA must not share the CA key");
  }
  const spki = spkiDer(key);
  const caCert = parseCertificate(ca.certDer);
  const certDer = buildCertificate(
    {
      ...leafTemplate({ ...opts, subject: opts.subject ?? "CN=Orchard SCEP RA", publicKey: spki }, 3 * 365),
      extensions: [
        basicConstraints(false),
        keyUsage(["digitalSignature", "keyEncipherment"]),
        ...linkExtensions(spki, caCert),
      ],
    },
    ca,
  );
  return { certDer, key, chainDer: [ca.certDer, ...(ca.chainDer ?? [])] };
}

export interface ProfileSigningOptions extends Omit<LeafOptions, "subject" | "publicKey"> {
  subject?: string | Uint8Array;
  key?: KeyObject;
  keySpec?: KeySpec;
}

/**
 * The certificate that signs configuration profiles (CMS SignedData). emailProtection is the
 * extended key usage S/MIME verifiers (openssl smime, macOS) check for a CMS signer.
 */
export async function issueProfileSigningCertificate(
  ca: SigningIdentity,
  opts: ProfileSigningOptions = {},
): Promise<SigningIdentity> {
  const key = opts.key ?? (await generatePrivateKey(opts.keySpec ?? { type: "rsa", bits: 2048 }));
  const spki = spkiDer(key);
  const caCert = parseCertificate(ca.certDer);
  const certDer = buildCertificate(
    {
      ...leafTemplate({ ...opts, subject: opts.subject ?? "CN=Orchard Profile Signing", publicKey: spki }, 2 * 365),
      extensions: [
        basicConstraints(false),
        keyUsage(["digitalSignature"]),
        extendedKeyUsage([OID.emailProtection]),
        ...linkExtensions(spki, caCert),
      ],
    },
    ca,
  );
  return { certDer, key, chainDer: [ca.certDer, ...(ca.chainDer ?? [])] };
}

function leafTemplate(opts: LeafOptions, defaultDays: number): Omit<CertificateTemplate, "extensions"> {
  const t: Omit<CertificateTemplate, "extensions"> = {
    subject: opts.subject,
    publicKey: opts.publicKey,
    validityDays: opts.validityDays ?? defaultDays,
  };
  if (opts.notAfter) t.notAfter = opts.notAfter;
  if (opts.serialNumber) t.serialNumber = opts.serialNumber;
  return t;
}

/**
 * A self-signed certificate for a key, as a SCEP client presents with PKCSReq before it has a
 * certificate (RFC 8894 2.3). No extensions: it only carries the key and a name.
 */
export function selfSignedCertificate(key: KeyObject, subject: string | Uint8Array, validityDays = 1): Uint8Array {
  return buildCertificate({ subject, publicKey: key, extensions: [], validityDays }, { selfSigned: key });
}
