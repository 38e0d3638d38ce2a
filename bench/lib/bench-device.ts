// A benchmark device: what a real device keeps to talk to Orchard (UDID, identity certificate and key) and
// the Mdm-Signature signer over them. The signer encodes the certificate once, so each message costs one hash
// and one private-key operation, as on a device.
import { createHash, type KeyObject } from "node:crypto";
import { createMdmBodySigner, type MdmBodySigner } from "../../src/pki/mdm-signature-sign.ts";
import { buildPlist } from "../../src/wire/plist.ts";

export type IdentityKind = "rsa-2048-scep" | "rsa-2048-local" | "p256-local";

export interface BenchDevice {
  udid: string;
  serial: string;
  kind: IdentityKind;
  /** SHA-256 of the identity certificate, hex: what the server binds to the enrollment. */
  fingerprint: string;
  sign: MdmBodySigner;
  /** The device's Idle report and its signature: the bytes never change, so neither does the signature. */
  idle: { body: Buffer; signature: string };
}

export function benchDevice(udid: string, serial: string, kind: IdentityKind, certDer: Uint8Array, key: KeyObject): BenchDevice {
  const sign = createMdmBodySigner(certDer, key, { digest: "sha256" });
  const body = Buffer.from(buildPlist({ UDID: udid, Status: "Idle" }));
  const fingerprint = createHash("sha256").update(certDer).digest("hex");
  return { udid, serial, kind, fingerprint, sign, idle: { body, signature: sign(body) } };
}

/** "1,000 RSA-2048 (SCEP) + 9,000 P-256 (bench CA)": what a fleet is made of, for notes in the report. */
export function describeFleet(devices: readonly BenchDevice[]): string {
  const names: Record<IdentityKind, string> = { "rsa-2048-scep": "RSA-2048 by SCEP", "rsa-2048-local": "RSA-2048 from the bench CA", "p256-local": "P-256 from the bench CA" };
  const counts = new Map<IdentityKind, number>();
  for (const d of devices) counts.set(d.kind, (counts.get(d.kind) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n.toLocaleString("en-US")} ${names[k]}`).join(" + ");
}
