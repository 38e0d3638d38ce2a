import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  PlistError,
  PlistReal,
  PlistUid,
  buildBinaryPlist,
  buildPlist,
  parsePlist,
} from "./plist.ts";
import type { PlistInput, PlistValue } from "./plist.ts";
import {
  canonicalFromOracle,
  canonicalFromOrchard,
  pythonParse,
} from "../../test/fixtures/plist/python-oracle.ts";
import type { OracleValue } from "../../test/fixtures/plist/python-oracle.ts";
import { plistValueArbitrary } from "../../test/fixtures/plist/arbitraries.ts";

const FIXTURES = join(import.meta.dirname, "../../test/fixtures/plist");
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const wrap = { reals: "wrap" } as const;

function expectPlistError(input: Uint8Array | string, message: RegExp): void {
  let thrown: unknown;
  try {
    parsePlist(input);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected a PlistError for ${String(input).slice(0, 80)}`).toBeInstanceOf(PlistError);
  expect((thrown as PlistError).message).toMatch(message);
}

describe("parsePlist: fixtures written by Python's plistlib", () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".xml") || f.endsWith(".bplist"));
  it("has both XML and binary fixtures", () => {
    expect(files.filter((f) => f.endsWith(".xml")).length).toBeGreaterThanOrEqual(5);
    expect(files.filter((f) => f.endsWith(".bplist")).length).toBeGreaterThanOrEqual(7);
  });
  for (const file of files) {
    it(`reads ${file} exactly as plistlib wrote it`, () => {
      const expected = JSON.parse(
        readFileSync(join(FIXTURES, file.replace(/\.(xml|bplist)$/, ".expected.json")), "utf8"),
      ) as OracleValue;
      const value = parsePlist(readFileSync(join(FIXTURES, file)), wrap);
      expect(canonicalFromOrchard(value)).toEqual(canonicalFromOracle(expected));
    });
  }

  it("gives plain numbers for reals by default and exact bigints beyond 2^53", () => {
    const value = parsePlist(readFileSync(join(FIXTURES, "all-types.xml"))) as Record<string, PlistValue[]>;
    expect(value.reals?.[1]).toBe(5);
    expect(value.reals?.[2]).toBe(0.1);
    expect(value.ints).toContain(2 ** 53 - 1);
    expect(value.ints).toContain(2n ** 53n + 1n);
    expect(value.ints).toContain(2n ** 64n - 1n);
    expect(value.ints).toContain(-(2n ** 63n));
    const binary = parsePlist(readFileSync(join(FIXTURES, "all-types.bplist"))) as Record<string, PlistValue[]>;
    expect(binary.ints).toEqual(value.ints);
  });

  it("reads a check-in message with non-ASCII text from both encodings alike", () => {
    const xml = parsePlist(readFileSync(join(FIXTURES, "authenticate.xml")));
    const bin = parsePlist(readFileSync(join(FIXTURES, "authenticate.bplist")));
    expect(xml).toEqual(bin);
    expect((xml as Record<string, string>).DeviceName).toBe("Jörg's iPhone — “work”");
  });
});

// Hand-written XML in the shapes clients send. Each is checked against plistlib; the few where Orchard is
// deliberately more liberal than plistlib are listed separately below.
const XML_CASES: Record<string, string> = {
  compact: `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>Status</key><string>Idle</string><key>UDID</key><string>abc</string></dict></plist>`,
  "numeric references": `<plist version="1.0"><dict><key>it&#39;s</key><string>it&#39;s &#x27;x&#x27; &#x41;&#65;&#x1F34F; &#233;</string></dict></plist>`,
  "named entities": `<plist><dict><key>a&amp;b</key><string>&lt;&gt;&amp;&quot;&apos;</string></dict></plist>`,
  cdata: `<plist><array><string><![CDATA[<not a tag> & stuff]]></string><string>a<![CDATA[]]>b<![CDATA[c]]></string></array></plist>`,
  "data with whitespace": `<plist><array><data>
\tAAECAwQF
\tBgcICQ==
\t</data><data></data><data/><data>  </data><data>AA==</data></array></plist>`,
  "empty containers": `<plist><dict><key>a</key><dict/><key>b</key><array/><key>c</key><dict></dict><key>d</key><array>
</array><key>e</key><string/><key>f</key><string></string></dict></plist>`,
  integers: `<plist><array><integer>-5</integer><integer>0</integer><integer> 42 </integer><integer>18446744073709551615</integer><integer>-9223372036854775808</integer><integer>9007199254740993</integer><integer>+7</integer><integer>0x1F</integer></array></plist>`,
  reals: `<plist><array><real>5.0</real><real>5</real><real>-0.5</real><real>1e10</real><real>1.5E-3</real><real>.5</real><real>nan</real><real>inf</real><real>-inf</real><real>-Infinity</real></array></plist>`,
  dates: `<plist><array><date>2024-03-14T15:09:26Z</date><date>1970-01-01T00:00:00Z</date><date>2001-01-01T00:00:00Z</date><date>1850-06-01T12:00:00Z</date><date>2024-03-14Z</date></array></plist>`,
  booleans: `<plist><array><true/><false/><true /><false></false></array></plist>`,
  "BOM and DOCTYPE": `\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0"><string>x</string></plist>`,
  "DOCTYPE with internal subset": `<?xml version="1.0"?><!DOCTYPE plist [ <!ELEMENT plist ANY> ]><plist><string>y</string></plist>`,
  comments: `<?xml version="1.0"?><!-- a --><plist><!-- b --><dict><!-- c --><key>k</key><!-- d --><string>v<!-- e -->w</string><!-- f --></dict></plist><!-- g -->`,
  "CRLF line ends": `<plist version="1.0">\r\n<dict>\r\n\t<key>a</key>\r\n\t<string>line1\r\nline2\rline3&#13;</string>\r\n</dict>\r\n</plist>\r\n`,
  "tab-indented nested": `<plist version="1.0">\n<dict>\n\t<key>QueryResponses</key>\n\t<dict>\n\t\t<key>List</key>\n\t\t<array>\n\t\t\t<dict>\n\t\t\t\t<key>n</key>\n\t\t\t\t<integer>1</integer>\n\t\t\t</dict>\n\t\t</array>\n\t</dict>\n</dict>\n</plist>\n`,
  "duplicate keys": `<plist><dict><key>a</key><string>1</string><key>a</key><string>2</string></dict></plist>`,
  "__proto__ key": `<plist><dict><key>__proto__</key><dict><key>polluted</key><true/></dict></dict></plist>`,
  "unicode text": `<plist><string>日本語 🍏 ümlaut</string></plist>`,
  "latin-1 declared": `<?xml version="1.0" encoding="ISO-8859-1"?><plist><string>caf\u00e9</string></plist>`,
};

describe("parsePlist: XML shapes clients send, checked against plistlib", () => {
  const names = Object.keys(XML_CASES);
  const bytes = names.map((n) => {
    const text = XML_CASES[n] ?? "";
    return n === "latin-1 declared" ? Buffer.from(text, "latin1") : enc(text);
  });
  const oracle = pythonParse(bytes);
  names.forEach((name, i) => {
    it(name, () => {
      const expected = oracle[i];
      if (expected === undefined || "error" in expected) throw new Error(`plistlib rejected ${name}: ${JSON.stringify(expected)}`);
      expect(canonicalFromOrchard(parsePlist(bytes[i] as Uint8Array, wrap))).toEqual(canonicalFromOracle(expected.value));
    });
  });

  it("keeps __proto__ as an own key and leaves the prototype alone", () => {
    const value = parsePlist(XML_CASES["__proto__ key"] ?? "") as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("accepts a string input as well as bytes", () => {
    expect(parsePlist(XML_CASES.compact ?? "")).toEqual({ Status: "Idle", UDID: "abc" });
  });
});

describe("parsePlist: where Orchard is more liberal than plistlib", () => {
  it("accepts base64 without padding", () => {
    expect(parsePlist("<plist><data>AAEC AwQ</data></plist>")).toEqual(new Uint8Array([0, 1, 2, 3, 4]));
  });
  it("accepts dates with fractions and offsets", () => {
    expect(parsePlist("<plist><date>2024-03-14T15:09:26.5+01:00</date></plist>")).toEqual(new Date("2024-03-14T14:09:26.500Z"));
    expect(parsePlist("<plist><date>2024-03-14T15:09:26</date></plist>")).toEqual(new Date("2024-03-14T15:09:26Z"));
  });
  it("accepts an upper-case X in hex character references and documents that start with a comment", () => {
    expect(parsePlist("<plist><string>&#X41;</string></plist>")).toBe("A");
    expect(parsePlist("<!-- generated --><plist><string>x</string></plist>")).toBe("x");
  });
  it("reads -0.0 as negative zero", () => {
    expect(Object.is(parsePlist("<plist><real>-0.0</real></plist>"), -0)).toBe(true);
    expect(Object.is(parsePlist(buildBinaryPlist(new PlistReal(-0))), -0)).toBe(true);
  });
  it("accepts UTF-16 documents with a BOM", () => {
    const text = '<?xml version="1.0" encoding="UTF-16"?><plist><string>ü</string></plist>';
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
    expect(parsePlist(le)).toBe("ü");
    const be = Buffer.from(le);
    be.swap16();
    expect(parsePlist(be)).toBe("ü");
  });
});

describe("parsePlist: malformed XML gives a PlistError naming the problem", () => {
  const cases: [string, string, RegExp][] = [
    ["empty input", "", /empty document/],
    ["whitespace only", "  \n ", /empty document/],
    ["not XML", "hello", /expected an element/],
    ["dict key without value", "<plist><dict><key>a</key></dict></plist>", /key "a" has no value/],
    ["value without key", "<plist><dict><string>x</string></dict></plist>", /expected <key> in <dict> but found <string>/],
    ["unknown element", "<plist><foo/></plist>", /unknown element <foo>/],
    ["unclosed string", "<plist><string>abc", /unterminated <string>/],
    ["mismatched close", "<plist><string>abc</integer></plist>", /expected <\/string> but found <\/integer>/],
    ["unknown entity", "<plist><string>&nbsp;</string></plist>", /unknown entity &nbsp;/],
    ["bare ampersand", "<plist><string>a & b</string></plist>", /character or entity reference/],
    ["bad char ref", "<plist><string>&#xD800;</string></plist>", /invalid character reference/],
    ["huge char ref", "<plist><string>&#99999999;</string></plist>", /invalid character reference/],
    ["bad integer", "<plist><integer>12a</integer></plist>", /invalid <integer>/],
    ["empty integer", "<plist><integer/></plist>", /invalid <integer>/],
    ["integer too big", "<plist><integer>18446744073709551616</integer></plist>", /out of the 64-bit range/],
    ["integer too small", "<plist><integer>-9223372036854775809</integer></plist>", /out of the 64-bit range/],
    ["bad real", "<plist><real>1.2.3</real></plist>", /invalid <real>/],
    ["bad date", "<plist><date>yesterday</date></plist>", /invalid <date>/],
    ["date out of range", "<plist><date>2024-13-01T00:00:00Z</date></plist>", /out of range/],
    ["bad base64", "<plist><data>!!!!</data></plist>", /invalid base64/],
    ["truncated base64", "<plist><data>AAAAA</data></plist>", /invalid base64/],
    ["text between elements", "<plist><dict>junk<key>a</key><true/></dict></plist>", /unexpected text "junk"/],
    ["element inside string", "<plist><string><b>x</b></string></plist>", /unexpected element inside <string>/],
    ["two roots", "<plist><true/></plist><plist><true/></plist>", /after the root element/],
    ["empty plist", "<plist></plist>", /holds no value/],
    ["self-closed plist", "<plist/>", /empty <plist\/>/],
    ["key outside dict", "<plist><key>a</key></plist>", /<key> outside a <dict>/],
    ["non-empty true", "<plist><true>yes</true></plist>", /must be empty/],
    ["unterminated comment", "<plist><!-- x</plist>", /unterminated comment/],
    ["unterminated tag", '<plist><dict a="1', /unterminated/],
    ["unterminated CDATA", "<plist><string><![CDATA[x</string></plist>", /unterminated CDATA/],
    ["stray close tag", "</plist>", /unexpected closing tag/],
    ["unterminated array", "<plist><array><true/>", /unexpected end of document/],
  ];
  for (const [name, input, message] of cases) {
    it(name, () => expectPlistError(enc(input), message));
  }

  it("rejects bytes that are not UTF-8", () => expectPlistError(Uint8Array.of(0x3c, 0x70, 0xff, 0xfe, 0x3e), /not valid utf-8/));

  it("bounds nesting depth instead of overflowing the stack", () => {
    const deep = `<plist>${"<array>".repeat(100_000)}${"</array>".repeat(100_000)}</plist>`;
    expectPlistError(deep, /nesting deeper than 256 levels/);
    const ok = `<plist>${"<array>".repeat(200)}${"</array>".repeat(200)}</plist>`;
    expect(() => parsePlist(ok)).not.toThrow();
    expect(() => parsePlist(ok, { maxDepth: 100 })).toThrow(PlistError);
  });

  it("agrees with plistlib that each malformed case is malformed", () => {
    // Cases where Orchard is liberal are excluded above; everything it rejects, plistlib rejects too.
    const results = pythonParse(cases.map(([, input]) => enc(input)));
    const accepted = results.flatMap((r, i) => ("error" in r ? [] : [cases[i]?.[0]]));
    expect(accepted.filter((n) => !PLISTLIB_LAXER.includes(n ?? ""))).toEqual([]);
  });
});

// Inputs plistlib accepts that Orchard rejects on purpose: text or elements where they cannot be, a value in
// <true>, integers CoreFoundation cannot hold, and base64 with invalid characters (plistlib drops them silently).
const PLISTLIB_LAXER = [
  "text between elements",
  "element inside string",
  "non-empty true",
  "integer too big",
  "integer too small",
  "bad base64",
];

describe("parsePlist: binary plists", () => {
  const sample: PlistInput = {
    s: "ascii",
    u: "ünï©ødé 🍏",
    i: [0, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -1, 2n ** 63n - 1n, 2n ** 64n - 1n, -(2n ** 63n)],
    r: [new PlistReal(5), 0.25, -1e300],
    d: new Date("2024-03-14T15:09:26Z"),
    b: new Uint8Array([1, 2, 3]),
    e: new Uint8Array(0),
    t: true,
    f: false,
    n: { a: [{}, []] },
    long: "x".repeat(100),
    uid: new PlistUid(300),
  };

  it("reads every offset and reference width 1..8, and plistlib reads the same bytes the same way", () => {
    const files: Uint8Array[] = [];
    for (let offsetIntSize = 1; offsetIntSize <= 8; offsetIntSize++) {
      for (let objectRefSize = 1; objectRefSize <= 8; objectRefSize++) {
        const { uid: _uid, ...withoutUid } = sample as Record<string, PlistInput>;
        if (offsetIntSize === 1) continue; // the sample is larger than 255 bytes
        files.push(buildBinaryPlist(objectRefSize % 2 ? sample : withoutUid, { offsetIntSize, objectRefSize }));
      }
    }
    const oracle = pythonParse(files);
    files.forEach((file, i) => {
      const expected = oracle[i];
      if (expected === undefined || "error" in expected) throw new Error(`plistlib rejected file ${i}: ${JSON.stringify(expected)}`);
      expect(canonicalFromOrchard(parsePlist(file, wrap))).toEqual(canonicalFromOracle(expected.value));
    });
    expect(files.length).toBe(56);
  });

  it("reads 1-byte offsets", () => {
    const small = buildBinaryPlist({ a: 1 }, { offsetIntSize: 1, objectRefSize: 1 });
    expect(parsePlist(small)).toEqual({ a: 1 });
  });

  it("reads 4-byte reals and 16-byte integers as plistlib does", () => {
    // Hand-assembled: [float32 1.5, int128 2^64-1, int128 -2].
    const objects = [
      Uint8Array.of(0xa3, 1, 2, 3),
      Uint8Array.of(0x22, 0x3f, 0xc0, 0x00, 0x00),
      Uint8Array.of(0x14, ...new Array<number>(8).fill(0), ...new Array<number>(8).fill(0xff)),
      Uint8Array.of(0x14, ...new Array<number>(15).fill(0xff), 0xfe),
    ];
    const file = assemble(objects, 0);
    expect(parsePlist(file)).toEqual([1.5, 2n ** 64n - 1n, -2]);
    const [oracle] = pythonParse([file]);
    expect(oracle && "value" in oracle ? oracle.value : oracle).toEqual({
      array: [{ real: "1.5" }, { integer: "18446744073709551615" }, { integer: "-2" }],
    });
  });

  it("reads UTF-8 strings (marker 0x7, newer CoreFoundation; plistlib lacks it)", () => {
    expect(parsePlist(assemble([Uint8Array.of(0x72, 0xc3, 0xa9)], 0))).toBe("é");
  });

  it("reads UIDs from a keyed archive", () => {
    const value = parsePlist(readFileSync(join(FIXTURES, "uid.bplist"))) as Record<string, PlistValue>;
    expect(value.uids).toEqual([new PlistUid(0), new PlistUid(255), new PlistUid(65536)]);
  });

  const malformed: [string, Uint8Array, RegExp][] = [
    ["wrong version", Buffer.from("bplist15" + "\0".repeat(40), "latin1"), /unsupported binary plist version/],
    ["too short", Buffer.from("bplist00\0\0", "latin1"), /too short/],
    ["zero offset size", withTrailer({ offsetIntSize: 0 }), /offset size 0/],
    ["nine-byte refs", withTrailer({ objectRefSize: 9 }), /reference size 9/],
    ["no objects", withTrailer({ numObjects: 0n }), /no objects/],
    ["top object out of range", withTrailer({ topObject: 5n }), /top object/],
    ["offset table past the end", withTrailer({ offsetTableOffset: 10_000n }), /offset table lies outside/],
    ["absurd object count", withTrailer({ numObjects: 2n ** 62n }), /absurdly large/],
    ["object offset inside the header", assembleRaw([Uint8Array.of(0x09)], [2]), /offset outside the object area/],
    ["string longer than the file", assemble([Uint8Array.of(0x5f, 0x10, 0xff, 0x41)], 0), /runs past the object area|exceeds the file size/],
    ["array ref out of range", assemble([Uint8Array.of(0xa1, 0x07)], 0), /reference 7 is out of range/],
    ["self-referencing array", assemble([Uint8Array.of(0xa1, 0x00)], 0), /contains itself/],
    ["mutual cycle", assemble([Uint8Array.of(0xa1, 0x01), Uint8Array.of(0xa1, 0x00)], 0), /contains itself/],
    ["non-string key", assemble([Uint8Array.of(0xd1, 0x01, 0x01), Uint8Array.of(0x10, 0x01)], 0), /key is not a string/],
    ["null object", assemble([Uint8Array.of(0x00)], 0), /null objects/],
    ["unknown marker", assemble([Uint8Array.of(0xe0)], 0), /unsupported binary plist marker 0xe0/],
    ["3-byte real", assemble([Uint8Array.of(0x21, 0, 0)], 0), /real of 2\^1 bytes/],
    ["32-byte integer", assemble([Uint8Array.of(0x15, ...new Array<number>(32).fill(0))], 0), /integer of 2\^5 bytes/],
    ["bad date marker", assemble([Uint8Array.of(0x32, 0, 0, 0, 0)], 0), /date must be an 8-byte float/],
    ["length not an int", assemble([Uint8Array.of(0x5f, 0x20, 0x41)], 0), /length is not an integer/],
    ["bad UTF-8", assemble([Uint8Array.of(0x71, 0xff)], 0), /not valid UTF-8/],
  ];
  for (const [name, input, message] of malformed) {
    it(`rejects: ${name}`, () => expectPlistError(input, message));
  }

  it("stops an exponential reference bomb at maxValues instead of expanding it", () => {
    // Object k is an array holding object k+1 sixteen times: 16^20 values if expanded, in about 400 bytes.
    const levels = 20;
    const objects: Uint8Array[] = [];
    for (let k = 0; k < levels; k++) objects.push(Uint8Array.of(0xaf, 0x10, 16, ...new Array<number>(16).fill(k + 1)));
    objects.push(Uint8Array.of(0x09));
    const bomb = assemble(objects, 0);
    expect(bomb.length).toBeLessThan(1000);
    const started = Date.now();
    expectPlistError(bomb, /expands to more than 1000000 values/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(() => parsePlist(bomb, { maxValues: 10_000 })).toThrow(/more than 10000 values/);
  });

  it("shares repeated leaves instead of copying them", () => {
    const big = assemble([Uint8Array.of(0xa3, 1, 1, 1), Uint8Array.of(0x43, 7, 8, 9)], 0);
    const value = parsePlist(big) as Uint8Array[];
    expect(value[0]).toEqual(Uint8Array.of(7, 8, 9));
    expect(value[0]).toBe(value[2]);
  });
});

describe("buildPlist", () => {
  it("writes Apple's exact layout", () => {
    const xml = buildPlist({
      Command: { RequestType: "DeviceInformation", Queries: ["UDID", "DeviceName"] },
      CommandUUID: "abc",
    });
    expect(xml).toBe(
      `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
\t<key>Command</key>
\t<dict>
\t\t<key>RequestType</key>
\t\t<string>DeviceInformation</string>
\t\t<key>Queries</key>
\t\t<array>
\t\t\t<string>UDID</string>
\t\t\t<string>DeviceName</string>
\t\t</array>
\t</dict>
\t<key>CommandUUID</key>
\t<string>abc</string>
</dict>
</plist>
`,
    );
  });

  it("writes each scalar as Apple does", () => {
    const xml = buildPlist([
      5,
      new PlistReal(5),
      5.5,
      -3,
      2n ** 64n - 1n,
      true,
      false,
      new Date("2024-03-14T15:09:26.789Z"),
      Uint8Array.of(0, 1, 2, 250),
      new Uint8Array(0),
      "a<b>&c\r\n",
      {},
      [],
      NaN,
      -Infinity,
      new PlistUid(3),
    ]);
    const body = xml.split("\n").slice(4, -3).map((l) => l.trim());
    expect(body).toEqual([
      "<integer>5</integer>",
      "<real>5</real>",
      "<real>5.5</real>",
      "<integer>-3</integer>",
      "<integer>18446744073709551615</integer>",
      "<true/>",
      "<false/>",
      "<date>2024-03-14T15:09:26Z</date>",
      "<data>AAEC+g==</data>",
      "<data></data>",
      "<string>a&lt;b&gt;&amp;c&#13;",
      "</string>",
      "<dict/>",
      "<array/>",
      "<real>nan</real>",
      "<real>-infinity</real>",
      "<dict>",
      "<key>CF$UID</key>",
      "<integer>3</integer>",
      "</dict>",
    ]);
  });

  it("omits undefined dictionary values", () => {
    expect(buildPlist({ a: undefined, b: 1 })).toContain("<key>b</key>");
    expect(buildPlist({ a: undefined, b: 1 })).not.toContain("<key>a</key>");
  });

  const unwritable: [string, unknown, RegExp][] = [
    ["null", null, /cannot write null/],
    ["undefined in an array", [undefined], /arrays cannot hold undefined/],
    ["a Map", new Map(), /object of type Map/],
    ["a function", () => 1, /type function/],
    ["a control character", "a\u0001b", /U\+0001/],
    ["a lone surrogate", "a\uD800b", /U\+D800/],
    ["an invalid date", new Date(NaN), /invalid Date/],
    ["a year past 9999", new Date("+010000-01-01T00:00:00Z"), /outside 0000..9999/],
    ["an integer beyond 64 bits", 2n ** 64n, /outside the 64-bit range/],
  ];
  for (const [name, value, message] of unwritable) {
    it(`rejects ${name} with a PlistError`, () => {
      expect(() => buildPlist(value as PlistInput)).toThrow(PlistError);
      expect(() => buildPlist(value as PlistInput)).toThrow(message);
    });
  }

  it("rejects a cyclic value instead of overflowing the stack", () => {
    const cyclic: Record<string, PlistInput> = {};
    cyclic.self = cyclic;
    expect(() => buildPlist(cyclic)).toThrow(/nests deeper than 256 levels/);
  });

  it("writes the fixtures so that plistlib reads back the same values", () => {
    // uid.bplist is left out: XML has no UID type, so plistlib reads the CF$UID dictionaries back as dictionaries.
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".bplist") && f !== "uid.bplist");
    const values = files.map((f) => parsePlist(readFileSync(join(FIXTURES, f)), wrap));
    const oracle = pythonParse(values.map((v) => buildPlist(v)));
    values.forEach((v, i) => {
      const back = oracle[i];
      if (back === undefined || "error" in back) throw new Error(`plistlib rejected ${files[i]}: ${JSON.stringify(back)}`);
      expect(canonicalFromOracle(back.value), files[i]).toEqual(canonicalFromOrchard(v));
    });
  });
});

describe("round trips", () => {
  it("parsePlist(buildPlist(v)) == v and parsePlist(buildBinaryPlist(v)) == v", () => {
    fc.assert(
      fc.property(plistValueArbitrary, (v) => {
        expect(canonicalFromOrchard(parsePlist(buildPlist(v), wrap))).toEqual(canonicalFromOrchard(v));
        expect(canonicalFromOrchard(parsePlist(buildBinaryPlist(v), wrap))).toEqual(canonicalFromOrchard(v));
      }),
      { numRuns: 500 },
    );
  });

  it("plistlib reads generated XML and binary output as the same values", () => {
    const values = fc.sample(plistValueArbitrary, { numRuns: 300, seed: 42 });
    const xml = pythonParse(values.map((v) => buildPlist(v)));
    const bin = pythonParse(values.map((v) => buildBinaryPlist(v)));
    values.forEach((v, i) => {
      for (const back of [xml[i], bin[i]]) {
        if (back === undefined || "error" in back) throw new Error(`plistlib rejected value ${i}: ${JSON.stringify(back)}`);
        expect(canonicalFromOracle(back.value)).toEqual(canonicalFromOrchard(v));
      }
    });
  });
});

/** A binary plist from raw object encodings (top object `top`, 1-byte refs, 2-byte offsets). */
function assemble(objects: Uint8Array[], top: number): Uint8Array {
  const offsets: number[] = [];
  let at = 8;
  for (const o of objects) {
    offsets.push(at);
    at += o.length;
  }
  return assembleRaw(objects, offsets, top);
}

function assembleRaw(objects: Uint8Array[], offsets: number[], top = 0): Uint8Array {
  const body = Buffer.concat([Buffer.from("bplist00", "latin1"), ...objects]);
  const table = Buffer.alloc(offsets.length * 2);
  offsets.forEach((o, i) => table.writeUInt16BE(o, i * 2));
  const trailer = Buffer.alloc(32);
  trailer[6] = 2;
  trailer[7] = 1;
  trailer.writeBigUInt64BE(BigInt(objects.length), 8);
  trailer.writeBigUInt64BE(BigInt(top), 16);
  trailer.writeBigUInt64BE(BigInt(body.length), 24);
  return new Uint8Array(Buffer.concat([body, table, trailer]));
}

function withTrailer(fields: {
  offsetIntSize?: number;
  objectRefSize?: number;
  numObjects?: bigint;
  topObject?: bigint;
  offsetTableOffset?: bigint;
}): Uint8Array {
  const file = Buffer.from(assemble([Uint8Array.of(0x09)], 0));
  const t = file.length - 32;
  if (fields.offsetIntSize !== undefined) file[t + 6] = fields.offsetIntSize;
  if (fields.objectRefSize !== undefined) file[t + 7] = fields.objectRefSize;
  if (fields.numObjects !== undefined) file.writeBigUInt64BE(fields.numObjects, t + 8);
  if (fields.topObject !== undefined) file.writeBigUInt64BE(fields.topObject, t + 16);
  if (fields.offsetTableOffset !== undefined) file.writeBigUInt64BE(fields.offsetTableOffset, t + 24);
  return new Uint8Array(file);
}
