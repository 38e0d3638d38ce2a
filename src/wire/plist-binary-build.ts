// Writes binary property lists (bplist00). Orchard sends XML to devices; this exists so the device simulator can
// send binary plists as macOS clients sometimes do, and so tests can produce every offset and reference width
// the format allows (1..8 bytes), which no other writer at hand produces.

import { DEFAULT_MAX_DEPTH, PLIST_INT_MAX, PLIST_INT_MIN, PlistError, PlistReal, PlistUid } from "./plist-value.ts";
import type { PlistInput } from "./plist-value.ts";

const CF_EPOCH_MS = 978_307_200_000;

export interface BinaryPlistBuildOptions {
  /** Width of each offset-table entry, 1..8; default: the smallest that fits. */
  offsetIntSize?: number;
  /** Width of each object reference, 1..8; default: the smallest that fits. */
  objectRefSize?: number;
}

type Pending = { kind: "bytes"; bytes: Uint8Array } | { kind: "array"; marker: number; refs: number[] };

function minimalWidth(max: number): number {
  let width = 1;
  while (width < 8 && max >= 2 ** (8 * width)) width++;
  return width;
}

function markerWithCount(type: number, count: number): Uint8Array {
  if (count < 15) return Uint8Array.of((type << 4) | count);
  const size = count < 0x100 ? 0 : count < 0x10000 ? 1 : 2;
  const out = new Uint8Array(2 + (1 << size));
  out[0] = (type << 4) | 0x0f;
  out[1] = 0x10 | size;
  const view = new DataView(out.buffer);
  if (size === 0) out[2] = count;
  else if (size === 1) view.setUint16(2, count);
  else view.setUint32(2, count);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function encodeInteger(n: bigint): Uint8Array {
  if (n < PLIST_INT_MIN || n > PLIST_INT_MAX) throw new PlistError(`integer ${n} is outside the 64-bit range a plist can hold`);
  if (n >= 0n && n < 0x100n) return Uint8Array.of(0x10, Number(n));
  if (n >= 0n && n < 0x10000n) {
    const out = new Uint8Array(3);
    out[0] = 0x11;
    new DataView(out.buffer).setUint16(1, Number(n));
    return out;
  }
  if (n >= 0n && n < 0x1_0000_0000n) {
    const out = new Uint8Array(5);
    out[0] = 0x12;
    new DataView(out.buffer).setUint32(1, Number(n));
    return out;
  }
  if (n <= 0x7fff_ffff_ffff_ffffn) {
    const out = new Uint8Array(9);
    out[0] = 0x13;
    new DataView(out.buffer).setBigInt64(1, n);
    return out;
  }
  const out = new Uint8Array(17);
  out[0] = 0x14;
  new DataView(out.buffer).setBigUint64(9, n);
  return out;
}

function encodeFloat64(marker: number, n: number): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = marker;
  new DataView(out.buffer).setFloat64(1, n);
  return out;
}

function encodeString(s: string): Uint8Array {
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return concat(markerWithCount(0x5, s.length), Buffer.from(s, "latin1"));
  const body = new Uint8Array(s.length * 2);
  const view = new DataView(body.buffer);
  for (let i = 0; i < s.length; i++) view.setUint16(i * 2, s.charCodeAt(i));
  return concat(markerWithCount(0x6, s.length), body);
}

function encodeUid(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new PlistError(`UID ${n} is not a 32-bit unsigned integer`);
  const width = n < 0x100 ? 1 : n < 0x10000 ? 2 : 4;
  const out = new Uint8Array(1 + width);
  out[0] = 0x80 | (width - 1);
  for (let i = 0; i < width; i++) out[width - i] = Math.floor(n / 2 ** (8 * i)) & 0xff;
  return out;
}

class BinaryPlistWriter {
  readonly objects: Pending[] = [];

  add(value: PlistInput, depth: number): number {
    const ref = this.objects.length;
    if (typeof value === "string") {
      this.objects.push({ kind: "bytes", bytes: encodeString(value) });
    } else if (typeof value === "number") {
      const bytes = Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 64 ? encodeInteger(BigInt(value)) : encodeFloat64(0x23, value);
      this.objects.push({ kind: "bytes", bytes });
    } else if (typeof value === "bigint") {
      this.objects.push({ kind: "bytes", bytes: encodeInteger(value) });
    } else if (typeof value === "boolean") {
      this.objects.push({ kind: "bytes", bytes: Uint8Array.of(value ? 0x09 : 0x08) });
    } else if (value instanceof Uint8Array) {
      this.objects.push({ kind: "bytes", bytes: concat(markerWithCount(0x4, value.length), value) });
    } else if (value instanceof Date) {
      const t = value.getTime();
      if (Number.isNaN(t)) throw new PlistError("invalid Date cannot be written to a plist");
      this.objects.push({ kind: "bytes", bytes: encodeFloat64(0x33, (t - CF_EPOCH_MS) / 1000) });
    } else if (value instanceof PlistReal) {
      this.objects.push({ kind: "bytes", bytes: encodeFloat64(0x23, value.value) });
    } else if (value instanceof PlistUid) {
      this.objects.push({ kind: "bytes", bytes: encodeUid(value.value) });
    } else if (Array.isArray(value)) {
      if (depth >= DEFAULT_MAX_DEPTH) throw new PlistError(`value nests deeper than ${DEFAULT_MAX_DEPTH} levels (a cycle?)`);
      const pending: Pending = { kind: "array", marker: 0xa, refs: [] };
      this.objects.push(pending);
      for (const item of value as readonly PlistInput[]) {
        if (item === undefined) throw new PlistError("arrays cannot hold undefined");
        pending.refs.push(this.add(item, depth + 1));
      }
    } else if (typeof value === "object" && value !== null && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
      if (depth >= DEFAULT_MAX_DEPTH) throw new PlistError(`value nests deeper than ${DEFAULT_MAX_DEPTH} levels (a cycle?)`);
      const dict = value as { readonly [key: string]: PlistInput | undefined };
      const pending: Pending = { kind: "array", marker: 0xd, refs: [] };
      this.objects.push(pending);
      const keys = Object.keys(dict).filter((k) => dict[k] !== undefined);
      const keyRefs = keys.map((k) => this.add(k, depth + 1));
      const valueRefs = keys.map((k) => this.add(dict[k] as PlistInput, depth + 1));
      pending.refs.push(...keyRefs, ...valueRefs);
    } else {
      throw new PlistError(`cannot write a value of type ${typeof value} to a plist`);
    }
    return ref;
  }
}

function writeUnsigned(out: Uint8Array, at: number, width: number, n: number): void {
  let v = n;
  for (let i = width - 1; i >= 0; i--) {
    out[at + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

/** Serialises a value as a binary property list (bplist00). */
export function buildBinaryPlist(value: PlistInput, options: BinaryPlistBuildOptions = {}): Uint8Array {
  const writer = new BinaryPlistWriter();
  writer.add(value, 0);
  const objects = writer.objects;
  const refSize = options.objectRefSize ?? minimalWidth(objects.length - 1);
  if (refSize < 1 || refSize > 8 || objects.length - 1 >= 2 ** (8 * refSize)) {
    throw new PlistError(`object reference size ${refSize} cannot address ${objects.length} objects`);
  }
  const encoded = objects.map((o) => {
    if (o.kind === "bytes") return o.bytes;
    const refs = new Uint8Array(o.refs.length * refSize);
    o.refs.forEach((r, i) => writeUnsigned(refs, i * refSize, refSize, r));
    const count = o.marker === 0xd ? o.refs.length / 2 : o.refs.length;
    return concat(markerWithCount(o.marker, count), refs);
  });
  const offsets: number[] = [];
  let at = 8;
  for (const e of encoded) {
    offsets.push(at);
    at += e.length;
  }
  const tableOffset = at;
  const offsetSize = options.offsetIntSize ?? minimalWidth(tableOffset);
  if (offsetSize < 1 || offsetSize > 8 || tableOffset >= 2 ** (8 * offsetSize)) {
    throw new PlistError(`offset size ${offsetSize} cannot address ${tableOffset} bytes`);
  }
  const table = new Uint8Array(offsets.length * offsetSize);
  offsets.forEach((o, i) => writeUnsigned(table, i * offsetSize, offsetSize, o));
  const trailer = new Uint8Array(32);
  trailer[6] = offsetSize;
  trailer[7] = refSize;
  const view = new DataView(trailer.buffer);
  view.setBigUint64(8, BigInt(objects.length));
  view.setBigUint64(16, 0n);
  view.setBigUint64(24, BigInt(tableOffset));
  return concat(Buffer.from("bplist00", "latin1"), ...encoded, table, trailer);
}
