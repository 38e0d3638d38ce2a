// Writes XML property lists the way Apple's own tools do: XML declaration, Apple's DOCTYPE, <plist version="1.0">,
// tab indentation, <dict/> and <array/> for empty containers, <data> as base64 and <date> as ISO 8601 UTC with
// whole seconds. Devices parse these with CoreFoundation, so the output stays inside what it reads.

import { DEFAULT_MAX_DEPTH, PLIST_INT_MAX, PLIST_INT_MIN, PlistError, PlistReal, PlistUid } from "./plist-value.ts";
import type { PlistInput } from "./plist-value.ts";

const PROLOG =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
  '<plist version="1.0">\n';

// Characters XML 1.0 cannot carry at all (not even as references), plus unpaired surrogates, which UTF-8 cannot.
const UNENCODABLE_RE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ESCAPE_RE = /[&<>\r]/;

export function escapeXmlText(text: string): string {
  const bad = UNENCODABLE_RE.exec(text);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    throw new PlistError(`string holds U+${code}, which an XML plist cannot carry (send it as <data>)`);
  }
  if (!ESCAPE_RE.test(text)) return text;
  // "\r" would be read back as "\n" (XML line-end normalisation), so it is written as a reference.
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r/g, "&#13;");
}

/** ISO 8601 UTC without milliseconds, e.g. 2024-05-01T12:00:00Z; sub-second parts are truncated. */
export function formatPlistDate(date: Date): string {
  const t = date.getTime();
  if (Number.isNaN(t)) throw new PlistError("invalid Date cannot be written to a plist");
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new PlistError(`date year ${year} is outside 0000..9999`);
  return `${new Date(t - (((t % 1000) + 1000) % 1000)).toISOString().slice(0, 19)}Z`;
}

function formatReal(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Infinity) return "+infinity";
  if (n === -Infinity) return "-infinity";
  return Object.is(n, -0) ? "-0" : String(n);
}

function isInt64Range(n: bigint): boolean {
  return n >= PLIST_INT_MIN && n <= PLIST_INT_MAX;
}

class XmlPlistWriter {
  private out: string[] = [];
  private readonly maxDepth: number;

  constructor(maxDepth: number) {
    this.maxDepth = maxDepth;
  }

  write(value: PlistInput, indent: string, depth: number): void {
    const out = this.out;
    if (typeof value === "string") {
      out.push(indent, "<string>", escapeXmlText(value), "</string>\n");
    } else if (typeof value === "number") {
      if (Number.isInteger(value) && isInt64Range(BigInt(value))) {
        out.push(indent, "<integer>", Number.isSafeInteger(value) ? String(value) : BigInt(value).toString(), "</integer>\n");
      } else {
        out.push(indent, "<real>", formatReal(value), "</real>\n");
      }
    } else if (typeof value === "boolean") {
      out.push(indent, value ? "<true/>\n" : "<false/>\n");
    } else if (typeof value === "bigint") {
      if (!isInt64Range(value)) throw new PlistError(`integer ${value} is outside the 64-bit range a plist can hold`);
      out.push(indent, "<integer>", value.toString(), "</integer>\n");
    } else if (value instanceof Uint8Array) {
      out.push(indent, "<data>", Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64"), "</data>\n");
    } else if (value instanceof Date) {
      out.push(indent, "<date>", formatPlistDate(value), "</date>\n");
    } else if (value instanceof PlistReal) {
      out.push(indent, "<real>", formatReal(value.value), "</real>\n");
    } else if (value instanceof PlistUid) {
      out.push(indent, "<dict>\n", indent, "\t<key>CF$UID</key>\n", indent, "\t<integer>", String(value.value), "</integer>\n", indent, "</dict>\n");
    } else if (Array.isArray(value)) {
      this.writeArray(value as readonly PlistInput[], indent, depth);
    } else if (typeof value === "object" && value !== null && isPlainObject(value)) {
      this.writeDict(value as { readonly [key: string]: PlistInput | undefined }, indent, depth);
    } else {
      throw new PlistError(`cannot write ${describe(value)} to a plist`);
    }
  }

  private enter(depth: number): void {
    if (depth >= this.maxDepth) throw new PlistError(`value nests deeper than ${this.maxDepth} levels (a cycle?)`);
  }

  private writeArray(array: readonly PlistInput[], indent: string, depth: number): void {
    this.enter(depth);
    if (array.length === 0) {
      this.out.push(indent, "<array/>\n");
      return;
    }
    this.out.push(indent, "<array>\n");
    const inner = `${indent}\t`;
    for (const item of array) {
      if (item === undefined) throw new PlistError("arrays cannot hold undefined");
      this.write(item, inner, depth + 1);
    }
    this.out.push(indent, "</array>\n");
  }

  private writeDict(dict: { readonly [key: string]: PlistInput | undefined }, indent: string, depth: number): void {
    this.enter(depth);
    const keys = Object.keys(dict).filter((k) => dict[k] !== undefined);
    if (keys.length === 0) {
      this.out.push(indent, "<dict/>\n");
      return;
    }
    this.out.push(indent, "<dict>\n");
    const inner = `${indent}\t`;
    for (const key of keys) {
      this.out.push(inner, "<key>", escapeXmlText(key), "</key>\n");
      this.write(dict[key] as PlistInput, inner, depth + 1);
    }
    this.out.push(indent, "</dict>\n");
  }

  result(): string {
    return this.out.join("");
  }
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `an object of type ${value.constructor?.name ?? "unknown"}`;
  return `a value of type ${typeof value}`;
}

/** Serialises a value as an Apple XML property list (UTF-8 text, trailing newline). Throws PlistError on values a plist cannot hold. */
export function buildPlist(value: PlistInput, options: { maxDepth?: number } = {}): string {
  const writer = new XmlPlistWriter(options.maxDepth ?? DEFAULT_MAX_DEPTH);
  writer.write(value, "", 0);
  return `${PROLOG}${writer.result()}</plist>\n`;
}
