import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Asn1Error,
  integer,
  octetString,
  octetStringValue,
  oid,
  parseAsn1,
  readIntegerBytes,
  readOid,
  readSmallInteger,
  readString,
  readTime,
  sequence,
  setOf,
  time,
  utf8String,
  printableString,
} from "./der.ts";
import { opensslOk } from "./test-support/openssl.ts";

describe("DER writer and reader", () => {
  it("round-trips OIDs, including large arcs, and matches openssl's encoding", () => {
    const oids = ["1.2.840.113549.1.7.2", "2.16.840.1.113733.1.9.7", "2.999.3", "1.3.6.1.4.1.311.20.2.3"];
    for (const o of oids) expect(readOid(parseAsn1(oid(o)))).toBe(o);
    const asn1 = opensslOk(["asn1parse", "-genstr", "OID:2.16.840.1.113733.1.9.7", "-out", "o.der", "-noout"], {
      outputs: ["o.der"],
    }).outputs["o.der"]!;
    expect(Buffer.from(oid("2.16.840.1.113733.1.9.7")).equals(asn1)).toBe(true);
  });

  it("round-trips arbitrary OIDs", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.nat(2 ** 40)), (a, b, rest) => {
        const dotted = [a, b, ...rest].join(".");
        expect(readOid(parseAsn1(oid(dotted)))).toBe(dotted);
      }),
    );
  });

  it("encodes INTEGERs minimally and positive", () => {
    expect(Buffer.from(integer(0)).toString("hex")).toBe("020100");
    expect(Buffer.from(integer(127)).toString("hex")).toBe("02017f");
    expect(Buffer.from(integer(128)).toString("hex")).toBe("02020080");
    expect(Buffer.from(integer(Uint8Array.of(0, 0, 0x81))).toString("hex")).toBe("02020081");
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 200n }), (v) => {
        const bytes = readIntegerBytes(parseAsn1(integer(v)));
        expect(BigInt("0x" + Buffer.from(bytes).toString("hex"))).toBe(v);
        expect(bytes[0]! & 0x80).toBe(0);
      }),
    );
    expect(readSmallInteger(parseAsn1(Uint8Array.of(2, 1, 0xff)))).toBe(-1);
  });

  it("sorts SET OF elements as DER requires", () => {
    const s = setOf(octetString(Uint8Array.of(2)), octetString(Uint8Array.of(1)), integer(5));
    expect(Buffer.from(s).toString("hex")).toBe("3109020105040101040102");
  });

  it("uses UTCTime before 2050 and GeneralizedTime after, and reads both back", () => {
    const d1 = new Date(Date.UTC(2031, 4, 6, 7, 8, 9));
    const d2 = new Date(Date.UTC(2061, 0, 2, 3, 4, 5));
    expect(Buffer.from(time(d1)).toString("latin1").slice(2)).toBe("310506070809Z");
    expect(Buffer.from(time(d2)).toString("latin1").slice(2)).toBe("20610102030405Z");
    expect(readTime(parseAsn1(time(d1))).getTime()).toBe(d1.getTime());
    expect(readTime(parseAsn1(time(d2))).getTime()).toBe(d2.getTime());
  });

  it("reads BER indefinite lengths and constructed OCTET STRINGs", () => {
    // SEQUENCE (indefinite) { OCTET STRING (constructed, indefinite) { "ab", "cd" } }
    const ber = Uint8Array.from([0x30, 0x80, 0x24, 0x80, 0x04, 0x02, 0x61, 0x62, 0x04, 0x02, 0x63, 0x64, 0, 0, 0, 0]);
    const node = parseAsn1(ber);
    expect(node.children).toHaveLength(1);
    expect(Buffer.from(octetStringValue(node.children[0]!)).toString()).toBe("abcd");
    // raw spans the end-of-contents octets, content does not; an element after a nested indefinite one is found.
    const nested = Uint8Array.from([0x30, 0x80, 0xa0, 0x80, 0x02, 0x01, 0x05, 0, 0, 0x05, 0x00, 0, 0]);
    const root = parseAsn1(nested);
    expect(root.raw).toHaveLength(13);
    expect(root.content).toHaveLength(9);
    expect(root.children.map((c) => [c.tag, c.raw.length, c.content.length])).toEqual([[0xa0, 7, 3], [0x05, 2, 0]]);
    expect(readSmallInteger(root.children[0]!.children[0])).toBe(5);
    expect(() => parseAsn1(nested.subarray(0, 12))).toThrow(/no end-of-contents/);
    expect(() => parseAsn1(Uint8Array.from([...nested, 0x05, 0x00]))).toThrow(/2 unexpected bytes/);
  });

  it("decodes the character string types", () => {
    expect(readString(parseAsn1(utf8String("grüße")))).toBe("grüße");
    expect(readString(parseAsn1(printableString("abc 123")))).toBe("abc 123");
    expect(readString(parseAsn1(Uint8Array.of(0x1e, 4, 0, 0x68, 0, 0x69)))).toBe("hi");
    // BER constructed PrintableString in two segments
    expect(readString(parseAsn1(Uint8Array.of(0x33, 0x80, 0x13, 1, 0x61, 0x13, 1, 0x62, 0, 0)))).toBe("ab");
  });

  it("fails cleanly on truncated or garbage input", () => {
    const good = sequence(integer(1), octetString(new Uint8Array(300)));
    for (let cut = 0; cut < good.length; cut += 7) {
      expect(() => parseAsn1(good.subarray(0, cut))).toThrow(Asn1Error);
    }
    expect(() => parseAsn1(Uint8Array.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff))).toThrow(Asn1Error);
    expect(() => parseAsn1(Uint8Array.of(0x30, 0x80))).toThrow(Asn1Error);
    expect(() => parseAsn1(Uint8Array.of(0x1f, 0x81, 0x01, 0x00))).toThrow(Asn1Error);
    // deep nesting is refused rather than overflowing the stack
    let deep: Uint8Array = Uint8Array.of(0x05, 0x00);
    for (let i = 0; i < 100; i++) deep = sequence(deep);
    expect(() => parseAsn1(deep)).toThrow(/too deep/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          parseAsn1(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(Asn1Error);
        }
      }),
    );
  });
});
