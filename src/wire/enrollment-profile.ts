// The enrollment .mobileconfig: a Configuration profile holding, in this order, the CA (so the device trusts
// Orchard's TLS), a SCEP payload (the device's identity) and the MDM payload that uses that identity.
// Built as a typed plist value; signing and serving are the caller's business.
import { createHash } from "node:crypto";
import type { PlistDict } from "./plist.ts";

export interface EnrollmentProfileContent {
  /** Reverse-DNS identifier of the whole profile; payload identifiers hang below it. */
  identifier: string;
  /** Stable per profile version (see payloadUuid). */
  uuids: { profile: string; root: string; scep: string; mdm: string };
  displayName: string;
  organization: string;
  description: string;
  removalDisallowed: boolean;
  caCertDer: Uint8Array;
  caName: string;
  scep: {
    url: string;
    challenge: string;
    keysize: 2048 | 4096;
    /** RFC 4514-ish "CN=x,O=y", already expanded. */
    subject: string;
    name: string;
  };
  mdm: {
    serverUrl: string;
    checkInUrl?: string;
    topic: string;
    accessRights: number;
    signMessage: boolean;
    serverCapabilities: string[];
    checkOutWhenRemoved: boolean;
    useDevelopmentApns: boolean;
  };
}

/** A UUID derived from a seed, so the same profile version always carries the same payload UUIDs. */
export function payloadUuid(seed: string, version: number, role: string): string {
  const h = createHash("sha256").update(`${seed}:${version}:${role}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50; // version nibble 5 (name-based, SHA)
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = h.subarray(0, 16).toString("hex").toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Apple's SCEP Subject: an array of RDNs, each an array of [type, value] pairs:
 * "CN=Device 1,O=Acme" → [[["CN","Device 1"]],[["O","Acme"]]]. Commas inside values can be escaped as "\,".
 */
export function scepSubject(subject: string): string[][][] {
  const rdns: string[][][] = [];
  for (const part of subject.split(/(?<!\\),/)) {
    const m = /^\s*([A-Za-z0-9.]+)\s*=(.*)$/.exec(part);
    if (!m) throw new Error(`subject part "${part}" is not TYPE=value`);
    rdns.push([[m[1]!.toUpperCase(), m[2]!.replace(/\\,/g, ",").trim()]]);
  }
  return rdns;
}

export function buildEnrollmentProfile(c: EnrollmentProfileContent): PlistDict {
  const root: PlistDict = {
    PayloadType: "com.apple.security.root",
    PayloadVersion: 1,
    PayloadIdentifier: `${c.identifier}.ca`,
    PayloadUUID: c.uuids.root,
    PayloadDisplayName: c.caName,
    PayloadDescription: "Trust for the MDM server's TLS certificate",
    PayloadCertificateFileName: "orchard-ca.cer",
    PayloadContent: c.caCertDer,
  };
  const scep: PlistDict = {
    PayloadType: "com.apple.security.scep",
    PayloadVersion: 1,
    PayloadIdentifier: `${c.identifier}.scep`,
    PayloadUUID: c.uuids.scep,
    PayloadDisplayName: "Device identity",
    PayloadDescription: "Requests the certificate this device identifies itself with",
    PayloadContent: {
      URL: c.scep.url,
      Name: c.scep.name,
      Subject: scepSubject(c.scep.subject),
      Challenge: c.scep.challenge,
      Keysize: c.scep.keysize,
      "Key Type": "RSA",
      // 1 (signing) + 4 (encryption): the identity signs Mdm-Signature and authenticates TLS.
      "Key Usage": 5,
    },
  };
  const mdm: PlistDict = {
    PayloadType: "com.apple.mdm",
    PayloadVersion: 1,
    PayloadIdentifier: `${c.identifier}.mdm`,
    PayloadUUID: c.uuids.mdm,
    PayloadDisplayName: "Device management",
    PayloadDescription: `Enrolls this device in ${c.organization}'s device management`,
    IdentityCertificateUUID: c.uuids.scep,
    Topic: c.mdm.topic,
    ServerURL: c.mdm.serverUrl,
    ...(c.mdm.checkInUrl ? { CheckInURL: c.mdm.checkInUrl } : {}),
    AccessRights: c.mdm.accessRights,
    SignMessage: c.mdm.signMessage,
    ServerCapabilities: c.mdm.serverCapabilities,
    CheckOutWhenRemoved: c.mdm.checkOutWhenRemoved,
    UseDevelopmentAPNS: c.mdm.useDevelopmentApns,
  };
  return {
    PayloadType: "Configuration",
    PayloadVersion: 1,
    PayloadIdentifier: c.identifier,
    PayloadUUID: c.uuids.profile,
    PayloadDisplayName: c.displayName,
    PayloadOrganization: c.organization,
    PayloadDescription: c.description,
    PayloadScope: "System",
    ...(c.removalDisallowed ? { PayloadRemovalDisallowed: true } : {}),
    PayloadContent: [root, scep, mdm],
  };
}
