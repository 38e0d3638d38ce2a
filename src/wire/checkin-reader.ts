// The hot-path reader for what a device sends on every connect: a small, flat XML dictionary such as
// {Status: "Idle", UDID: "..."} or a check-in message's top-level strings and booleans.
//
// It scans the text once with indexOf/startsWith and builds the result directly (~1–3 µs for a status report,
// against ~75 µs for the `plist` package). It understands exactly one shape: optional XML declaration (UTF-8),
// optional DOCTYPE without an internal subset, <plist>, one <dict> whose values are <string>, <true/>,
// <false/> or small decimal <integer>s, with whitespace between elements. Anything else (nested values, data,
// comments, CDATA, binary plists, other encodings, a BOM, odd spacing inside tags) makes it give up and hand
// the bytes to the full parser, so the answer is always the full parser's answer.

import { isAscii, isUtf8 } from "node:buffer";
import { parsePlist } from "./plist.ts";
import { PlistError, setDictEntry } from "./plist-value.ts";
import type { PlistDict } from "./plist-value.ts";
import { decodeXmlText } from "./plist-xml-parse.ts";

export type FlatPlistDict = Record<string, string | number | boolean>;

const PLIST_ATTRS_RE = /^(?:[ \t\r\n]+[A-Za-z]+=(?:"[^"<>]*"|'[^'<>]*'))*[ \t\r\n]*$/;
const SMALL_INT_RE = /^-?[0-9]{1,16}$/;
const UTF8_DECL_RE = /encoding\s*=\s*["']utf-?8["']/i;

function skipSpace(s: string, pos: number): number {
  let p = pos;
  for (;;) {
    const c = s.charCodeAt(p);
    if (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) p++;
    else return p;
  }
}

/** Character data between two tags; undefined when it holds markup or a reference the decoder rejects. */
function textUntil(s: string, from: number, endTag: string): [string, number] | undefined {
  const end = s.indexOf(endTag, from);
  if (end === -1) return undefined;
  const raw = s.slice(from, end);
  if (raw.indexOf("<") !== -1) return undefined;
  if (raw.indexOf("&") === -1 && raw.indexOf("\r") === -1) return [raw, end + endTag.length];
  try {
    return [decodeXmlText(raw), end + endTag.length];
  } catch {
    return undefined;
  }
}

/**
 * Whether the DOCTYPE s[from, to) may end at its first '>': no internal subset ('['), no apostrophe and an even
 * number of '"'. Read in place, within the DOCTYPE only: this runs on every device request.
 */
function plainDoctype(s: string, from: number, to: number): boolean {
  let odd = false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5b /* [ */ || c === 0x27 /* ' */) return false;
    if (c === 0x22 /* " */) odd = !odd;
  }
  return !odd;
}

/** Skips the prolog the lean path accepts; returns the position of "<plist" or -1 to give up. */
function skipProlog(s: string): number {
  let p = skipSpace(s, 0);
  if (s.startsWith("<?xml", p)) {
    const end = s.indexOf("?>", p);
    if (end === -1) return -1;
    const decl = s.slice(p, end);
    // The full parser decodes by the declared encoding; only UTF-8 (or none) reads the same here. What Apple's
    // clients send is matched exactly before the regular expression is tried.
    if (decl.indexOf("encoding") !== -1 && decl.indexOf('encoding="UTF-8"') === -1 && !UTF8_DECL_RE.test(decl)) return -1;
    p = skipSpace(s, end + 2);
  }
  if (s.startsWith("<!DOCTYPE", p)) {
    const end = s.indexOf(">", p);
    if (end === -1) return -1;
    // An internal subset or a quoted '>' would end the DOCTYPE elsewhere than the first '>': leave those to the full parser.
    if (!plainDoctype(s, p, end)) return -1;
    p = skipSpace(s, end + 1);
  }
  return s.startsWith("<plist", p) ? p : -1;
}

/**
 * Reads a flat XML plist dictionary without building a DOM. Returns undefined when the input is anything but
 * the one shape it knows (see above); the caller then uses parsePlist. Never throws.
 */
export function readFlatPlistDict(body: Uint8Array): FlatPlistDict | undefined {
  if (body.length === 0 || body[0] === 0xef || body[0] === 0x62 /* b: bplist */) return undefined;
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let s: string;
  if (isAscii(buf)) s = buf.toString("latin1");
  else if (isUtf8(buf)) s = buf.toString("utf8");
  else return undefined;

  let p = skipProlog(s);
  if (p === -1) return undefined;
  const tagEnd = s.indexOf(">", p);
  if (tagEnd === -1 || !PLIST_ATTRS_RE.test(s.slice(p + 6, tagEnd))) return undefined;
  p = skipSpace(s, tagEnd + 1);

  const result: FlatPlistDict = {};
  if (s.startsWith("<dict/>", p)) {
    p += 7;
  } else {
    if (!s.startsWith("<dict>", p)) return undefined;
    p += 6;
    for (;;) {
      p = skipSpace(s, p);
      if (s.startsWith("</dict>", p)) {
        p += 7;
        break;
      }
      if (!s.startsWith("<key>", p)) return undefined;
      const key = textUntil(s, p + 5, "</key>");
      if (key === undefined) return undefined;
      p = skipSpace(s, key[1]);
      let value: string | number | boolean;
      if (s.startsWith("<string>", p)) {
        const text = textUntil(s, p + 8, "</string>");
        if (text === undefined) return undefined;
        value = text[0];
        p = text[1];
      } else if (s.startsWith("<true/>", p)) {
        value = true;
        p += 7;
      } else if (s.startsWith("<false/>", p)) {
        value = false;
        p += 8;
      } else if (s.startsWith("<string/>", p)) {
        value = "";
        p += 9;
      } else if (s.startsWith("<integer>", p)) {
        const end = s.indexOf("</integer>", p + 9);
        if (end === -1) return undefined;
        const digits = s.slice(p + 9, end);
        if (!SMALL_INT_RE.test(digits)) return undefined;
        value = Number(digits);
        if (!Number.isSafeInteger(value)) return undefined;
        p = end + 10;
      } else {
        return undefined;
      }
      setDictEntry(result, key[0], value);
    }
  }
  p = skipSpace(s, p);
  if (!s.startsWith("</plist>", p)) return undefined;
  return skipSpace(s, p + 8) === s.length ? result : undefined;
}

/**
 * The dictionary a device sent (check-in message or command report): the lean reader when it can, the full
 * parser otherwise. Throws PlistError when the body is not a plist or its root is not a dictionary.
 */
export function readDevicePlist(body: Uint8Array): PlistDict {
  const flat = readFlatPlistDict(body);
  if (flat !== undefined) return flat;
  const value = parsePlist(body);
  if (typeof value !== "object" || value === null || Array.isArray(value) || !isPlainDict(value)) {
    throw new PlistError("the message is not a dictionary");
  }
  return value;
}

function isPlainDict(value: object): value is PlistDict {
  return Object.getPrototypeOf(value) === Object.prototype;
}
