// A zero-copy ASN.1 walker for the Mdm-Signature hot path: it reads tag/length headers over the caller's bytes
// and hands back offsets, never building a tree or copying content. Every request with an Mdm-Signature goes
// through it, so it allocates only the small Tlv records it returns.
//
// Liberal where CMS producers are (BER indefinite lengths on constructed values, non-minimal long-form lengths)
// and strict about bounds: every length is checked against its enclosing element, nesting is capped, and any
// inconsistency is a DerError.

export class DerError extends Error {
  override readonly name = "DerError";
}

export const DerTag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
  CONTEXT_0: 0xa0,
  CONTEXT_1: 0xa1,
  CONTEXT_3: 0xa3,
  /** [0] IMPLICIT on a primitive type (e.g. subjectKeyIdentifier in a SignerIdentifier). */
  CONTEXT_PRIMITIVE_0: 0x80,
} as const;

/** One element: `tag` is the first identifier octet; contents are [contentStart, contentEnd), the whole is [start, end). */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly contentEnd: number;
  readonly end: number;
  readonly indefinite: boolean;
}

const MAX_NESTING = 64;

/**
 * Reads the element at `at`, which must end by `limit`. An indefinite-length element's end is found by walking
 * its contents, unless `findEnd` is false: then its contentEnd and end are -1, for a caller that walks the
 * contents anyway (der.ts's tree builder; walking twice at every level would cost time in the nesting depth).
 */
export function readTlv(b: Uint8Array, at: number, limit: number, nesting = 0, findEnd = true): Tlv {
  if (nesting > MAX_NESTING) throw new DerError("ASN.1 nesting too deep");
  if (at >= limit) throw new DerError(`truncated ASN.1: expected an element at offset ${at}`);
  const tag = b[at] as number;
  let p = at + 1;
  if ((tag & 0x1f) === 0x1f) {
    // High tag numbers (never used by the structures read here) are skipped over, not interpreted.
    let n = 0;
    while (p < limit && ((b[p] as number) & 0x80) !== 0) {
      if (++n > 4) throw new DerError("ASN.1 tag number too large");
      p++;
    }
    p++;
  }
  if (p >= limit) throw new DerError(`truncated ASN.1 header at offset ${at}`);
  const first = b[p++] as number;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else if (first === 0x80) {
    if ((tag & 0x20) === 0) throw new DerError(`indefinite length on a primitive element at offset ${at}`);
    if (!findEnd) return { tag, start: at, contentStart: p, contentEnd: -1, end: -1, indefinite: true };
    return readIndefinite(b, at, tag, p, limit, nesting);
  } else {
    const count = first & 0x7f;
    if (count > 4) throw new DerError(`ASN.1 length of ${count} octets at offset ${at}`);
    if (p + count > limit) throw new DerError(`truncated ASN.1 length at offset ${at}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (b[p++] as number);
  }
  const end = p + length;
  if (end > limit) throw new DerError(`ASN.1 element at offset ${at} runs past its container (${length} bytes declared)`);
  return { tag, start: at, contentStart: p, contentEnd: end, end, indefinite: false };
}

function readIndefinite(b: Uint8Array, at: number, tag: number, contentStart: number, limit: number, nesting: number): Tlv {
  let p = contentStart;
  for (;;) {
    if (p + 2 > limit) throw new DerError(`indefinite-length element at offset ${at} has no end-of-contents`);
    if (b[p] === 0 && b[p + 1] === 0) {
      return { tag, start: at, contentStart, contentEnd: p, end: p + 2, indefinite: true };
    }
    p = readTlv(b, p, limit, nesting + 1).end;
  }
}

/** The elements directly inside a constructed element. */
export function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.contentStart;
  while (p < parent.contentEnd) {
    const child = readTlv(b, p, parent.contentEnd);
    out.push(child);
    p = child.end;
  }
  return out;
}

/** Reads the single top-level element of `b`; trailing bytes are an error. */
export function readRoot(b: Uint8Array): Tlv {
  const root = readTlv(b, 0, b.length);
  if (root.end !== b.length) throw new DerError(`${b.length - root.end} unexpected bytes after the ASN.1 value`);
  return root;
}

export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (tlv === undefined) throw new DerError(`missing ${what}`);
  if (tlv.tag !== tag) {
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)} but found 0x${tlv.tag.toString(16)} at offset ${tlv.start}`);
  }
  return tlv;
}

export function contentOf(b: Uint8Array, tlv: Tlv): Uint8Array {
  return b.subarray(tlv.contentStart, tlv.contentEnd);
}

export function encodingOf(b: Uint8Array, tlv: Tlv): Uint8Array {
  return b.subarray(tlv.start, tlv.end);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The content octets of an OBJECT IDENTIFIER, for comparing against parsed OIDs without decoding them. */
export function oidContent(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((a) => {
    if (!/^\d+$/.test(a)) throw new DerError(`bad OID "${dotted}"`);
    return Number(a);
  });
  const [a = 0, c = 0, ...rest] = arcs;
  if (arcs.length < 2 || a > 2 || (a < 2 && c > 39)) throw new DerError(`bad OID "${dotted}"`);
  const out: number[] = [];
  for (const arc of [a * 40 + c, ...rest]) {
    const groups: number[] = [];
    let v = arc;
    do {
      groups.unshift(v % 128);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = 0; i < groups.length - 1; i++) groups[i] = (groups[i] as number) | 0x80;
    out.push(...groups);
  }
  return Uint8Array.from(out);
}

export function oidEquals(b: Uint8Array, tlv: Tlv, content: Uint8Array): boolean {
  if (tlv.tag !== DerTag.OID || tlv.contentEnd - tlv.contentStart !== content.length) return false;
  for (let i = 0; i < content.length; i++) if (b[tlv.contentStart + i] !== content[i]) return false;
  return true;
}

/** Dotted form of an OID, for error messages and lookups off the hot path. */
export function oidToString(b: Uint8Array, tlv: Tlv): string {
  return decodeOid(b, tlv.contentStart, tlv.contentEnd);
}

/** Dotted form of the OBJECT IDENTIFIER content octets b[start, end). */
export function decodeOid(b: Uint8Array, start: number, end: number, what = "OBJECT IDENTIFIER"): string {
  if (start >= end) throw new DerError(`${what}: empty`);
  const arcs: number[] = [];
  let v = 0;
  for (let i = start; i < end; i++) {
    const byte = b[i] as number;
    if (v > 0x1ffffffffffff) throw new DerError(`${what}: arc too large`);
    v = v * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    } else if (i === end - 1) {
      throw new DerError(`${what}: truncated arc`);
    }
  }
  return arcs.join(".");
}

/** UTCTime (YYMMDDHHMMSSZ, years 1950–2049 per RFC 5280) or GeneralizedTime (YYYYMMDDHHMMSS[.f]Z). */
export function readTime(b: Uint8Array, tlv: Tlv): Date {
  return decodeTime(tlv.tag, b, tlv.contentStart, tlv.contentEnd);
}

/** Decodes the content octets b[start, end) of a UTCTime or GeneralizedTime (`tag` says which). */
export function decodeTime(tag: number, b: Uint8Array, start: number, end: number, what = "time"): Date {
  const text = Buffer.from(b.buffer, b.byteOffset + start, end - start).toString("latin1");
  let m: RegExpExecArray | null;
  let year: number;
  if (tag === DerTag.UTC_TIME) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text);
    if (!m) throw new DerError(`${what}: malformed UTCTime ${JSON.stringify(text)}`);
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (tag === DerTag.GENERALIZED_TIME) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.(\d+))?Z$/.exec(text);
    if (!m) throw new DerError(`${what}: malformed GeneralizedTime ${JSON.stringify(text)}`);
    year = Number(m[1]);
  } else {
    throw new DerError(`${what}: expected a time but found tag 0x${tag.toString(16)}`);
  }
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6] ?? "0");
  // Fractions of a second appear only in GeneralizedTime (RFC 5280 forbids them in certificates; CMS signingTime may have them).
  const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    throw new DerError(`${what}: time out of range ${JSON.stringify(text)}`);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date;
}
