// Admins send command parameters as JSON, which has no data, date or real types. The schema says what
// each key is, so JSON values are converted by it: <data> from base64, <date> from ISO 8601, <real> kept as a
// real even when it is a whole number. Keys the schema does not know are converted by their JSON shape only.
import type { KeyList, KeySpec } from "./schema/spec-types.ts";
import { resolveSubkeys } from "./schema/spec-lookup.ts";
import { PlistReal, type PlistValue } from "./plist.ts";

export class JsonToPlistError extends Error {}

export function jsonToPlist(value: unknown, spec: KeySpec | undefined, path: string): PlistValue {
  if (value === null || value === undefined) throw new JsonToPlistError(`${path}: null is not a plist value`);
  switch (spec?.type) {
    case "<data>":
      if (typeof value !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value.replace(/\s+/g, ""))) {
        throw new JsonToPlistError(`${path}: expected base64 data`);
      }
      return new Uint8Array(Buffer.from(value, "base64"));
    case "<date>": {
      const d = typeof value === "string" ? new Date(value) : undefined;
      if (!d || Number.isNaN(d.getTime())) throw new JsonToPlistError(`${path}: expected an ISO 8601 date`);
      return d;
    }
    case "<real>":
      if (typeof value === "number") return new PlistReal(value);
      break;
    case "<dictionary>":
      if (isObject(value)) return jsonDictToPlist(value, spec ? resolveSubkeys(spec) : undefined, path);
      break;
    case "<array>":
      if (Array.isArray(value)) {
        const items = spec ? resolveSubkeys(spec) : undefined;
        return value.map((v, i) => jsonToPlist(v, items && items.length === 1 ? items[0] : undefined, `${path}[${i}]`));
      }
      break;
  }
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new JsonToPlistError(`${path}: numbers must be finite`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => jsonToPlist(v, undefined, `${path}[${i}]`));
  if (isObject(value)) return jsonDictToPlist(value, undefined, path);
  throw new JsonToPlistError(`${path}: unsupported JSON value`);
}

export function jsonDictToPlist(value: Record<string, unknown>, keys: KeyList | undefined, path: string): { [k: string]: PlistValue } {
  const out: { [k: string]: PlistValue } = {};
  for (const [k, v] of Object.entries(value)) {
    const spec = keys?.find((s) => s.key === k) ?? keys?.find((s) => s.anyKey);
    Object.defineProperty(out, k, { value: jsonToPlist(v, spec, path ? `${path}.${k}` : k), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
