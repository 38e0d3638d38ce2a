import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { DerError, DerTag, children, expectTag, oidContent, oidEquals, oidToString, readRoot, readTime, readTlv } from "./der-reader.ts";

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ""), "hex"));

describe("readTlv", () => {
  it("reads short and long definite lengths", () => {
    const short = hex("04 03 010203");
    expect(readTlv(short, 0, short.length)).toMatchObject({ tag: 0x04, contentStart: 2, contentEnd: 5, end: 5, indefinite: false });
    const long = new Uint8Array([0x04, 0x82, 0x01, 0x00, ...new Array<number>(256).fill(7)]);
    expect(readTlv(long, 0, long.length)).toMatchObject({ contentStart: 4, contentEnd: 260 });
  });

  it("reads nested indefinite lengths and stops at the matching end-of-contents", () => {
    // SEQUENCE(indef) { [0](indef) { INTEGER 5 } EOC, NULL } EOC
    const b = hex("30 80 a0 80 02 01 05 00 00 05 00 00 00");
    const root = readRoot(b);
    expect(root).toMatchObject({ indefinite: true, contentStart: 2, contentEnd: 11, end: 13 });
    const [tagged, nul] = children(b, root);
    expect(tagged).toMatchObject({ tag: 0xa0, indefinite: true, end: 9 });
    expect(nul).toMatchObject({ tag: DerTag.NULL });
    expect(children(b, tagged!)).toHaveLength(1);
  });

  const bad: [string, string, RegExp][] = [
    ["empty input", "", /truncated ASN.1/],
    ["length past the end", "04 05 0102", /runs past its container/],
    ["truncated long length", "04 82 01", /truncated ASN.1 length/],
    ["five-octet length", "04 85 0000000001 00", /length of 5 octets/],
    ["indefinite primitive", "04 80 00 00", /indefinite length on a primitive/],
    ["missing end-of-contents", "30 80 02 01 05", /no end-of-contents/],
    ["trailing bytes", "05 00 05 00", /unexpected bytes after/],
    ["huge tag number", "1f ff ff ff ff ff 01 00", /tag number too large/],
  ];
  for (const [name, input, message] of bad) {
    it(`rejects ${name}`, () => {
      const b = hex(input);
      expect(() => readRoot(b)).toThrow(DerError);
      expect(() => readRoot(b)).toThrow(message);
    });
  }

  it("bounds nesting of indefinite lengths", () => {
    const depth = 200;
    const b = new Uint8Array([...new Array<number>(depth).fill(0).flatMap(() => [0x30, 0x80]), ...new Array<number>(depth * 2).fill(0)]);
    expect(() => readRoot(b)).toThrow(/nesting too deep/);
  });

  it("never throws anything but DerError on random bytes", () => {
    let seed = 7;
    for (let i = 0; i < 5000; i++) {
      const len = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 40;
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
      try {
        const root = readRoot(b);
        if (root.tag & 0x20) children(b, root);
      } catch (error) {
        expect(error).toBeInstanceOf(DerError);
      }
    }
  });
});

describe("OIDs", () => {
  it("encodes and decodes as openssl does", () => {
    const dir = mkdtempSync(join(tmpdir(), "orchard-der-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    for (const oid of ["1.2.840.113549.1.7.2", "2.5.29.37", "1.3.6.1.5.5.7.3.2", "2.16.840.1.101.3.4.2.1", "1.2.840.10045.4.3.2", "2.999.3"]) {
      const out = join(dir, "oid.der");
      execFileSync("openssl", ["asn1parse", "-genstr", `OID:${oid}`, "-noout", "-out", out]);
      const b = new Uint8Array(readFileSync(out));
      const tlv = readRoot(b);
      expect(Buffer.from(b.subarray(tlv.contentStart, tlv.contentEnd))).toEqual(Buffer.from(oidContent(oid)));
      expect(oidToString(b, tlv)).toBe(oid);
      expect(oidEquals(b, tlv, oidContent(oid))).toBe(true);
      expect(oidEquals(b, tlv, oidContent("1.2.3"))).toBe(false);
    }
  });

  it("refuses OIDs that have no encoding, and content that is no OID", () => {
    for (const bad of ["", "1", "3.1", "1.40", "1.2.x", "1..2"]) expect(() => oidContent(bad), bad).toThrow(DerError);
    const oid = (h: string) => {
      const b = hex(h);
      return oidToString(b, readRoot(b));
    };
    expect(() => oid("06 00")).toThrow(/empty/);
    expect(() => oid("06 02 2a 86")).toThrow(/truncated arc/);
    expect(() => oid("06 0a 2a ff ff ff ff ff ff ff ff 7f")).toThrow(/arc too large/);
  });
});

describe("readTime", () => {
  const time = (tag: number, s: string) => {
    const b = new Uint8Array([tag, s.length, ...Buffer.from(s, "latin1")]);
    return readTime(b, readRoot(b));
  };
  it("reads UTCTime with the RFC 5280 century rule and GeneralizedTime", () => {
    expect(time(DerTag.UTC_TIME, "491231235959Z").toISOString()).toBe("2049-12-31T23:59:59.000Z");
    expect(time(DerTag.UTC_TIME, "500101000000Z").toISOString()).toBe("1950-01-01T00:00:00.000Z");
    expect(time(DerTag.GENERALIZED_TIME, "20500101000000Z").toISOString()).toBe("2050-01-01T00:00:00.000Z");
    expect(time(DerTag.GENERALIZED_TIME, "99991231235959Z").toISOString()).toBe("9999-12-31T23:59:59.000Z");
    expect(time(DerTag.GENERALIZED_TIME, "20260102030405.25Z").toISOString()).toBe("2026-01-02T03:04:05.250Z");
  });
  it("rejects malformed times", () => {
    expect(() => time(DerTag.UTC_TIME, "20010100Z")).toThrow(DerError);
    expect(() => time(DerTag.UTC_TIME, "201301000000Z")).toThrow(/out of range/);
    expect(() => time(DerTag.GENERALIZED_TIME, "20200101000000")).toThrow(DerError);
    expect(() => time(DerTag.INTEGER, "1")).toThrow(/expected a time/);
  });
});

describe("expectTag", () => {
  it("names what was expected", () => {
    const b = hex("02 01 05");
    expect(() => expectTag(readRoot(b), DerTag.SEQUENCE, "SignedData")).toThrow(/SignedData: expected tag 0x30 but found 0x2/);
    expect(() => expectTag(undefined, DerTag.SEQUENCE, "signerInfos")).toThrow(/missing signerInfos/);
  });
});
