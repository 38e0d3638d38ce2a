// A small deterministic random source, so that a fleet created from the same seed has the same serial
// numbers, UDIDs and push tokens every time (reproducible benches and e2e fixtures). Not for secrets: key
// material always comes from node:crypto.
import { createHash, randomBytes } from "node:crypto";

export interface RandomSource {
  /** A uniform 32-bit unsigned integer. */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  bytes(n: number): Uint8Array;
  pick<T>(items: readonly T[]): T;
  /** An RFC 4122 version-4 UUID, upper case as Apple writes them. */
  uuid(): string;
}

/** xoshiro128** seeded from SHA-256 of the seed string. */
export function seededRandom(seed: string): RandomSource {
  const h = createHash("sha256").update(seed).digest();
  const s = new Uint32Array([h.readUInt32LE(0), h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12)]);
  if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1;
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  };
  return withHelpers(next);
}

/** A RandomSource over node:crypto, for devices created without a seed. */
export function cryptoRandom(): RandomSource {
  return withHelpers(() => randomBytes(4).readUInt32LE(0));
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function withHelpers(next: () => number): RandomSource {
  const int = (n: number): number => {
    if (n <= 0) throw new RangeError("int(n) needs n > 0");
    // Rejection sampling keeps the distribution uniform for any n.
    const limit = Math.floor(0x1_0000_0000 / n) * n;
    for (;;) {
      const v = next();
      if (v < limit) return v % n;
    }
  };
  const bytes = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = next();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return out;
  };
  return {
    next,
    int,
    bytes,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError("pick from an empty list");
      return items[int(items.length)]!;
    },
    uuid: () => {
      const b = bytes(16);
      b[6] = (b[6]! & 0x0f) | 0x40;
      b[8] = (b[8]! & 0x3f) | 0x80;
      const hex = Buffer.from(b).toString("hex").toUpperCase();
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    },
  };
}
