import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readDevicePlist, readFlatPlistDict } from "./checkin-reader.ts";
import { PlistError, buildBinaryPlist, buildPlist, parsePlist } from "./plist.ts";
import type { PlistDict, PlistValue } from "./plist.ts";
import { plistValueArbitrary } from "../../test/fixtures/plist/arbitraries.ts";

const FIXTURES = join(import.meta.dirname, "../../test/fixtures/plist");
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, name)));

/** The full parser's answer, or the PlistError it threw. */
function fullParse(bytes: Uint8Array): { value: PlistValue } | { error: PlistError } {
  try {
    return { value: parsePlist(bytes) };
  } catch (error) {
    if (error instanceof PlistError) return { error };
    throw error;
  }
}

describe("readFlatPlistDict: the shapes devices send on connect", () => {
  it("reads an Idle status report", () => {
    expect(readFlatPlistDict(fixture("status-idle.xml"))).toEqual({ Status: "Idle", UDID: "00008110-000A1C2E3E88801E" });
  });

  it("reads an Authenticate check-in with non-ASCII text", () => {
    const lean = readFlatPlistDict(fixture("authenticate.xml"));
    expect(lean).toBeDefined();
    expect(lean).toEqual(parsePlist(fixture("authenticate.xml")));
  });

  it("reads Acknowledged/NotNow/Error reports in compact and tab-indented form", () => {
    const compact = `<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd"><plist version="1.0"><dict><key>CommandUUID</key><string>C1</string><key>Status</key><string>NotNow</string><key>UDID</key><string>U1</string><key>NotOnConsole</key><false/><key>Count</key><integer>-42</integer><key>Empty</key><string/></dict></plist>`;
    expect(readFlatPlistDict(enc(compact))).toEqual({
      CommandUUID: "C1",
      Status: "NotNow",
      UDID: "U1",
      NotOnConsole: false,
      Count: -42,
      Empty: "",
    });
    const tabbed = buildPlist({ CommandUUID: "C2", Status: "Acknowledged", UDID: "U2", UserID: "it's <me> & you" });
    expect(readFlatPlistDict(enc(tabbed))).toEqual({ CommandUUID: "C2", Status: "Acknowledged", UDID: "U2", UserID: "it's <me> & you" });
  });

  it("decodes numeric character references such as &#39; itself", () => {
    const xml = `<plist version="1.0"><dict><key>DeviceName</key><string>Bob&#39;s &#x27;Mac&#x27; &amp; more</string></dict></plist>`;
    expect(readFlatPlistDict(enc(xml))).toEqual({ DeviceName: "Bob's 'Mac' & more" });
  });

  it("keeps a __proto__ key as an own property", () => {
    const value = readFlatPlistDict(enc("<plist><dict><key>__proto__</key><true/></dict></plist>"));
    expect(Object.keys(value ?? {})).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });

  it("reads an empty dict", () => {
    expect(readFlatPlistDict(enc("<plist><dict/></plist>"))).toEqual({});
  });

  const fallbacks: [string, Uint8Array][] = [
    ["nested values", fixture("device-information.xml")],
    ["data values", fixture("token-update.xml")],
    ["binary plists", fixture("status-idle.bplist")],
    ["a BOM", enc("\uFEFF<plist><dict/></plist>")],
    ["comments", enc("<plist><dict><!-- c --><key>a</key><true/></dict></plist>")],
    ["CDATA", enc("<plist><dict><key>a</key><string><![CDATA[x]]></string></dict></plist>")],
    ["a DOCTYPE with an internal subset", enc("<!DOCTYPE plist [<!ELEMENT plist ANY>]><plist><dict/></plist>")],
    ["a quoted '>' in the DOCTYPE", enc(`<!DOCTYPE plist SYSTEM "x><plist><dict></dict></plist>`)],
    ["a non-UTF-8 encoding", enc(`<?xml version="1.0" encoding="ISO-8859-1"?><plist><dict/></plist>`)],
    ["no <plist> wrapper", enc("<dict><key>a</key><true/></dict>")],
    ["reals", enc("<plist><dict><key>a</key><real>1</real></dict></plist>")],
    ["big integers", enc("<plist><dict><key>a</key><integer>12345678901234567</integer></dict></plist>")],
    ["hex integers", enc("<plist><dict><key>a</key><integer>0x10</integer></dict></plist>")],
    ["space inside a tag", enc("<plist><dict ><key>a</key><true/></dict></plist>")],
    ["trailing comments", enc("<plist><dict/></plist><!-- x -->")],
    ["an unknown entity", enc("<plist><dict><key>a</key><string>&nbsp;</string></dict></plist>")],
    ["invalid UTF-8", Uint8Array.of(...enc("<plist><dict><key>a</key><string>"), 0xff, ...enc("</string></dict></plist>"))],
    ["a self-closing plist", enc("<plist/>")],
  ];
  for (const [name, bytes] of fallbacks) {
    it(`leaves ${name} to the full parser`, () => expect(readFlatPlistDict(bytes)).toBeUndefined());
  }
});

describe("readDevicePlist", () => {
  it("uses the full parser for nested and binary messages", () => {
    expect(readDevicePlist(fixture("device-information.xml"))).toEqual(parsePlist(fixture("device-information.xml")));
    expect(readDevicePlist(fixture("status-idle.bplist"))).toEqual({ Status: "Idle", UDID: "00008110-000A1C2E3E88801E" });
  });

  it("rejects a plist whose root is not a dictionary, and malformed bodies, with PlistError", () => {
    expect(() => readDevicePlist(enc("<plist><array/></plist>"))).toThrow(/not a dictionary/);
    expect(() => readDevicePlist(enc("<plist><date>2024-01-01T00:00:00Z</date></plist>"))).toThrow(PlistError);
    expect(() => readDevicePlist(enc(""))).toThrow(PlistError);
    expect(() => readDevicePlist(enc("<plist><dict><key>Status</key></dict></plist>"))).toThrow(/has no value/);
  });
});

// Flat dictionaries with the characters that matter for the lean path: markup, references, CR, non-ASCII.
const trickyChar = fc.constantFrom("a", "Z", "0", " ", "\t", "\n", "\r", "<", ">", "&", "'", '"', ";", "#", "ü", "日", "🍏", "]");
const trickyString = fc.oneof(
  fc.string({ unit: trickyChar, maxLength: 12 }),
  fc.string({ maxLength: 12 }).filter((s) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF]/.test(s)),
);
const flatValue = fc.oneof(trickyString, fc.boolean(), fc.integer(), fc.maxSafeInteger());
const flatDict = fc.dictionary(trickyString, flatValue, { maxKeys: 8 });

/** Ways a client may lay out the same dictionary; each must give the same answer from both readers. */
const layout: fc.Arbitrary<Layout> = fc.record({
  declaration: fc.constantFrom("", '<?xml version="1.0" encoding="UTF-8"?>', "<?xml version='1.0'?>", '<?xml version="1.0" encoding="utf8"?>\n'),
  doctype: fc.constantFrom("", '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">'),
  gap: fc.constantFrom("", "\n", "\n\t", "\r\n  ", " "),
  numericRefs: fc.boolean(),
  crlf: fc.boolean(),
});

function escapeText(s: string, numericRefs: boolean): string {
  const escaped = s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return numericRefs ? escaped.replace(/'/g, "&#39;").replace(/"/g, "&#x22;").replace(/\r/g, "&#13;") : escaped;
}

interface Layout {
  declaration: string;
  doctype: string;
  gap: string;
  numericRefs: boolean;
  crlf: boolean;
}

function render(dict: Record<string, string | number | boolean>, l: Layout): string {
  const g = l.gap;
  let out = `${l.declaration}${l.doctype}${g}<plist version="1.0">${g}<dict>`;
  for (const [k, v] of Object.entries(dict)) {
    out += `${g}<key>${escapeText(k, l.numericRefs)}</key>${g}`;
    if (typeof v === "string") out += v === "" && l.crlf ? "<string/>" : `<string>${escapeText(v, l.numericRefs)}</string>`;
    else if (typeof v === "boolean") out += v ? "<true/>" : "<false/>";
    else out += `<integer>${v}</integer>`;
  }
  out += `${g}</dict>${g}</plist>${g}`;
  return l.crlf ? out.replace(/\n/g, "\r\n") : out;
}

describe("lean reader == full parser", () => {
  it("on thousands of generated flat dictionaries in varied layouts", () => {
    let lean = 0;
    fc.assert(
      fc.property(flatDict, layout, (dict, l) => {
        const bytes = enc(render(dict, l));
        const full = fullParse(bytes);
        const flat = readFlatPlistDict(bytes);
        if (flat !== undefined) {
          lean++;
          expect("value" in full ? full.value : full.error).toEqual(flat);
        }
        expect(readDevicePlist(bytes)).toEqual("value" in full ? full.value : undefined);
      }),
      { numRuns: 3000 },
    );
    // The property is only worth something if the lean path is actually taken.
    expect(lean).toBeGreaterThan(2500);
  });

  it("on buildPlist output of flat dictionaries, always via the lean path", () => {
    fc.assert(
      fc.property(flatDict, (dict) => {
        const bytes = enc(buildPlist(dict));
        const flat = readFlatPlistDict(bytes);
        expect(flat).toBeDefined();
        expect(flat).toEqual(parsePlist(bytes));
        expect(flat).toEqual(dict);
      }),
      { numRuns: 2000 },
    );
  });

  it("on arbitrary plists: the lean reader either declines or agrees", () => {
    fc.assert(
      fc.property(plistValueArbitrary, (v) => {
        const bytes = enc(buildPlist(v));
        const flat = readFlatPlistDict(bytes);
        if (flat !== undefined) expect(flat).toEqual(parsePlist(bytes));
      }),
      { numRuns: 1000 },
    );
  });
});

/** Byte-level mutations of valid documents: flips, deletions, insertions of markup fragments, truncation. */
const FRAGMENTS = ["<", ">", "/", "&", ";", "&#", "&#x", "<!--", "-->", "<![CDATA[", "]]>", "<key>", "</key>", "<dict>", "</dict>", "<array>", "<string>", "</string>", "<true/>", '"', "'", "\r", "\uFEFF", "\u00ff", "0x", "-", "bplist00"];
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fc.constantFrom(...FRAGMENTS) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
);

type Mutation = { kind: "flip"; at: number; byte: number } | { kind: "delete"; at: number; length: number } | { kind: "insert"; at: number; text: string } | { kind: "truncate"; at: number };

function mutate(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Buffer.from(bytes);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.kind === "flip") {
      if (b.length > 0) b[at] = m.byte;
    } else if (m.kind === "delete") {
      b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
    } else if (m.kind === "insert") {
      b = Buffer.concat([b.subarray(0, at), Buffer.from(m.text), b.subarray(at)]);
    } else {
      b = b.subarray(0, at);
    }
  }
  return new Uint8Array(b);
}

/** Returns whether the lean reader answered (rather than declining). */
function expectOnlyPlistErrors(bytes: Uint8Array): boolean {
  const full = fullParse(bytes); // rethrows anything that is not a PlistError
  let flat: ReturnType<typeof readFlatPlistDict>;
  expect(() => {
    flat = readFlatPlistDict(bytes);
  }).not.toThrow();
  if (flat === undefined) return false;
  expect("value" in full ? full.value : full.error).toEqual(flat);
  return true;
}

describe("fuzz: mutated and random bytes", () => {
  const seeds = [
    fixture("status-idle.xml"),
    fixture("authenticate.xml"),
    fixture("device-information.xml"),
    fixture("all-types.xml"),
    enc(buildPlist({ CommandUUID: "x", Status: "Error", ErrorChain: [{ ErrorCode: 12021, ErrorDomain: "MCMDMErrorDomain" }] })),
  ];
  const binarySeeds = [fixture("all-types.bplist"), fixture("device-information.bplist"), buildBinaryPlist({ a: [1, "x", { b: true }] })];

  it("XML: no crash but PlistError, no hang, lean == full whenever lean answers", () => {
    const started = Date.now();
    let leanAnswers = 0;
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 6 }), (seed, ms) => {
        if (expectOnlyPlistErrors(mutate(seed, ms))) leanAnswers++;
      }),
      { numRuns: 4000 },
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    // Mutations that keep a flat document valid (a changed letter in a string) must reach the comparison.
    expect(leanAnswers).toBeGreaterThan(50);
  });

  it("binary: no crash but PlistError, no hang", () => {
    fc.assert(
      fc.property(fc.constantFrom(...binarySeeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), (seed, ms) => {
        expectOnlyPlistErrors(mutate(seed, ms));
      }),
      { numRuns: 4000 },
    );
  });

  it("random bytes, with and without plausible headers", () => {
    const prefix = fc.constantFrom("", "<plist>", "<?xml version='1.0'?><plist><dict>", "bplist00", "<plist><dict><key>a</key>");
    fc.assert(
      fc.property(prefix, fc.uint8Array({ maxLength: 300 }), (p, tail) => {
        expectOnlyPlistErrors(new Uint8Array([...enc(p), ...tail]));
      }),
      { numRuns: 3000 },
    );
  });

  it("random binary plists with valid trailers but random objects", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 64 }),
        (objects, offsetSize, refSize, count) => {
          const tableOffset = 8 + objects.length;
          const table = new Uint8Array(count * offsetSize);
          for (let i = 0; i < count; i++) table[(i + 1) * offsetSize - 1] = 8 + ((i * 7) % objects.length);
          const trailer = Buffer.alloc(32);
          trailer[6] = offsetSize;
          trailer[7] = refSize;
          trailer.writeBigUInt64BE(BigInt(count), 8);
          trailer.writeBigUInt64BE(0n, 16);
          trailer.writeBigUInt64BE(BigInt(tableOffset), 24);
          expectOnlyPlistErrors(new Uint8Array(Buffer.concat([Buffer.from("bplist00"), objects, table, trailer])));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("lean answers on a Status report stay equal to the full parser's", () => {
    const dicts: PlistDict[] = [{ Status: "Idle", UDID: "u" }, { Status: "Acknowledged", CommandUUID: "c", UDID: "u" }];
    for (const d of dicts) expect(readFlatPlistDict(enc(buildPlist(d)))).toEqual(d);
  });
});
