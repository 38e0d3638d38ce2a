// X.509 v3 extensions (RFC 5280 4.2): encoders for the ones Orchard issues, decoders for the ones it reads.

import { createHash } from "node:crypto";
import { isIP } from "node:net";
import {
  Asn1Error,
  Tag,
  bitString,
  boolean,
  child,
  contextTag,
  expectTag,
  integer,
  octetString,
  octetStringValue,
  oid,
  parseAsn1,
  readBitString,
  readBoolean,
  readOid,
  readSmallInteger,
  readString,
  sequence,
  tlv,
  utf8String,
  explicit,
  type Asn1Node,
} from "./der.ts";
import { OID } from "./oids.ts";

export interface Extension {
  oid: string;
  critical: boolean;
  /** The extnValue contents: the DER of the extension's own structure. */
  value: Uint8Array;
}

export const KEY_USAGES = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

export type GeneralName =
  | { type: "dns"; value: string }
  | { type: "ip"; value: string }
  | { type: "email"; value: string }
  | { type: "uri"; value: string }
  /** Microsoft UPN otherName (Apple's SCEP payload calls it ntPrincipalName). */
  | { type: "upn"; value: string }
  | { type: "other"; tag: number; der: Uint8Array };

const UPN_OID = "1.3.6.1.4.1.311.20.2.3";

// ---- encoding --------------------------------------------------------------------------------

export function encodeExtension(ext: Extension): Uint8Array {
  return ext.critical
    ? sequence(oid(ext.oid), boolean(true), octetString(ext.value))
    : sequence(oid(ext.oid), octetString(ext.value));
}

export function encodeExtensions(exts: readonly Extension[]): Uint8Array {
  return sequence(...exts.map(encodeExtension));
}

export function basicConstraints(ca: boolean, pathLength?: number): Extension {
  const parts: Uint8Array[] = [];
  if (ca) parts.push(boolean(true));
  if (ca && pathLength !== undefined) parts.push(integer(pathLength));
  return { oid: OID.basicConstraints, critical: true, value: sequence(...parts) };
}

export function keyUsage(usages: readonly KeyUsage[]): Extension {
  let bits = 0;
  for (const u of usages) bits |= 1 << KEY_USAGES.indexOf(u);
  // Named bit list in DER: bit 0 is the most significant bit of the first octet, trailing zero bits dropped.
  const bytes = [(reverse8(bits & 0xff)), reverse8((bits >> 8) & 0xff)];
  while (bytes.length > 0 && bytes[bytes.length - 1] === 0) bytes.pop();
  let unused = 0;
  if (bytes.length > 0) {
    const last = bytes[bytes.length - 1]!;
    while (((last >> unused) & 1) === 0) unused++;
  }
  return { oid: OID.keyUsage, critical: true, value: bitString(Uint8Array.from(bytes), unused) };
}

function reverse8(b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) r |= ((b >> i) & 1) << (7 - i);
  return r;
}

export function extendedKeyUsage(oids: readonly string[]): Extension {
  return { oid: OID.extKeyUsage, critical: false, value: sequence(...oids.map(oid)) };
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const node = parseAsn1(spki);
  const { bytes } = readBitString(node.children[1], "subjectPublicKey");
  return new Uint8Array(createHash("sha1").update(bytes).digest());
}

export function subjectKeyIdentifier(spki: Uint8Array): Extension {
  return { oid: OID.subjectKeyIdentifier, critical: false, value: octetString(keyIdentifier(spki)) };
}

export function authorityKeyIdentifier(keyId: Uint8Array): Extension {
  return { oid: OID.authorityKeyIdentifier, critical: false, value: sequence(tlv(0x80, keyId)) };
}

export function subjectAltName(names: readonly GeneralName[], critical = false): Extension {
  return { oid: OID.subjectAltName, critical, value: sequence(...names.map(encodeGeneralName)) };
}

export function encodeGeneralName(name: GeneralName): Uint8Array {
  switch (name.type) {
    case "email":
      return tlv(0x81, Buffer.from(name.value, "latin1"));
    case "dns":
      return tlv(0x82, Buffer.from(name.value, "latin1"));
    case "uri":
      return tlv(0x86, Buffer.from(name.value, "latin1"));
    case "ip":
      return tlv(0x87, ipToBytes(name.value));
    case "upn":
      return tlv(0xa0, oid(UPN_OID), explicit(0, utf8String(name.value)));
    case "other":
      return Uint8Array.from(name.der);
  }
}

export function ipToBytes(ip: string): Uint8Array {
  const kind = isIP(ip);
  if (kind === 4) return Uint8Array.from(ip.split(".").map(Number));
  if (kind !== 6) throw new Asn1Error(`not an IP address: "${ip}"`);
  let text = ip;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tail.push(...v4[1]!.split(".").map(Number));
    text = text.slice(0, -v4[1]!.length) + "0:0";
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((h) => parseInt(h, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.length !== 16) return Buffer.from(bytes).toString("hex");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the longest run (length >= 2) of zero groups.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

// ---- decoding --------------------------------------------------------------------------------

/** Decodes an Extensions SEQUENCE (certificate [3] content or a CSR extensionRequest value). */
export function decodeExtensions(node: Asn1Node): Extension[] {
  expectTag(node, Tag.SEQUENCE, "Extensions");
  return node.children.map((e) => {
    expectTag(e, Tag.SEQUENCE, "Extension");
    const extOid = readOid(e.children[0], "extnID");
    let i = 1;
    let critical = false;
    if (e.children[i]?.tag === Tag.BOOLEAN) critical = readBoolean(e.children[i++], "critical");
    const value = octetStringValue(expectTag(e.children[i], Tag.OCTET_STRING, "extnValue"));
    return { oid: extOid, critical, value };
  });
}

export function findExtension(exts: readonly Extension[], extOid: string): Extension | undefined {
  return exts.find((e) => e.oid === extOid);
}

export function decodeKeyUsage(ext: Extension): KeyUsage[] {
  const { bytes } = readBitString(parseAsn1(ext.value), "keyUsage");
  const out: KeyUsage[] = [];
  KEY_USAGES.forEach((name, bit) => {
    const byte = bytes[bit >> 3] ?? 0;
    if ((byte >> (7 - (bit & 7))) & 1) out.push(name);
  });
  return out;
}

export function decodeExtendedKeyUsage(ext: Extension): string[] {
  return parseAsn1(ext.value).children.map((c) => readOid(c, "keyPurposeId"));
}

export function decodeBasicConstraints(ext: Extension): { ca: boolean; pathLength?: number } {
  const node = expectTag(parseAsn1(ext.value), Tag.SEQUENCE, "basicConstraints");
  let ca = false;
  let pathLength: number | undefined;
  for (const c of node.children) {
    if (c.tag === Tag.BOOLEAN) ca = readBoolean(c);
    else if (c.tag === Tag.INTEGER) pathLength = readSmallInteger(c);
  }
  return pathLength === undefined ? { ca } : { ca, pathLength };
}

export function decodeKeyIdentifier(ext: Extension): Uint8Array {
  return octetStringValue(parseAsn1(ext.value), "subjectKeyIdentifier");
}

export function decodeAuthorityKeyIdentifier(ext: Extension): Uint8Array | undefined {
  const node = parseAsn1(ext.value);
  const id = node.children.find((c) => contextTag(c) === 0 && !c.constructed);
  return id?.content;
}

export function decodeSubjectAltName(ext: Extension): GeneralName[] {
  return parseAsn1(ext.value).children.map(decodeGeneralName);
}

function decodeGeneralName(node: Asn1Node): GeneralName {
  const text = () => Buffer.from(node.content).toString("latin1");
  switch (node.tag) {
    case 0x81:
      return { type: "email", value: text() };
    case 0x82:
      return { type: "dns", value: text() };
    case 0x86:
      return { type: "uri", value: text() };
    case 0x87:
      return { type: "ip", value: bytesToIp(node.content) };
    case 0xa0: {
      if (readOid(node.children[0]) === UPN_OID) {
        const inner = child(child(node, 1, "otherName value"), 0, "UPN");
        return { type: "upn", value: readString(inner, "UPN") };
      }
      return { type: "other", tag: node.tag, der: node.raw };
    }
    default:
      return { type: "other", tag: node.tag, der: node.raw };
  }
}
