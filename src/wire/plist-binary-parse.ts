// Binary property lists ("bplist00", CoreFoundation's CFBinaryPList format).
//
// Layout: 8-byte header, the objects, an offset table (one offset per object, offsetIntSize bytes each), and
// a 32-byte trailer: 6 unused bytes, offsetIntSize, objectRefSize, numObjects (u64), topObject (u64),
// offsetTableOffset (u64). Containers hold object references (objectRefSize bytes each), so a hostile file can
// reference itself (a cycle) or reference one big container many times (exponential expansion). Both are
// bounded here: an object on the current path may not be entered again, nesting is capped, and the number of
// values produced (repeats included) is capped. Leaf values referenced many times are decoded once and shared.

import {
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_VALUES,
  PLIST_INT_MAX,
  PLIST_INT_MIN,
  PlistError,
  PlistReal,
  PlistUid,
  integerValue,
  setDictEntry,
} from "./plist-value.ts";
import type { PlistDict, PlistParseOptions, PlistValue } from "./plist-value.ts";

/** Seconds between the Unix epoch and CoreFoundation's reference date, 2001-01-01T00:00:00Z. */
const CF_EPOCH_MS = 978_307_200_000;
const TRAILER_SIZE = 32;
const HEADER = "bplist00";

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function isBinaryPlist(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  for (let i = 0; i < 6; i++) if (bytes[i] !== HEADER.charCodeAt(i)) return false;
  return true;
}

class BinaryPlistReader {
  private readonly b: Uint8Array;
  private readonly view: DataView;
  private readonly offsetIntSize: number;
  private readonly objectRefSize: number;
  private readonly numObjects: number;
  private readonly topObject: number;
  private readonly offsetTableOffset: number;
  /** Objects live in [8, objectsEnd). */
  private readonly objectsEnd: number;
  private readonly onPath: Uint8Array;
  private readonly leafCache = new Map<number, PlistValue>();
  private readonly wrapReals: boolean;
  private readonly maxDepth: number;
  private readonly maxValues: number;
  private valueCount = 0;

  constructor(bytes: Uint8Array, options: PlistParseOptions) {
    this.b = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.wrapReals = options.reals === "wrap";
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxValues = options.maxValues ?? DEFAULT_MAX_VALUES;

    const header = String.fromCharCode(...bytes.subarray(0, 8));
    if (header !== HEADER) throw new PlistError(`unsupported binary plist version ${JSON.stringify(header)}`);
    if (bytes.length < 8 + 1 + 1 + TRAILER_SIZE) throw new PlistError("binary plist too short to hold a trailer");
    const t = bytes.length - TRAILER_SIZE;
    this.offsetIntSize = bytes[t + 6] ?? 0;
    this.objectRefSize = bytes[t + 7] ?? 0;
    if (this.offsetIntSize < 1 || this.offsetIntSize > 8) {
      throw new PlistError(`binary plist offset size ${this.offsetIntSize} is not 1..8`);
    }
    if (this.objectRefSize < 1 || this.objectRefSize > 8) {
      throw new PlistError(`binary plist object reference size ${this.objectRefSize} is not 1..8`);
    }
    this.numObjects = this.readTrailerU64(t + 8, "object count");
    this.topObject = this.readTrailerU64(t + 16, "top object");
    this.offsetTableOffset = this.readTrailerU64(t + 24, "offset table offset");
    if (this.numObjects < 1) throw new PlistError("binary plist has no objects");
    if (this.topObject >= this.numObjects) throw new PlistError("binary plist top object is out of range");
    if (this.offsetTableOffset < 9 || this.offsetTableOffset + this.numObjects * this.offsetIntSize > t) {
      throw new PlistError("binary plist offset table lies outside the file");
    }
    this.objectsEnd = this.offsetTableOffset;
    this.onPath = new Uint8Array(this.numObjects);
  }

  private readTrailerU64(at: number, what: string): number {
    const hi = this.view.getUint32(at);
    const lo = this.view.getUint32(at + 4);
    if (hi > 0x1fffff) throw new PlistError(`binary plist ${what} is absurdly large`);
    return hi * 0x1_0000_0000 + lo;
  }

  /** Unsigned big-endian integer of 1..8 bytes; large values lose precision but are then rejected by range checks. */
  private readUnsigned(at: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + (this.b[at + i] ?? 0);
    return v;
  }

  private objectOffset(ref: number): number {
    if (ref >= this.numObjects) throw new PlistError(`binary plist object reference ${ref} is out of range`);
    const off = this.readUnsigned(this.offsetTableOffset + ref * this.offsetIntSize, this.offsetIntSize);
    if (off < 8 || off >= this.objectsEnd) {
      throw new PlistError(`binary plist object ${ref} has an offset outside the object area`);
    }
    return off;
  }

  private need(at: number, length: number, what: string): void {
    if (length < 0 || at + length > this.objectsEnd) throw new PlistError(`binary plist ${what} runs past the object area`);
  }

  /** The count in a marker's low nibble, or, when it is 0xF, the integer object that follows. Returns [count, dataStart]. */
  private readCount(at: number, nibble: number): [number, number] {
    if (nibble !== 0x0f) return [nibble, at + 1];
    this.need(at + 1, 1, "length");
    const marker = this.b[at + 1] ?? 0;
    if (marker >> 4 !== 0x1) throw new PlistError("binary plist length is not an integer object");
    const size = 1 << (marker & 0x0f);
    if (size > 8) throw new PlistError("binary plist length integer is too wide");
    this.need(at + 2, size, "length");
    const count = this.readUnsigned(at + 2, size);
    if (count > this.objectsEnd) throw new PlistError("binary plist length exceeds the file size");
    return [count, at + 2 + size];
  }

  private countValue(): void {
    if (++this.valueCount > this.maxValues) {
      throw new PlistError(`binary plist expands to more than ${this.maxValues} values`);
    }
  }

  parse(): PlistValue {
    return this.readObject(this.topObject, 0);
  }

  private readObject(ref: number, depth: number): PlistValue {
    this.countValue();
    const cached = this.leafCache.get(ref);
    if (cached !== undefined) return cached;
    const at = this.objectOffset(ref);
    const marker = this.b[at] ?? 0;
    const type = marker >> 4;
    const nibble = marker & 0x0f;
    switch (type) {
      case 0x0:
        if (marker === 0x08) return false;
        if (marker === 0x09) return true;
        if (marker === 0x00) throw new PlistError("binary plist null objects are not plist values");
        throw new PlistError(`unsupported binary plist marker 0x${marker.toString(16).padStart(2, "0")}`);
      case 0x1:
        return this.cacheLeaf(ref, this.readInteger(at, nibble));
      case 0x2:
        return this.cacheLeaf(ref, this.readReal(at, nibble));
      case 0x3: {
        if (marker !== 0x33) throw new PlistError("binary plist date must be an 8-byte float");
        this.need(at + 1, 8, "date");
        return new Date(CF_EPOCH_MS + this.view.getFloat64(at + 1) * 1000);
      }
      case 0x4: {
        const [length, start] = this.readCount(at, nibble);
        this.need(start, length, "data");
        return this.cacheLeaf(ref, this.b.slice(start, start + length));
      }
      case 0x5: {
        const [length, start] = this.readCount(at, nibble);
        this.need(start, length, "string");
        return this.cacheLeaf(ref, Buffer.from(this.b.buffer, this.b.byteOffset + start, length).toString("latin1"));
      }
      case 0x6: {
        const [units, start] = this.readCount(at, nibble);
        this.need(start, units * 2, "UTF-16 string");
        return this.cacheLeaf(ref, this.readUtf16(start, units));
      }
      case 0x7: {
        const [length, start] = this.readCount(at, nibble);
        this.need(start, length, "UTF-8 string");
        try {
          return this.cacheLeaf(ref, utf8Decoder.decode(this.b.subarray(start, start + length)));
        } catch {
          throw new PlistError("binary plist UTF-8 string is not valid UTF-8");
        }
      }
      case 0x8: {
        this.need(at + 1, nibble + 1, "UID");
        if (nibble + 1 > 6) throw new PlistError("binary plist UID is too wide");
        return this.cacheLeaf(ref, new PlistUid(this.readUnsigned(at + 1, nibble + 1)));
      }
      case 0xa:
      case 0xb: // ordered set
      case 0xc: // set
        return this.readArray(ref, at, nibble, depth);
      case 0xd:
        return this.readDict(ref, at, nibble, depth);
      default:
        throw new PlistError(`unsupported binary plist marker 0x${marker.toString(16).padStart(2, "0")}`);
    }
  }

  private cacheLeaf<T extends PlistValue>(ref: number, value: T): T {
    this.leafCache.set(ref, value);
    return value;
  }

  private readInteger(at: number, nibble: number): number | bigint {
    if (nibble > 4) throw new PlistError(`binary plist integer of 2^${nibble} bytes is not supported`);
    const size = 1 << nibble;
    this.need(at + 1, size, "integer");
    const p = at + 1;
    switch (size) {
      case 1:
        return this.b[p] ?? 0;
      case 2:
        return this.view.getUint16(p);
      case 4:
        return this.view.getUint32(p);
      case 8:
        return integerValue(this.view.getBigInt64(p));
      default: {
        // 16 bytes: CoreFoundation writes values above INT64_MAX this way; read it as signed 128-bit.
        const n = (this.view.getBigInt64(p) << 64n) | this.view.getBigUint64(p + 8);
        if (n < PLIST_INT_MIN || n > PLIST_INT_MAX) throw new PlistError("binary plist integer out of the 64-bit range");
        return integerValue(n);
      }
    }
  }

  private readReal(at: number, nibble: number): number | PlistReal {
    let n: number;
    if (nibble === 2) {
      this.need(at + 1, 4, "real");
      n = this.view.getFloat32(at + 1);
    } else if (nibble === 3) {
      this.need(at + 1, 8, "real");
      n = this.view.getFloat64(at + 1);
    } else {
      throw new PlistError(`binary plist real of 2^${nibble} bytes is not supported`);
    }
    return this.wrapReals ? new PlistReal(n) : n;
  }

  private readUtf16(start: number, units: number): string {
    // Built by hand rather than with TextDecoder so unpaired surrogates survive exactly as CoreFoundation stores them.
    const codes = new Array<number>(units);
    for (let i = 0; i < units; i++) codes[i] = this.view.getUint16(start + i * 2);
    let out = "";
    for (let i = 0; i < units; i += 8192) out += String.fromCharCode(...codes.slice(i, i + 8192));
    return out;
  }

  private enter(ref: number, depth: number): void {
    if (depth >= this.maxDepth) throw new PlistError(`binary plist nests deeper than ${this.maxDepth} levels`);
    if (this.onPath[ref] === 1) throw new PlistError(`binary plist object ${ref} contains itself (a reference cycle)`);
    this.onPath[ref] = 1;
  }

  private readRef(at: number): number {
    return this.readUnsigned(at, this.objectRefSize);
  }

  private readArray(ref: number, at: number, nibble: number, depth: number): PlistValue[] {
    const [count, start] = this.readCount(at, nibble);
    this.need(start, count * this.objectRefSize, "array");
    this.enter(ref, depth);
    const array = new Array<PlistValue>(count);
    for (let i = 0; i < count; i++) array[i] = this.readObject(this.readRef(start + i * this.objectRefSize), depth + 1);
    this.onPath[ref] = 0;
    return array;
  }

  private readDict(ref: number, at: number, nibble: number, depth: number): PlistDict {
    const [count, start] = this.readCount(at, nibble);
    this.need(start, count * 2 * this.objectRefSize, "dictionary");
    this.enter(ref, depth);
    const dict: PlistDict = {};
    const valuesStart = start + count * this.objectRefSize;
    for (let i = 0; i < count; i++) {
      const key = this.readObject(this.readRef(start + i * this.objectRefSize), depth + 1);
      if (typeof key !== "string") throw new PlistError("binary plist dictionary key is not a string");
      setDictEntry(dict, key, this.readObject(this.readRef(valuesStart + i * this.objectRefSize), depth + 1));
    }
    this.onPath[ref] = 0;
    return dict;
  }
}

export function parseBinaryPlist(bytes: Uint8Array, options: PlistParseOptions = {}): PlistValue {
  return new BinaryPlistReader(bytes, options).parse();
}
