// A small, strict-where-it-matters XML plist parser. It does not build a DOM: it walks the text once and builds
// the PlistValue directly, which is several times cheaper than an XML library and lets every malformed input
// end in a PlistError that names the problem and the offset.
//
// Liberal in what it accepts, as Apple's clients vary: any indentation, comments and processing instructions
// anywhere between elements, a DOCTYPE (with or without an internal subset), a missing <plist> wrapper, named
// and numeric character references, CDATA, base64 with whitespace and without padding, hex integers, and
// partial ISO 8601 dates. Line endings are normalised as XML 1.0 requires (§2.11), so only `&#13;` yields "\r".

import {
  DEFAULT_MAX_DEPTH,
  PLIST_INT_MAX,
  PLIST_INT_MIN,
  PlistError,
  PlistReal,
  integerValue,
  setDictEntry,
} from "./plist-value.ts";
import type { PlistDict, PlistParseOptions, PlistValue } from "./plist-value.ts";

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

interface Tag {
  name: string;
  selfClosing: boolean;
  start: number;
}

const INTEGER_RE = /^[+-]?[0-9]+$/;
const HEX_INTEGER_RE = /^([+-]?)0[xX]([0-9a-fA-F]+)$/;
const REAL_RE = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const SPECIAL_REAL_RE = /^([+-]?)(nan|inf|infinity)$/i;
const DATE_RE =
  /^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})(\.[0-9]+)?)?)?)?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$/;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isNameChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x3a ||
    c === 0x2d ||
    c === 0x2e
  );
}

/**
 * A copy of `s` that does not keep the document alive. V8 represents a slice of 13 characters or more as a
 * view of its parent string, so a parsed UDID kept in a long-lived map would pin the whole request body it
 * came from (at 100,000 devices, 30 MB of bodies for 4 MB of UDIDs). Concatenation followed by a slice
 * flattens into a fresh string of the value's own length (plus one character).
 */
function unpinned(s: string): string {
  return s.length < 13 ? s : (" " + s).slice(1);
}

function trimXmlSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isXmlSpace(s.charCodeAt(a))) a++;
  while (b > a && isXmlSpace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Resolves character and entity references in a run of character data (already line-end normalised). */
export function decodeXmlText(raw: string, offset = 0): string {
  let text = raw;
  if (text.indexOf("\r") !== -1) text = text.replace(/\r\n?/g, "\n");
  let amp = text.indexOf("&");
  if (amp === -1) return text;
  let out = "";
  let last = 0;
  while (amp !== -1) {
    const semi = text.indexOf(";", amp + 1);
    if (semi === -1 || semi - amp > 12) {
      throw new PlistError(`unterminated character or entity reference near offset ${offset + amp}`);
    }
    const ref = text.slice(amp + 1, semi);
    let decoded: string | undefined;
    if (ref.charCodeAt(0) === 0x23 /* # */) {
      const hex = ref.charCodeAt(1) === 0x78 /* x */ || ref.charCodeAt(1) === 0x58; /* X */
      const digits = hex ? ref.slice(2) : ref.slice(1);
      const valid = hex ? /^[0-9a-fA-F]{1,6}$/.test(digits) : /^[0-9]{1,7}$/.test(digits);
      const code = valid ? Number.parseInt(digits, hex ? 16 : 10) : -1;
      if (code < 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
        throw new PlistError(`invalid character reference &${ref}; near offset ${offset + amp}`);
      }
      decoded = String.fromCodePoint(code);
    } else {
      decoded = NAMED_ENTITIES[ref];
      if (decoded === undefined) {
        throw new PlistError(`unknown entity &${ref}; near offset ${offset + amp} (plists define only the XML built-ins)`);
      }
    }
    out += text.slice(last, amp) + decoded;
    last = semi + 1;
    amp = text.indexOf("&", last);
  }
  return out + text.slice(last);
}

class XmlPlistReader {
  private pos = 0;
  private depth = 0;
  private readonly s: string;
  private readonly wrapReals: boolean;
  private readonly maxDepth: number;

  constructor(s: string, options: PlistParseOptions) {
    this.s = s;
    this.wrapReals = options.reals === "wrap";
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  private fail(message: string, at = this.pos): never {
    throw new PlistError(`${message} at offset ${at}`);
  }

  parseDocument(): PlistValue {
    this.skipMisc(true);
    if (this.pos >= this.s.length) this.fail("empty document: no plist element");
    const tag = this.readOpenTag();
    let value: PlistValue;
    if (tag.name === "plist") {
      if (tag.selfClosing) this.fail("empty <plist/>", tag.start);
      this.skipMisc(false);
      if (this.s.startsWith("</", this.pos)) this.fail("<plist> holds no value");
      value = this.parseValue(this.readOpenTag());
      this.skipMisc(false);
      this.expectCloseTag("plist");
    } else {
      // Some writers omit the <plist> wrapper; CoreFoundation accepts a bare root value, so do we.
      value = this.parseValue(tag);
    }
    this.skipMisc(false);
    if (this.pos < this.s.length) this.fail("unexpected content after the root element");
    return value;
  }

  /** Skips whitespace, comments, processing instructions and (in the prolog) a DOCTYPE. */
  private skipMisc(prolog: boolean): void {
    const s = this.s;
    for (;;) {
      while (this.pos < s.length && isXmlSpace(s.charCodeAt(this.pos))) this.pos++;
      if (s.charCodeAt(this.pos) !== 0x3c /* < */) return;
      if (s.startsWith("<!--", this.pos)) {
        this.skipComment();
      } else if (s.startsWith("<?", this.pos)) {
        const end = s.indexOf("?>", this.pos + 2);
        if (end === -1) this.fail("unterminated processing instruction");
        this.pos = end + 2;
      } else if (prolog && s.startsWith("<!DOCTYPE", this.pos)) {
        this.skipDoctype();
      } else {
        return;
      }
    }
  }

  private skipComment(): void {
    const end = this.s.indexOf("-->", this.pos + 4);
    if (end === -1) this.fail("unterminated comment");
    this.pos = end + 3;
  }

  private skipDoctype(): void {
    const s = this.s;
    const start = this.pos;
    let i = this.pos + 9;
    let bracket = 0;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x22 || c === 0x27) {
        const close = s.indexOf(c === 0x22 ? '"' : "'", i + 1);
        if (close === -1) break;
        i = close + 1;
        continue;
      }
      if (c === 0x5b /* [ */) bracket++;
      else if (c === 0x5d /* ] */) bracket--;
      else if (c === 0x3e /* > */ && bracket <= 0) {
        this.pos = i + 1;
        return;
      }
      i++;
    }
    this.fail("unterminated DOCTYPE", start);
  }

  /** Skips whitespace and comments between elements; any other character data there is an error. */
  private skipBetweenElements(): void {
    const s = this.s;
    for (;;) {
      while (this.pos < s.length && isXmlSpace(s.charCodeAt(this.pos))) this.pos++;
      if (this.pos >= s.length) this.fail("unexpected end of document");
      if (s.charCodeAt(this.pos) !== 0x3c) {
        const snippet = s.slice(this.pos, this.pos + 20).split("<")[0];
        this.fail(`unexpected text ${JSON.stringify(snippet)} between elements`);
      }
      if (s.startsWith("<!--", this.pos)) this.skipComment();
      else if (s.startsWith("<?", this.pos)) {
        const end = s.indexOf("?>", this.pos + 2);
        if (end === -1) this.fail("unterminated processing instruction");
        this.pos = end + 2;
      } else return;
    }
  }

  private readOpenTag(): Tag {
    const s = this.s;
    const start = this.pos;
    if (s.charCodeAt(this.pos) !== 0x3c) this.fail("expected an element");
    let i = this.pos + 1;
    while (i < s.length && isNameChar(s.charCodeAt(i))) i++;
    const name = s.slice(this.pos + 1, i);
    if (name.length === 0) {
      if (s.charCodeAt(this.pos + 1) === 0x2f) this.fail("unexpected closing tag");
      this.fail("malformed tag");
    }
    // Attributes are irrelevant to plists (version="1.0"); skip them, honouring quotes so a '>' inside one is fine.
    for (;;) {
      if (i >= s.length) this.fail(`unterminated <${name}> tag`, start);
      const c = s.charCodeAt(i);
      if (c === 0x3e /* > */) {
        this.pos = i + 1;
        return { name, selfClosing: false, start };
      }
      if (c === 0x2f /* / */ && s.charCodeAt(i + 1) === 0x3e) {
        this.pos = i + 2;
        return { name, selfClosing: true, start };
      }
      if (c === 0x22 || c === 0x27) {
        const close = s.indexOf(c === 0x22 ? '"' : "'", i + 1);
        if (close === -1) this.fail(`unterminated attribute in <${name}>`, start);
        i = close + 1;
        continue;
      }
      if (c === 0x3c) this.fail(`malformed <${name}> tag`, start);
      i++;
    }
  }

  private expectCloseTag(name: string): void {
    const s = this.s;
    if (!s.startsWith("</", this.pos)) this.fail(`expected </${name}>`);
    let i = this.pos + 2;
    while (i < s.length && isNameChar(s.charCodeAt(i))) i++;
    const found = s.slice(this.pos + 2, i);
    if (found !== name) this.fail(`expected </${name}> but found </${found}>`);
    while (i < s.length && isXmlSpace(s.charCodeAt(i))) i++;
    if (s.charCodeAt(i) !== 0x3e) this.fail(`malformed </${name}> tag`);
    this.pos = i + 1;
  }

  /** Character content of a leaf element up to its end tag: references resolved, CDATA kept, comments dropped. */
  private readText(tag: Tag): string {
    if (tag.selfClosing) return "";
    const s = this.s;
    let out = "";
    for (;;) {
      const lt = s.indexOf("<", this.pos);
      if (lt === -1) this.fail(`unterminated <${tag.name}>`, tag.start);
      if (lt > this.pos) out += decodeXmlText(s.slice(this.pos, lt), this.pos);
      this.pos = lt;
      if (s.startsWith("</", lt)) {
        this.expectCloseTag(tag.name);
        return out;
      }
      if (s.startsWith("<![CDATA[", lt)) {
        const end = s.indexOf("]]>", lt + 9);
        if (end === -1) this.fail("unterminated CDATA section");
        const cdata = s.slice(lt + 9, end);
        out += cdata.indexOf("\r") === -1 ? cdata : cdata.replace(/\r\n?/g, "\n");
        this.pos = end + 3;
      } else if (s.startsWith("<!--", lt)) {
        this.skipComment();
      } else if (s.startsWith("<?", lt)) {
        const end = s.indexOf("?>", lt + 2);
        if (end === -1) this.fail("unterminated processing instruction");
        this.pos = end + 2;
      } else {
        this.fail(`unexpected element inside <${tag.name}>`);
      }
    }
  }

  private parseValue(tag: Tag): PlistValue {
    switch (tag.name) {
      case "dict":
        return this.parseDict(tag);
      case "array":
        return this.parseArray(tag);
      case "string":
        return unpinned(this.readText(tag));
      case "integer":
        return this.parseInteger(tag);
      case "real":
        return this.parseReal(tag);
      case "true":
      case "false":
        if (!tag.selfClosing && trimXmlSpace(this.readText(tag)) !== "") {
          this.fail(`<${tag.name}> must be empty`, tag.start);
        }
        return tag.name === "true";
      case "date":
        return this.parseDate(tag);
      case "data":
        return this.parseData(tag);
      case "key":
        return this.fail("<key> outside a <dict>", tag.start);
      case "plist":
        return this.fail("nested <plist>", tag.start);
      default:
        return this.fail(`unknown element <${tag.name}>`, tag.start);
    }
  }

  private enter(tag: Tag): void {
    if (++this.depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`, tag.start);
  }

  private parseDict(tag: Tag): PlistDict {
    const dict: PlistDict = {};
    if (tag.selfClosing) return dict;
    this.enter(tag);
    for (;;) {
      this.skipBetweenElements();
      if (this.s.startsWith("</", this.pos)) {
        this.expectCloseTag("dict");
        this.depth--;
        return dict;
      }
      const keyTag = this.readOpenTag();
      if (keyTag.name !== "key") this.fail(`expected <key> in <dict> but found <${keyTag.name}>`, keyTag.start);
      const key = unpinned(this.readText(keyTag));
      this.skipBetweenElements();
      if (this.s.startsWith("</", this.pos)) this.fail(`key ${JSON.stringify(key)} has no value`);
      setDictEntry(dict, key, this.parseValue(this.readOpenTag()));
    }
  }

  private parseArray(tag: Tag): PlistValue[] {
    const array: PlistValue[] = [];
    if (tag.selfClosing) return array;
    this.enter(tag);
    for (;;) {
      this.skipBetweenElements();
      if (this.s.startsWith("</", this.pos)) {
        this.expectCloseTag("array");
        this.depth--;
        return array;
      }
      array.push(this.parseValue(this.readOpenTag()));
    }
  }

  private parseInteger(tag: Tag): number | bigint {
    const text = trimXmlSpace(this.readText(tag));
    if (INTEGER_RE.test(text)) {
      if (text.length <= 15) return Number(text);
      return this.checkIntRange(BigInt(text), tag);
    }
    const hex = HEX_INTEGER_RE.exec(text);
    if (hex) {
      const magnitude = BigInt(`0x${hex[2]}`);
      return this.checkIntRange(hex[1] === "-" ? -magnitude : magnitude, tag);
    }
    return this.fail(`invalid <integer> ${JSON.stringify(text.slice(0, 40))}`, tag.start);
  }

  private checkIntRange(n: bigint, tag: Tag): number | bigint {
    if (n < PLIST_INT_MIN || n > PLIST_INT_MAX) this.fail("<integer> out of the 64-bit range", tag.start);
    return integerValue(n);
  }

  private parseReal(tag: Tag): number | PlistReal {
    const text = trimXmlSpace(this.readText(tag));
    let n: number;
    if (REAL_RE.test(text)) {
      n = Number(text);
    } else {
      const special = SPECIAL_REAL_RE.exec(text);
      if (!special) return this.fail(`invalid <real> ${JSON.stringify(text.slice(0, 40))}`, tag.start);
      const word = (special[2] ?? "").toLowerCase();
      n = word === "nan" ? Number.NaN : special[1] === "-" ? -Infinity : Infinity;
    }
    return this.wrapReals ? new PlistReal(n) : n;
  }

  private parseDate(tag: Tag): Date {
    const text = trimXmlSpace(this.readText(tag));
    const m = DATE_RE.exec(text);
    if (!m) return this.fail(`invalid <date> ${JSON.stringify(text.slice(0, 40))}`, tag.start);
    const num = (v: string | undefined, dflt: number): number => (v === undefined ? dflt : Number(v));
    const year = num(m[1], 0);
    const month = num(m[2], 1);
    const day = num(m[3], 1);
    const hour = num(m[4], 0);
    const minute = num(m[5], 0);
    const second = num(m[6], 0);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
      this.fail(`<date> field out of range in ${JSON.stringify(text)}`, tag.start);
    }
    const ms = m[7] === undefined ? 0 : Math.floor(Number(m[7]) * 1000);
    const date = new Date(0);
    date.setUTCFullYear(year, month - 1, day);
    date.setUTCHours(hour, minute, second, ms);
    const zone = m[8];
    if (zone !== undefined && zone !== "Z") {
      const sign = zone[0] === "-" ? -1 : 1;
      const digits = zone.slice(1).replace(":", "");
      const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
      date.setTime(date.getTime() - sign * offsetMinutes * 60_000);
    }
    return date;
  }

  private parseData(tag: Tag): Uint8Array {
    const text = this.readText(tag).replace(/[ \t\r\n]+/g, "");
    if (!BASE64_RE.test(text) || text.replace(/=+$/, "").length % 4 === 1) {
      this.fail("invalid base64 in <data>", tag.start);
    }
    return new Uint8Array(Buffer.from(text, "base64"));
  }
}

export function parseXmlPlistText(text: string, options: PlistParseOptions = {}): PlistValue {
  return new XmlPlistReader(text, options).parseDocument();
}

const ENCODING_DECL_RE = /^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/;

/** Decodes the document bytes: BOM first, then the XML declaration's encoding, then UTF-8; invalid bytes are an error. */
export function decodeXmlPlistBytes(bytes: Uint8Array): string {
  let label = "utf-8";
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    start = 3;
  } else if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    label = "utf-16be";
    start = 2;
  } else if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    label = "utf-16le";
    start = 2;
  } else {
    const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 200)).toString("latin1");
    const declared = ENCODING_DECL_RE.exec(head)?.[1]?.toLowerCase();
    if (declared !== undefined && declared !== "utf-8" && declared !== "utf8") label = declared;
  }
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(label, { fatal: true, ignoreBOM: true });
  } catch {
    throw new PlistError(`unsupported XML encoding ${JSON.stringify(label)}`);
  }
  try {
    return decoder.decode(bytes.subarray(start));
  } catch {
    throw new PlistError(`the document is not valid ${label}`);
  }
}
