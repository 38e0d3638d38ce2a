// The plist codec: one entry point to parse XML or binary property lists, one to build XML.
//
// Own parsers rather than the `plist` package: plist 5 rounds 64-bit integers to doubles, reads
// <dict><key>a</key></dict> as {a: ""} instead of rejecting it, cannot tell <integer> from <real>, and lets
// @xmldom print to the console on malformed input. See plist.test.ts for the cases this codec must meet.

import { isBinaryPlist, parseBinaryPlist } from "./plist-binary-parse.ts";
import { PlistError } from "./plist-value.ts";
import type { PlistParseOptions, PlistValue } from "./plist-value.ts";
import { decodeXmlPlistBytes, parseXmlPlistText } from "./plist-xml-parse.ts";

export { PlistError, PlistReal, PlistUid } from "./plist-value.ts";
export type { PlistDict, PlistInput, PlistParseOptions, PlistValue } from "./plist-value.ts";
export { buildPlist, formatPlistDate } from "./plist-xml-build.ts";

/**
 * Parses an XML or binary (bplist00) property list. Any malformed input throws PlistError; nothing else is
 * thrown, the work is linear in the input (binary: bounded by options.maxValues), and nesting is bounded.
 */
export function parsePlist(input: Uint8Array | string, options: PlistParseOptions = {}): PlistValue {
  try {
    if (typeof input === "string") {
      return parseXmlPlistText(input.charCodeAt(0) === 0xfeff ? input.slice(1) : input, options);
    }
    if (isBinaryPlist(input)) return parseBinaryPlist(input, options);
    return parseXmlPlistText(decodeXmlPlistBytes(input), options);
  } catch (error) {
    if (error instanceof PlistError) throw error;
    // A safety net: the parsers are written to throw only PlistError, but a caller must never see anything else.
    throw new PlistError(`malformed plist (${error instanceof Error ? error.message : String(error)})`);
  }
}
export { buildBinaryPlist } from "./plist-binary-build.ts";
export type { BinaryPlistBuildOptions } from "./plist-binary-build.ts";
