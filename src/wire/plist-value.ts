// The typed value space of Apple property lists, shared by the XML and binary parsers and the builder.
//
// Apple distinguishes <integer> from <real>, and JavaScript numbers do not. The rule used everywhere here:
//   - a parsed <integer> is a `number` when it is a safe integer, otherwise a `bigint` (int64/uint64 range);
//   - a parsed <real> is a plain `number` by default (what callers want for BatteryLevel and the like), or a
//     `PlistReal` when parsePlist is asked for { reals: "wrap" } (lossless re-emission);
//   - when building, a `number` that is an integer is written as <integer>, anything else as <real>;
//     wrap a value in `PlistReal` to force <real> (e.g. a payload key Apple types as <real> with value 5).

/** Forces `<real>` on output; produced by the parser only in { reals: "wrap" } mode. */
export class PlistReal {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

/** A keyed-archiver UID (binary plists only). Written to XML as Apple does: <dict><key>CF$UID</key><integer>n</integer></dict>. */
export class PlistUid {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

export type PlistValue =
  | string
  | number
  | bigint
  | boolean
  | Date
  | Uint8Array
  | PlistReal
  | PlistUid
  | PlistValue[]
  | PlistDict;

export interface PlistDict {
  [key: string]: PlistValue;
}

/**
 * What buildPlist accepts: PlistValue plus readonly arrays and `undefined` dictionary values (omitted), so
 * typed command objects with optional keys can be passed straight in.
 */
export type PlistInput =
  | string
  | number
  | bigint
  | boolean
  | Date
  | Uint8Array
  | PlistReal
  | PlistUid
  | readonly PlistInput[]
  | { readonly [key: string]: PlistInput | undefined };

/** Every malformed-input failure of the plist codec is one of these; nothing else escapes the parsers. */
export class PlistError extends Error {
  override readonly name = "PlistError";
}

export interface PlistParseOptions {
  /** "number" (default): <real> becomes a number. "wrap": <real> becomes a PlistReal. */
  reals?: "number" | "wrap";
  /** Maximum nesting of arrays/dictionaries (default 256). */
  maxDepth?: number;
  /** Binary plists only: maximum number of values produced, counting repeated references (default 1,000,000). */
  maxValues?: number;
}

export const DEFAULT_MAX_DEPTH = 256;
export const DEFAULT_MAX_VALUES = 1_000_000;

/** Signed 64-bit minimum and unsigned 64-bit maximum: the integer range CFNumber can hold. */
export const PLIST_INT_MIN = -(2n ** 63n);
export const PLIST_INT_MAX = 2n ** 64n - 1n;

/** A dictionary key must never reach the prototype through `__proto__`; define it as an own property instead. */
export function setDictEntry(dict: PlistDict, key: string, value: PlistValue): void {
  if (key === "__proto__") {
    Object.defineProperty(dict, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    dict[key] = value;
  }
}

/** Integers the parsers produce: a number when it is exact, a bigint otherwise. */
export function integerValue(n: bigint): number | bigint {
  return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
}
