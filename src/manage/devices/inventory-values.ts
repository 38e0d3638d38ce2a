// Reading a device's inventory answer liberally: every value is checked for the type Apple documents, and a
// value of the wrong type is skipped with a warning (kept in device_inventory_raw next to the raw answer) rather
// than failing the result. Bad device data must never throw: the device is on the line, and the result is
// stored whatever its contents.
import { PlistReal, PlistUid, type PlistDict, type PlistValue } from "../../wire/plist.ts";

// A device that sends 10,000 malformed items needs one warning saying so, not 10,000.
const MAX_WARNINGS = 50;

export class InventoryReader {
  private readonly list: string[] = [];
  private dropped = 0;

  warn(message: string): void {
    if (this.list.length < MAX_WARNINGS) this.list.push(message);
    else this.dropped++;
  }

  get warnings(): string[] {
    return this.dropped ? [...this.list, `… and ${this.dropped} more`] : this.list;
  }

  /** A non-empty string; undefined when absent or empty (devices send "" for what they do not know). */
  string(d: PlistDict, key: string, path: string): string | undefined {
    const v = d[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string") return this.wrong(path, key, "a string", v);
    return v.length > 0 ? v : undefined;
  }

  boolean(d: PlistDict, key: string, path: string): boolean | undefined {
    const v = d[key];
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") return this.wrong(path, key, "a boolean", v);
    return v;
  }

  /** A finite number (integer or real). */
  number(d: PlistDict, key: string, path: string): number | undefined {
    const v = d[key];
    if (v === undefined) return undefined;
    const n = typeof v === "number" ? v : v instanceof PlistReal ? v.value : typeof v === "bigint" ? Number(v) : undefined;
    if (n === undefined || !Number.isFinite(n)) return this.wrong(path, key, "a number", v);
    return n;
  }

  dict(d: PlistDict, key: string, path: string): PlistDict | undefined {
    const v = d[key];
    if (v === undefined) return undefined;
    if (!isDict(v)) return this.wrong(path, key, "a dictionary", v);
    return v;
  }

  array(d: PlistDict, key: string, path: string): PlistValue[] | undefined {
    const v = d[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return this.wrong(path, key, "an array", v);
    return v;
  }

  data(d: PlistDict, key: string, path: string): Uint8Array | undefined {
    const v = d[key];
    if (v === undefined) return undefined;
    if (!(v instanceof Uint8Array)) return this.wrong(path, key, "data", v);
    return v;
  }

  private wrong(path: string, key: string, expected: string, got: PlistValue): undefined {
    this.warn(`${path}.${key}: expected ${expected}, got ${typeName(got)}`);
    return undefined;
  }
}

export function isDict(v: PlistValue | undefined): v is PlistDict {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date) && !(v instanceof PlistReal) && !(v instanceof PlistUid);
}

export function typeName(v: PlistValue): string {
  if (Array.isArray(v)) return "an array";
  if (v instanceof Uint8Array) return "data";
  if (v instanceof Date) return "a date";
  if (v instanceof PlistReal) return "a real";
  if (v instanceof PlistUid) return "a UID";
  if (isDict(v)) return "a dictionary";
  if (typeof v === "number") return Number.isInteger(v) ? "an integer" : "a real";
  if (typeof v === "bigint") return "an integer";
  return `a ${typeof v}`;
}
