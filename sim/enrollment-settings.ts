// What a device needs to enroll, as Apple's com.apple.mdm payload names it, plus the certificates to trust and
// where its identity comes from. Enrollment profiles (.mobileconfig) are turned into this; tests may also build
// it directly (a ready identity certificate and key) to enroll a device without a profile or a SCEP server.
import type { KeyObject } from "node:crypto";
import { isLoopback } from "./mdm-transport.ts";

/** The PayloadContent of a com.apple.security.scep payload, as Apple names its keys. */
export interface ScepPayloadContent {
  URL: string;
  Name?: string;
  /** X.500 name as Apple writes it: [[["O", "Orchard"]], [["CN", "device"]]]. */
  Subject?: string[][][];
  Challenge?: string;
  Keysize?: number;
  "Key Type"?: string;
  "Key Usage"?: number;
  CAFingerprint?: Uint8Array;
  Retries?: number;
  RetryDelay?: number;
  SubjectAltName?: { rfc822Name?: string | string[]; dNSName?: string | string[]; uniformResourceIdentifier?: string | string[]; ntPrincipalName?: string | string[] };
}

export interface ReadyIdentity {
  /** DER bytes or PEM. */
  certificate: Uint8Array | string;
  /** KeyObject or PEM. */
  key: KeyObject | string;
  chain?: (Uint8Array | string)[];
}

export type EnrollmentIdentity = ReadyIdentity | { scep: ScepPayloadContent };

export interface EnrollmentSettings {
  ServerURL: string;
  CheckInURL?: string;
  Topic: string;
  /** Apple's default is false: the identity is then presented as the TLS client certificate. */
  SignMessage?: boolean;
  /** Apple requires it; the sim defaults to every right (8191). */
  AccessRights?: number;
  CheckOutWhenRemoved?: boolean;
  ServerCapabilities?: string[];
  UseDevelopmentAPNS?: boolean;
  /** CA certificates to trust for the server's TLS and for the SCEP server (DER or PEM). */
  trust?: (Uint8Array | string)[];
  identity: EnrollmentIdentity;
  /** How the enrollment shows in ProfileList; generated when absent. */
  profile?: {
    PayloadIdentifier?: string;
    PayloadUUID?: string;
    PayloadDisplayName?: string;
    PayloadOrganization?: string;
    PayloadDescription?: string;
    PayloadRemovalDisallowed?: boolean;
  };
}

export class EnrollmentError extends Error {
  override readonly name = "EnrollmentError";
}

export function isReadyIdentity(identity: EnrollmentIdentity): identity is ReadyIdentity {
  return "certificate" in identity;
}

/**
 * Apple's rules a device applies before it accepts an MDM payload. Throws EnrollmentError naming the problem.
 * `allowInsecureHttp` admits plain http to any host (loopback is always allowed, for tests and demos).
 */
export function checkEnrollmentSettings(settings: EnrollmentSettings, allowInsecureHttp = false): void {
  checkUrl("ServerURL", settings.ServerURL, allowInsecureHttp);
  if (settings.CheckInURL !== undefined) checkUrl("CheckInURL", settings.CheckInURL, allowInsecureHttp);
  if (typeof settings.Topic !== "string" || settings.Topic.length === 0) throw new EnrollmentError("Topic is required");
  const rights = settings.AccessRights ?? 8191;
  if (!Number.isInteger(rights) || rights <= 0 || rights > 8191) throw new EnrollmentError(`AccessRights ${rights} is not a value between 1 and 8191`);
  // com.apple.mdm AccessRights: "Must not be zero. If 2 is specified, 1 must also be specified. If 128 is
  // specified, 64 must also be specified."
  if (rights & 2 && !(rights & 1)) throw new EnrollmentError("AccessRights: bit 2 (install/remove profiles) requires bit 1 (inspect profiles)");
  if (rights & 128 && !(rights & 64)) throw new EnrollmentError("AccessRights: bit 128 (install/remove provisioning profiles) requires bit 64");
}

function checkUrl(name: string, value: string, allowInsecureHttp: boolean): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new EnrollmentError(`${name} is not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol === "https:") return;
  if (url.protocol === "http:" && (allowInsecureHttp || isLoopback(url.hostname))) return;
  throw new EnrollmentError(`${name} must be an https URL (plain http only to loopback): ${value}`);
}
