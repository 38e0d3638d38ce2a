// Reading a configuration profile (.mobileconfig) as a device does: a CMS SignedData wrapping the plist, or the
// plist itself. A signature that does not verify is refused outright; a valid signature by a certificate the
// device does not trust still installs (iOS shows it as "Not Verified"), and the result says which it was.
import { parseCertificate, isIssuedBy, isValidAt, sameCertificate, type Certificate } from "../src/pki/certificate.ts";
import { CmsError } from "../src/pki/cms.ts";
import { verifySignedData } from "../src/pki/cms-signed-data.ts";
import { parsePlist, PlistError, type PlistDict, type PlistValue } from "../src/wire/plist.ts";

export class ProfileError extends Error {
  override readonly name = "ProfileError";
}

export interface ProfilePayload extends PlistDict {
  PayloadType: string;
  PayloadIdentifier: string;
  PayloadUUID: string;
}

export interface ReadProfile {
  /** The outer dictionary (PayloadType "Configuration"). */
  profile: PlistDict;
  identifier: string;
  uuid: string;
  payloads: ProfilePayload[];
  signed: boolean;
  /** Signer first, then the other certificates the SignedData carried (DER). */
  signerCertificates: Uint8Array[];
  /** The signer chains to a trusted certificate (or the profile's own root payload, when allowed). */
  signerTrusted: boolean;
}

export interface ReadProfileOptions {
  /** Certificates the device trusts (DER). */
  trust?: readonly Uint8Array[];
  /** Also trust root certificates carried by the profile itself (what a user accepts by installing it). */
  trustOwnRoots?: boolean;
  /** Refuse a signed profile whose signer is not trusted. */
  requireTrustedSigner?: boolean;
}

export function readProfile(bytes: Uint8Array, options: ReadProfileOptions = {}): ReadProfile {
  let content = bytes;
  let signed = false;
  let signerCertificates: Uint8Array[] = [];
  let signer: Certificate | undefined;
  let embedded: Uint8Array[] = [];
  // A DER SEQUENCE is a CMS ContentInfo; a plist starts with "<?xml", "<plist" or "bplist".
  if (bytes[0] === 0x30) {
    try {
      const verified = verifySignedData(bytes);
      content = verified.content;
      signer = verified.signerCert;
      embedded = verified.certificates;
      signerCertificates = [verified.signerCertDer, ...verified.certificates.filter((c) => !sameCertificate(c, verified.signerCertDer))];
      signed = true;
    } catch (e) {
      if (e instanceof CmsError) throw new ProfileError(`the profile's signature is not valid: ${e.message}`);
      throw new ProfileError(`the profile is neither a plist nor a readable signed profile: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  let value: PlistValue;
  try {
    value = parsePlist(content);
  } catch (e) {
    if (e instanceof PlistError) throw new ProfileError(`the profile is not a valid plist: ${e.message}`);
    throw e;
  }
  if (!isDict(value)) throw new ProfileError("the profile is not a dictionary");
  if (value.PayloadType !== "Configuration") throw new ProfileError(`the profile's PayloadType is ${JSON.stringify(value.PayloadType)}, not "Configuration"`);
  const identifier = requireString(value, "PayloadIdentifier", "the profile");
  const uuid = requireString(value, "PayloadUUID", "the profile");
  if (value.PayloadVersion !== undefined && value.PayloadVersion !== 1) throw new ProfileError(`unsupported profile PayloadVersion ${String(value.PayloadVersion)}`);
  if (value.EncryptedPayloadContent !== undefined) throw new ProfileError("encrypted profiles are not supported by the virtual device");
  const content_ = value.PayloadContent ?? [];
  if (!Array.isArray(content_)) throw new ProfileError("PayloadContent is not an array");
  const payloads = content_.map((p, i): ProfilePayload => {
    if (!isDict(p)) throw new ProfileError(`PayloadContent[${i}] is not a dictionary`);
    const where = `PayloadContent[${i}]`;
    requireString(p, "PayloadType", where);
    requireString(p, "PayloadIdentifier", where);
    requireString(p, "PayloadUUID", where);
    return p as ProfilePayload;
  });
  const uuids = new Set<string>();
  for (const p of payloads) {
    if (uuids.has(p.PayloadUUID)) throw new ProfileError(`two payloads share the PayloadUUID ${p.PayloadUUID}`);
    uuids.add(p.PayloadUUID);
  }

  let signerTrusted = false;
  if (signer) {
    const anchors = [...(options.trust ?? [])];
    if (options.trustOwnRoots) for (const p of payloads) if (p.PayloadType === "com.apple.security.root" && p.PayloadContent instanceof Uint8Array) anchors.push(p.PayloadContent);
    signerTrusted = chainsToAnchor(signer, embedded, anchors);
    if (!signerTrusted && options.requireTrustedSigner) throw new ProfileError("the profile is signed by a certificate the device does not trust");
  }
  return { profile: value, identifier, uuid, payloads, signed, signerCertificates, signerTrusted };
}

/** Walks issuer links through the embedded certificates (at most 5 levels) to one of the anchors. */
function chainsToAnchor(leaf: Certificate, embedded: readonly Uint8Array[], anchors: readonly Uint8Array[]): boolean {
  const anchorCerts = anchors.flatMap((der) => tryParse(der));
  const pool = embedded.flatMap((der) => tryParse(der));
  let current: Certificate | undefined = leaf;
  for (let depth = 0; current && depth < 5; depth++) {
    if (!isValidAt(current)) return false;
    if (anchorCerts.some((a) => sameCertificate(a.der, current!.der) || isIssuedBy(current!, a))) return true;
    const next: Certificate | undefined = pool.find((c) => !sameCertificate(c.der, current!.der) && isIssuedBy(current!, c));
    current = next;
  }
  return false;
}

function tryParse(der: Uint8Array): Certificate[] {
  try {
    return [parseCertificate(der)];
  } catch {
    return [];
  }
}

function requireString(d: PlistDict, key: string, where: string): string {
  const v = d[key];
  if (typeof v !== "string" || v.length === 0) throw new ProfileError(`${where} has no ${key}`);
  return v;
}

export function isDict(v: PlistValue | undefined): v is PlistDict {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date) && Object.getPrototypeOf(v) === Object.prototype;
}
