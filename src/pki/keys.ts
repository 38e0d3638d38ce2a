// Key pairs as node:crypto KeyObjects: generation, import/export and a description of their type and size.

import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { importSpki } from "./spki-key.ts";

const generateKeyPairAsync = promisify(generateKeyPair);

export type KeySpec = { type: "rsa"; bits: 2048 | 3072 | 4096 } | { type: "ec"; curve: "P-256" };

export class KeyError extends Error {
  override readonly name = "KeyError";
}

/** Generates a private key off the event loop (a 4096-bit RSA key takes seconds). */
export async function generatePrivateKey(spec: KeySpec): Promise<KeyObject> {
  if (spec.type === "rsa") {
    if (![2048, 3072, 4096].includes(spec.bits)) throw new KeyError(`unsupported RSA size ${String(spec.bits)}`);
    const { privateKey } = await generateKeyPairAsync("rsa", { modulusLength: spec.bits, publicExponent: 0x10001 });
    return privateKey;
  }
  if (spec.curve !== "P-256") throw new KeyError(`unsupported curve ${String(spec.curve)}`);
  const { privateKey } = await generateKeyPairAsync("ec", { namedCurve: "prime256v1" });
  return privateKey;
}

export interface KeyDescription {
  type: "rsa" | "ec" | "ed25519" | "other";
  /** Modulus size for RSA, field size for EC. */
  bits: number;
  /** Named curve for EC keys, as node reports it (e.g. "prime256v1"). */
  curve?: string;
}

const CURVE_BITS: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };

export function describeKey(key: KeyObject): KeyDescription {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "rsa":
      return { type: "rsa", bits: details.modulusLength ?? 0 };
    case "ec": {
      const curve = details.namedCurve ?? "unknown";
      return { type: "ec", bits: CURVE_BITS[curve] ?? 0, curve };
    }
    case "ed25519":
      return { type: "ed25519", bits: 256 };
    default:
      return { type: "other", bits: 0 };
  }
}

/** Public key of a private key, or the key itself when it is already public. */
export function publicKeyOf(key: KeyObject): KeyObject {
  return key.type === "private" ? createPublicKey(key) : key;
}

/** SubjectPublicKeyInfo DER of a key (private keys are reduced to their public half). */
export function spkiDer(key: KeyObject): Uint8Array {
  return new Uint8Array(publicKeyOf(key).export({ format: "der", type: "spki" }));
}

// Importing a key costs up to ~180 µs (spki-key.ts), and one SCEP request meets the same
// key three times (signer certificate, CSR, reply recipient), so recent imports are kept.
const SPKI_CACHE_SIZE = 256;
const spkiCache = new Map<string, KeyObject>();

/** The public key in a SubjectPublicKeyInfo (DER). KeyObjects are immutable, so cached ones are shared. */
export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  const id = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength).toString("base64");
  const hit = spkiCache.get(id);
  if (hit) return hit;
  let key: KeyObject;
  try {
    key = importSpki(spki);
  } catch (e) {
    throw new KeyError(`unreadable public key: ${(e as Error).message}`);
  }
  if (spkiCache.size >= SPKI_CACHE_SIZE) spkiCache.delete(spkiCache.keys().next().value!);
  spkiCache.set(id, key);
  return key;
}

/** Imports a private key from PEM (PKCS#8, PKCS#1 or SEC1) or PKCS#8 DER. Encrypted keys are refused. */
export function importPrivateKey(input: string | Uint8Array): KeyObject {
  try {
    if (typeof input === "string") return createPrivateKey({ key: input, format: "pem" });
    return createPrivateKey({ key: Buffer.from(input), format: "der", type: "pkcs8" });
  } catch (e) {
    throw new KeyError(`unreadable private key: ${(e as Error).message}`);
  }
}

export function exportPrivateKeyPem(key: KeyObject): string {
  return key.export({ format: "pem", type: "pkcs8" }).toString();
}

/** True when the private key and the public key form a pair. */
export function keysMatch(privateKey: KeyObject, publicKey: KeyObject): boolean {
  const a = spkiDer(privateKey);
  const b = spkiDer(publicKey);
  return Buffer.from(a).equals(Buffer.from(b));
}
