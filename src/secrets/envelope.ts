// Envelope encryption for every secret Orchard keeps in its database (private keys, tokens, escrowed codes).
// AES-256-GCM under the keyring's active key. Layout of a sealed value:
//   "OS" | version (1) | key-id length (1) | key id | IV (12) | GCM tag (16) | ciphertext
// The caller's purpose string is authenticated as associated data, so a sealed value moved to another
// column or row kind fails to open instead of being misused.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { Keyring } from "./keyring.ts";

const MAGIC = Buffer.from("OS");
const VERSION = 1;

export class SecretError extends Error {}

export class SecretBox {
  constructor(private readonly keyring: Keyring) {}

  get activeKeyId(): string {
    return this.keyring.activeId;
  }

  seal(plaintext: Uint8Array | string, purpose: string): Uint8Array {
    const key = this.keyring.keys.get(this.keyring.activeId);
    if (!key) throw new SecretError("active key missing from keyring");
    const id = Buffer.from(this.keyring.activeId, "utf8");
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(Buffer.from(purpose, "utf8"));
    const data = typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : plaintext;
    const ct = Buffer.concat([cipher.update(data), cipher.final()]);
    return Buffer.concat([MAGIC, Buffer.from([VERSION, id.length]), id, iv, cipher.getAuthTag(), ct]);
  }

  open(sealed: Uint8Array, purpose: string): Buffer {
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (b.length < 4 || !b.subarray(0, 2).equals(MAGIC)) throw new SecretError("not a sealed secret");
    if (b[2] !== VERSION) throw new SecretError(`unsupported sealed-secret version ${b[2]}`);
    const idLen = b[3] ?? 0;
    const id = b.subarray(4, 4 + idLen).toString("utf8");
    const key = this.keyring.keys.get(id);
    if (!key) throw new SecretError(`sealed with key ${id}, which is not in the keyring`);
    const off = 4 + idLen;
    if (b.length < off + 28) throw new SecretError("sealed secret truncated");
    const decipher = createDecipheriv("aes-256-gcm", key, b.subarray(off, off + 12));
    decipher.setAAD(Buffer.from(purpose, "utf8"));
    decipher.setAuthTag(b.subarray(off + 12, off + 28));
    try {
      return Buffer.concat([decipher.update(b.subarray(off + 28)), decipher.final()]);
    } catch {
      throw new SecretError("sealed secret failed authentication (wrong key, purpose or corrupted)");
    }
  }

  openString(sealed: Uint8Array, purpose: string): string {
    return this.open(sealed, purpose).toString("utf8");
  }

  /** The key id a value was sealed with, so a rotation can find what still needs re-sealing. */
  static keyIdOf(sealed: Uint8Array): string {
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    return b.subarray(4, 4 + (b[3] ?? 0)).toString("utf8");
  }

  /** Re-seal under the active key (no-op output when already active). */
  reseal(sealed: Uint8Array, purpose: string): Uint8Array {
    if (SecretBox.keyIdOf(sealed) === this.keyring.activeId) return sealed;
    return this.seal(this.open(sealed, purpose), purpose);
  }
}
