// PEM (RFC 7468) <-> DER, and certificate fingerprints.

import { createHash } from "node:crypto";

export class PemError extends Error {
  override readonly name = "PemError";
}

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in the text, in order. Text outside the blocks (e.g. openssl's "Bag Attributes") is ignored. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = (m[2] ?? "").replace(/[\r\n\t ]/g, "");
    // Headers (RFC 1421 "Proc-Type:" etc.) mean an encrypted legacy key; we do not handle those here.
    if (body.includes(":")) throw new PemError(`PEM block "${m[1]}" has headers (encrypted keys are not supported)`);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new PemError(`PEM block "${m[1]}" is not valid base64`);
    out.push({ label: m[1]!, der: new Uint8Array(Buffer.from(body, "base64")) });
  }
  return out;
}

/** DER of the first block with the given label (any label when omitted). */
export function pemToDer(text: string, label?: string): Uint8Array {
  const block = pemBlocks(text).find((b) => label === undefined || b.label === label);
  if (!block) throw new PemError(label ? `no "${label}" PEM block found` : "no PEM block found");
  return block.der;
}

export function derToPem(der: Uint8Array, label = "CERTIFICATE"): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Accepts a certificate as DER bytes or PEM text/bytes and returns DER. */
export function certificateDer(input: Uint8Array | string): Uint8Array {
  if (typeof input === "string") return pemToDer(input, "CERTIFICATE");
  if (input[0] === 0x30) return input;
  return pemToDer(Buffer.from(input).toString("latin1"), "CERTIFICATE");
}

/** SHA-256 of the DER encoding, lowercase hex: the identity Orchard binds to an enrollment. */
export function certificateFingerprint(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}
