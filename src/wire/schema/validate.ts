// Checks a plist-shaped value (admin command parameters, a generated profile payload, a device's check-in or
// report) against key specs from Apple's schema, and says precisely what is wrong and where.
//
// Values are what the plist codec produces: string, number or bigint (<integer>), number or PlistReal
// (<real>), boolean, Date, Uint8Array, arrays, plain objects. JavaScript cannot tell <real>1.0 from
// <integer>1, so a whole number is accepted where the schema says <real>.
import { PlistReal, PlistUid } from "../plist-value.ts";
import { resolveSubkeys } from "./spec-lookup.ts";
import type { KeyList, KeySpec, Platform, SupportedOS } from "./spec-types.ts";
import { effectiveSupportedOS } from "./supported-os.ts";
import { didYouMean } from "./did-you-mean.ts";

export type SpecProblemKind =
  | "type"
  | "missing"
  | "rangelist"
  | "range"
  | "format"
  | "repetition"
  | "unknown-key"
  | "unknown-value"
  | "unsupported-key"
  | "too-deep";

export interface SpecProblem {
  /** Where: "Payload.Keysize", "Settings[2].Item"; empty for the value itself. */
  readonly path: string;
  readonly kind: SpecProblemKind;
  /** The full sentence, path first: "Payload.Keysize: expected integer, got string". */
  readonly message: string;
}

export interface ValidateOptions {
  /**
   * Only check the types of keys that are present: no missing-key, rangelist, range, format or length checks.
   * For messages from real devices, which omit keys the schema calls required (OSVersion, BuildVersion,
   * ProductName, Model, NotOnConsole...) and send enum values newer than the schema.
   */
  readonly lenient?: boolean;
  /**
   * Also report keys the schema does not describe (with the nearest known key, "did you mean"), and misses of
   * known-value lists (DeviceInformation queries).
   */
  readonly reportUnknownKeys?: boolean;
  /**
   * With a context: also report keys that exist in the schema but not for that context (a macOS-only key in a
   * command for an iPhone). For what an admin sends; devices' own reports are not held to it.
   */
  readonly reportInapplicableKeys?: boolean;
  /** Stop after this many problems (default 100): a hostile value must not produce an unbounded report. */
  readonly maxProblems?: number;
  /**
   * Who the value is for or from. The schema marks keys "required" that only exist in some contexts (TokenUpdate
   * requires UDID, EnrollmentID and EnrollmentUserID at once; NotOnConsole is macOS-only). With a context, a
   * required key is only required where its supportedOS (inherited from the payload, docs/schema.md) says it
   * applies: on this platform, on this channel, and for this User Enrollment / Shared iPad mode.
   */
  readonly context?: ValidationContext;
}

export interface ValidationContext {
  readonly platform: Platform;
  readonly channel?: "device" | "user";
  readonly userEnrollment?: boolean;
  readonly sharedIPad?: boolean;
  /** The enclosing payload's supportedOS, which every key inherits. */
  readonly supportedOS?: SupportedOS;
}

const MAX_DEPTH = 64;
const DEFAULT_MAX_PROBLEMS = 100;

/**
 * Validates `value` as a dictionary described by `specs` (a payload's, command's or message's key list).
 * `path` prefixes every reported location (e.g. "Payload" or "Command"). Returns [] when the value conforms.
 */
export function validateAgainstSpec(
  value: unknown,
  specs: KeyList,
  path = "",
  options: ValidateOptions = {},
): SpecProblem[] {
  const run = new Validation(options);
  run.dictionary(value, specs, path, 0, options.context?.supportedOS);
  return run.problems;
}

/** Validates a single value against one key spec (an array element, a status item's value...). */
export function validateValueAgainstKey(
  value: unknown,
  spec: KeySpec,
  path = "",
  options: ValidateOptions = {},
): SpecProblem[] {
  const run = new Validation(options);
  run.value(value, spec, path, 0, options.context?.supportedOS);
  return run.problems;
}

/** The problems as lines, for error messages and logs. */
export function formatProblems(problems: readonly SpecProblem[]): string {
  return problems.map((p) => p.message).join("\n");
}

/** The schema's name for what a value is, as used in messages ("integer", "dictionary"...). */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return "string";
    case "boolean":
      return "boolean";
    case "bigint":
      return "integer";
    case "number":
      return Number.isInteger(value) ? "integer" : "real";
    case "object":
      break;
    default:
      return typeof value;
  }
  if (Array.isArray(value)) return "array";
  if (value instanceof Date) return "date";
  if (value instanceof Uint8Array) return "data";
  if (isPlistReal(value)) return "real";
  if (value instanceof PlistUid) return "uid";
  if (isDictionary(value)) return "dictionary";
  return (value as object).constructor?.name ?? "object";
}

/** A plain object (what the plist parser builds for <dict>), not a Date, Buffer, class instance or array. */
function isDictionary(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isPlistReal(value: unknown): value is PlistReal {
  return value instanceof PlistReal;
}

function numericValue(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (isPlistReal(value)) return value.value;
  return undefined;
}

/** "iOS", "macOS (user channel)", "iOS (User Enrollment)", for "key does not apply to …". */
function describeContext(c: ValidationContext): string {
  const modes = [c.channel === "user" ? "user channel" : "", c.userEnrollment ? "User Enrollment" : "", c.sharedIPad ? "Shared iPad" : ""].filter(Boolean);
  return modes.length ? `${c.platform} (${modes.join(", ")})` : c.platform;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function quote(value: string | number): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

function shorten(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}

const regexCache = new Map<string, RegExp | null>();

function formatRegex(format: string): RegExp | null {
  let regex = regexCache.get(format);
  if (regex === undefined) {
    try {
      regex = new RegExp(format);
    } catch {
      regex = null; // the generator drops formats JavaScript cannot compile; be safe anyway
    }
    regexCache.set(format, regex);
  }
  return regex;
}

class Full extends Error {}

class Validation {
  readonly problems: SpecProblem[] = [];
  private readonly lenient: boolean;
  private readonly reportUnknown: boolean;
  private readonly reportInapplicable: boolean;
  private readonly max: number;
  private readonly context: ValidationContext | undefined;

  constructor(private readonly options: ValidateOptions) {
    this.lenient = options.lenient ?? false;
    this.reportUnknown = options.reportUnknownKeys ?? false;
    this.reportInapplicable = (options.reportInapplicableKeys ?? false) && options.context !== undefined;
    this.max = Math.max(1, options.maxProblems ?? DEFAULT_MAX_PROBLEMS);
    this.context = options.context;
  }

  /** The key's supportedOS after inheritance, tracked only when a context asks for it. */
  private inherit(inherited: SupportedOS | undefined, spec: KeySpec): SupportedOS | undefined {
    if (!this.context) return undefined;
    return spec.supportedOS ? effectiveSupportedOS(inherited, spec.supportedOS) : inherited;
  }

  /** Whether a key with this effective supportedOS exists in the validation context. */
  private applies(support: SupportedOS | undefined): boolean {
    const context = this.context;
    if (!context || !support) return true;
    const p = support[context.platform];
    if (!p || p.introduced === "n/a") return false;
    const sharedIPad = context.platform === "iOS" && context.sharedIPad === true;
    const channels = sharedIPad && p.sharedipad ? p.sharedipad : p;
    if (context.channel === "device" && channels.devicechannel === false) return false;
    if (context.channel === "user" && channels.userchannel === false) return false;
    if (context.userEnrollment !== undefined) {
      const mode = p.userenrollment?.mode;
      if (mode === "required" && !context.userEnrollment) return false;
      if (mode === "forbidden" && context.userEnrollment) return false;
    }
    if (context.platform === "iOS" && context.sharedIPad !== undefined) {
      const mode = p.sharedipad?.mode;
      if (mode === "required" && !context.sharedIPad) return false;
      if (mode === "forbidden" && context.sharedIPad) return false;
    }
    return true;
  }

  private add(path: string, kind: SpecProblemKind, text: string): void {
    this.problems.push({ path, kind, message: `${path === "" ? "value" : path}: ${text}` });
    if (this.problems.length >= this.max) throw new Full();
  }

  dictionary(value: unknown, keys: KeyList, path: string, depth: number, support: SupportedOS | undefined): void {
    try {
      this.dict(value, keys, path, depth, support);
    } catch (err) {
      if (!(err instanceof Full)) throw err;
    }
  }

  value(value: unknown, spec: KeySpec, path: string, depth: number, support: SupportedOS | undefined): void {
    try {
      this.check(value, spec, path, depth, this.inherit(support, spec));
    } catch (err) {
      if (!(err instanceof Full)) throw err;
    }
  }

  private dict(value: unknown, keys: KeyList, path: string, depth: number, support: SupportedOS | undefined): void {
    if (!isDictionary(value)) {
      this.add(path, "type", `expected dictionary, got ${describeValue(value)}`);
      return;
    }
    if (depth > MAX_DEPTH) {
      this.add(path, "too-deep", `nested more than ${MAX_DEPTH} levels`);
      return;
    }
    const described = new Set<string>();
    // A key may be listed once per platform variant: it is inapplicable only when no listing applies.
    const inapplicable = new Set<string>();
    const applicable = new Set<string>();
    let wildcard: KeySpec | undefined;
    for (const spec of keys) {
      if (spec.anyKey) {
        wildcard ??= spec;
        continue;
      }
      described.add(spec.key);
      const child = Object.hasOwn(value, spec.key) ? value[spec.key] : undefined;
      const childPath = join(path, spec.key);
      const childSupport = this.inherit(support, spec);
      if (child === undefined) {
        if (spec.presence === "required" && !this.lenient && this.applies(childSupport)) {
          this.add(childPath, "missing", "required key is missing");
        }
        continue;
      }
      if (this.reportInapplicable) {
        if (!this.applies(childSupport)) {
          inapplicable.add(spec.key);
          continue;
        }
        applicable.add(spec.key);
      }
      this.check(child, spec, childPath, depth + 1, childSupport);
    }
    for (const key of inapplicable) {
      if (!applicable.has(key)) this.add(join(path, key), "unsupported-key", `key does not apply to ${describeContext(this.context!)}`);
    }
    for (const key of Object.keys(value)) {
      if (described.has(key) || value[key] === undefined) continue;
      if (wildcard) this.check(value[key], wildcard, join(path, key), depth + 1, this.inherit(support, wildcard));
      else if (this.reportUnknown) this.add(join(path, key), "unknown-key", `key is not in the schema${didYouMean(key, described)}`);
    }
  }

  /** `support` is this key's own effective supportedOS (already inherited). */
  private check(value: unknown, spec: KeySpec, path: string, depth: number, support: SupportedOS | undefined): void {
    switch (spec.type) {
      case "<any>":
        return;
      case "<dictionary>": {
        const keys = resolveSubkeys(spec);
        if (!keys || keys.length === 0) {
          if (!isDictionary(value)) this.add(path, "type", `expected dictionary, got ${describeValue(value)}`);
          return;
        }
        this.dict(value, keys, path, depth, support);
        return;
      }
      case "<array>":
        this.array(value, spec, path, depth, support);
        return;
      default:
        this.scalar(value, spec, path);
    }
  }

  private array(value: unknown, spec: KeySpec, path: string, depth: number, support: SupportedOS | undefined): void {
    if (!Array.isArray(value)) {
      this.add(path, "type", `expected array, got ${describeValue(value)}`);
      return;
    }
    if (depth > MAX_DEPTH) {
      this.add(path, "too-deep", `nested more than ${MAX_DEPTH} levels`);
      return;
    }
    const items = resolveSubkeys(spec);
    if (!items || items.length === 0) return;
    const repetition = items[0]?.repetition;
    if (repetition && !this.lenient && (value.length < repetition.min || value.length > repetition.max)) {
      const wanted =
        repetition.min === repetition.max ? `${repetition.min}` : `between ${repetition.min} and ${repetition.max}`;
      this.add(path, "repetition", `expected ${wanted} elements, got ${value.length}`);
    }
    value.forEach((element, i) => {
      const elementPath = `${path}[${i}]`;
      if (items.length === 1) this.check(element, items[0]!, elementPath, depth + 1, this.inherit(support, items[0]!));
      else this.variant(element, items, elementPath, depth + 1, support);
    });
  }

  /** An element of an array whose item has several shapes (Settings): it must match one of them. */
  private variant(value: unknown, items: KeyList, path: string, depth: number, support: SupportedOS | undefined): void {
    let best: SpecProblem[] | undefined;
    let bestItem: KeySpec | undefined;
    for (const item of items) {
      const trial = new Validation(this.options);
      trial.value(value, item, path, depth, support);
      if (trial.problems.length === 0) return;
      if (!best || trial.problems.length < best.length) {
        best = trial.problems;
        bestItem = item;
      }
    }
    this.add(
      path,
      "type",
      `matches none of the ${items.length} kinds of element; closest is ${bestItem?.key ?? "?"}, which reports:`,
    );
    for (const problem of best ?? []) {
      this.problems.push(problem);
      if (this.problems.length >= this.max) throw new Full();
    }
  }

  private scalar(value: unknown, spec: KeySpec, path: string): void {
    const expected = spec.type.slice(1, -1);
    let ok: boolean;
    switch (spec.type) {
      case "<string>":
        ok = typeof value === "string";
        break;
      case "<integer>":
        ok = (typeof value === "number" && Number.isInteger(value)) || typeof value === "bigint";
        break;
      case "<real>":
        ok = typeof value === "number" || isPlistReal(value);
        break;
      case "<boolean>":
        ok = typeof value === "boolean";
        break;
      case "<date>":
        ok = value instanceof Date && !Number.isNaN(value.getTime());
        break;
      case "<data>":
        ok = value instanceof Uint8Array;
        break;
      default:
        ok = true;
    }
    if (!ok) {
      this.add(path, "type", `expected ${expected}, got ${describeValue(value)}`);
      return;
    }
    if (typeof value === "string") this.stringRules(value, spec, path);
    else {
      const number = numericValue(value);
      if (number !== undefined) this.numberRules(number, spec, path);
    }
  }

  private stringRules(value: string, spec: KeySpec, path: string): void {
    if (this.lenient) return;
    if (spec.rangelist && !spec.rangelist.includes(value)) this.rangelistProblem(value, spec.rangelist, path);
    if (spec.format) {
      const regex = formatRegex(spec.format);
      if (regex && !regex.test(value)) {
        this.add(path, "format", `${JSON.stringify(shorten(value))} does not match the format ${spec.format}`);
      }
    }
    if (this.reportUnknown && spec.subkeys && spec.subkeys.length > 0) {
      const known = spec.subkeys.filter((s) => !s.anyKey).map((s) => s.key);
      if (known.length > 0 && !known.includes(value)) {
        this.add(path, "unknown-value", `${JSON.stringify(shorten(value))} is not a value the schema lists${didYouMean(value, known)}`);
      }
    }
  }

  private numberRules(value: number, spec: KeySpec, path: string): void {
    if (this.lenient) return;
    if (spec.rangelist && !spec.rangelist.some((allowed) => allowed === value)) {
      this.rangelistProblem(value, spec.rangelist, path);
    }
    if (spec.range?.min !== undefined && value < spec.range.min) {
      this.add(path, "range", `${value} is below the minimum ${spec.range.min}`);
    }
    if (spec.range?.max !== undefined && value > spec.range.max) {
      this.add(path, "range", `${value} is above the maximum ${spec.range.max}`);
    }
  }

  private rangelistProblem(value: string | number, allowed: readonly (string | number)[], path: string): void {
    const shown = allowed.slice(0, 12).map(quote).join(", ");
    const more = allowed.length > 12 ? `, ... (${allowed.length} values)` : "";
    const got = typeof value === "string" ? JSON.stringify(shorten(value)) : String(value);
    this.add(path, "rangelist", `${got} is not one of ${shown}${more}`);
  }
}
