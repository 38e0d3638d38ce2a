// Plist values as JSON (the API's and webhooks' view of a device's report): data as base64, dates as ISO
// strings, bigints as strings, reals and UIDs as their numbers.
import { PlistReal, PlistUid } from "./plist.ts";

/**
 * A JSON.stringify replacer. Data is read from its holder (`this[key]`): a Buffer (binary plists parse data as
 * Buffers) reaches a replacer as Buffer.toJSON()'s {type: "Buffer", data: [...]}, not as the bytes.
 */
export function plistJsonReplacer(this: unknown, key: string, value: unknown): unknown {
  const original = this !== null && typeof this === "object" ? (this as Record<string, unknown>)[key] : value;
  if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString("base64");
  if (original instanceof PlistReal || original instanceof PlistUid) return original.value;
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** A plist value (or anything holding plist values) as JSON text. */
export function plistToJson(value: unknown): string {
  return JSON.stringify(value, plistJsonReplacer);
}
