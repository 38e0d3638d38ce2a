import { expect, it } from "vitest";
import { plistJsonReplacer } from "./plist-json.ts";
import { buildBinaryPlist, parsePlist } from "./plist.ts";

it("writes data as base64 whether it parsed as a Uint8Array or a Buffer, and dates as ISO strings", () => {
  const parsed = parsePlist(buildBinaryPlist({ Token: new Uint8Array([1, 2, 3]), Nested: [{ D: new Uint8Array([255]) }], When: new Date("2026-01-02T03:04:05Z"), N: 7 }));
  const json = JSON.parse(JSON.stringify({ parsed, buffer: Buffer.from([1, 2]) }, plistJsonReplacer)) as Record<string, unknown>;
  expect(json).toEqual({ parsed: { Token: "AQID", Nested: [{ D: "/w==" }], When: "2026-01-02T03:04:05.000Z", N: 7 }, buffer: "AQI=" });
});
