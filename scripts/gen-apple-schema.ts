// Generates src/wire/generated/** from Apple's device-management schema (github.com/apple/device-management,
// MIT): key-spec tables for check-in messages, commands, profile payloads and declarative items, TypeScript
// interfaces for them, and per-command metadata (platforms, channels, supervision, access rights).
//
// Usage: npm run gen:apple [-- REFERENCE_DIR] [--out DIR] [--check]
//   REFERENCE_DIR defaults to $APPLE_SCHEMA_DIR or ../shared/reference/apple-device-management (repo-relative).
//   --check writes nothing and exits 1 when the committed output differs from what the schema produces.
//
// Decisions (see also the header of each generated file):
// - YAML anchors/aliases: the parser keeps aliases as shared objects. A subkey list reached through more
//   than one key (an alias, possibly inside its own anchor, i.e. a recursive structure) is stored once in
//   specDefs under an id "<file>#<subkeytype or key path>", and every key using it carries `ref: id`.
//   TypeScript gets one named type per such list, so recursive types stay finite.
// - Several files declaring the same identifier (com.apple.MCX is split over six files, com.apple.extensiblesso
//   has a Kerberos-specific file): the entry's `keys` is their merge, which accepts any payload valid under any
//   one file: keys are unioned in file order; a key is required only if every file requires it; rangelists are
//   unioned, and dropped if a file has none; ranges widened; a type conflict makes the key <any>; a dictionary
//   that is free-form in one file is free-form in the merge. `variants` keeps each file's own keys, and
//   `supportedOS` is the one of the file named exactly "<type>.yaml", else of the first file in name order.
// - Key descriptions (`content`) are not copied into the data tables (size); the first sentence becomes the
//   doc comment of the TypeScript property for commands and check-in messages.
import { readFileSync, readdirSync, statSync, writeFileSync, mkdirSync, existsSync, unlinkSync } from "node:fs";
import { join, relative, resolve, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { commandPlatformInfo } from "../src/wire/schema/supported-os.ts";
import type {
  CheckinSchema,
  CommandInfo,
  CommandSchema,
  DeclarativeKind,
  DeclarativeSchema,
  KeySpec,
  PayloadSchema,
  Platform,
  PlatformSupport,
  SchemaVariant,
  SpecType,
  SupportedOS,
} from "../src/wire/schema/spec-types.ts";
import { PLATFORMS, SPEC_TYPES } from "../src/wire/schema/spec-types.ts";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const DEFAULT_REFERENCE_DIR = resolve(REPO_ROOT, "../shared/reference/apple-device-management");
export const DEFAULT_OUT_DIR = resolve(REPO_ROOT, "src/wire/generated");

// ---------------------------------------------------------------------------------------------------------
// Reading the YAML

type Yaml = Record<string, unknown>;

class SchemaError extends Error {
  override readonly name = "SchemaError";
}

function isRecord(value: unknown): value is Yaml {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function listYamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listYamlFiles(path));
    else if (name.endsWith(".yaml")) out.push(path);
  }
  return out;
}

interface SourceDoc {
  /** Path relative to the reference folder, e.g. "mdm/commands/device.lock.yaml". */
  readonly source: string;
  readonly doc: Yaml;
}

function readDoc(root: string, path: string): SourceDoc {
  const source = relative(root, path).split("\\").join("/");
  let doc: unknown;
  try {
    // maxAliasCount: the files are trusted input and some reuse one anchor dozens of times.
    doc = parse(readFileSync(path, "utf8"), { maxAliasCount: -1 });
  } catch (err) {
    throw new SchemaError(`${source}: YAML does not parse: ${(err as Error).message}`);
  }
  if (!isRecord(doc)) throw new SchemaError(`${source}: top level is not a mapping`);
  return { source, doc };
}

/** Warnings are collected, not printed inline, so a run reports them once and tests can assert on them. */
class Diagnostics {
  readonly warnings: string[] = [];
  warn(message: string): void {
    this.warnings.push(message);
  }
}

// ---------------------------------------------------------------------------------------------------------
// supportedOS

const BOOLEAN_FIELDS = [
  "multiple",
  "devicechannel",
  "userchannel",
  "supervised",
  "requiresdep",
  "userapprovedmdm",
  "allowmanualinstall",
  "always-skippable",
  "beta",
] as const;
const VERSION_FIELDS = ["introduced", "deprecated", "removed"] as const;
const MODES = new Set(["allowed", "required", "forbidden", "ignored"]);

function stringList(value: unknown, where: string, diag: Diagnostics): string[] | undefined {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    diag.warn(`${where}: expected a list of strings, dropped`);
    return undefined;
  }
  return value as string[];
}

function convertPlatform(raw: unknown, where: string, diag: Diagnostics): PlatformSupport | undefined {
  // `macOS:` with nothing under it appears in a few files; it adds nothing to the inherited entry.
  if (raw === null || raw === undefined) return undefined;
  if (!isRecord(raw)) {
    diag.warn(`${where}: not a mapping, dropped`);
    return undefined;
  }
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(raw)) {
    if ((VERSION_FIELDS as readonly string[]).includes(field) || field === "accessrights") {
      if (typeof value === "string") out[field] = value;
      else if (typeof value === "number") {
        // An unquoted 10.10 would arrive as 10.1: refuse to guess.
        diag.warn(`${where}.${field}: unquoted number ${value} read as "${String(value)}"`);
        out[field] = String(value);
      } else if (value !== null) diag.warn(`${where}.${field}: not a string, dropped`);
    } else if ((BOOLEAN_FIELDS as readonly string[]).includes(field)) {
      if (typeof value === "boolean") out[field] = value;
      else diag.warn(`${where}.${field}: not a boolean, dropped`);
    } else if (field === "allowed-enrollments" || field === "allowed-scopes") {
      const list = stringList(value, `${where}.${field}`, diag);
      if (list) out[field] = list;
    } else if (field === "sharedipad" || field === "userenrollment") {
      if (!isRecord(value)) {
        diag.warn(`${where}.${field}: not a mapping, dropped`);
        continue;
      }
      const sub: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (k === "mode" && typeof v === "string" && MODES.has(v)) sub[k] = v;
        else if (field === "sharedipad" && (k === "devicechannel" || k === "userchannel") && typeof v === "boolean") {
          sub[k] = v;
        } else if (field === "sharedipad" && k === "allowed-scopes") {
          const list = stringList(v, `${where}.${field}.${k}`, diag);
          if (list) sub[k] = list;
        } else if (field === "userenrollment" && k === "behavior" && typeof v === "string") sub[k] = v;
        else diag.warn(`${where}.${field}.${k}: unexpected field or value, dropped`);
      }
      out[field] = sub;
    } else {
      diag.warn(`${where}.${field}: unknown supportedOS field, dropped`);
    }
  }
  return out as PlatformSupport;
}

function convertSupportedOS(raw: unknown, where: string, diag: Diagnostics): SupportedOS | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw)) {
    diag.warn(`${where}: supportedOS is not a mapping, dropped`);
    return undefined;
  }
  const out: { [P in Platform]?: PlatformSupport } = {};
  for (const [name, value] of Object.entries(raw)) {
    if (!(PLATFORMS as readonly string[]).includes(name)) {
      diag.warn(`${where}.${name}: unknown platform, dropped`);
      continue;
    }
    const platform = convertPlatform(value, `${where}.${name}`, diag);
    if (platform) out[name as Platform] = platform;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Keys

type MutableKeySpec = { -readonly [K in keyof KeySpec]: KeySpec[K] };

/** Placeholder key names that stand for "any key" in a dictionary: "ANY", "ANY restriction name"... */
export function isAnyKeyName(name: string): boolean {
  return name === "ANY" || name.startsWith("ANY ");
}

interface DefEntry {
  id: string;
  tsName: string;
  keys: KeySpec[] | undefined; // undefined while being converted (a recursive reference)
}

/** Converts one file's key lists; shares the definitions table of the whole run. */
class KeyConverter {
  private readonly useCount = new Map<unknown[], number>();
  private readonly defIdOf = new Map<unknown[], string>();

  constructor(
    private readonly source: string,
    private readonly defs: Map<string, DefEntry>,
    private readonly diag: Diagnostics,
  ) {}

  /** First pass: count how many keys point at each subkeys list object, so aliased lists can be hoisted. */
  countUses(list: unknown): void {
    if (!Array.isArray(list)) return;
    for (const item of list) {
      if (!isRecord(item) || !Array.isArray(item.subkeys)) continue;
      const subkeys = item.subkeys as unknown[];
      const seen = this.useCount.get(subkeys) ?? 0;
      this.useCount.set(subkeys, seen + 1);
      if (seen === 0) this.countUses(subkeys);
    }
  }

  convertList(list: unknown, path: string): KeySpec[] {
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) throw new SchemaError(`${this.source}: ${path}: key list is not a sequence`);
    return list.map((item, i) => this.convertKey(item, path, i));
  }

  /** `parent` is the path of key names down to the enclosing list ("" at the top), for ids and messages. */
  private convertKey(raw: unknown, parent: string, index: number): KeySpec {
    if (!isRecord(raw)) throw new SchemaError(`${this.source}: ${parent}[${index}]: key entry is not a mapping`);
    const name = raw.key;
    if (typeof name !== "string") throw new SchemaError(`${this.source}: ${parent}[${index}]: key without a name`);
    const path = parent ? `${parent}.${name}` : name;
    const where = `${this.source}: ${path}`;
    const type = raw.type;
    if (typeof type !== "string" || !(SPEC_TYPES as readonly string[]).includes(type)) {
      throw new SchemaError(`${where}: unknown type ${JSON.stringify(type)}`);
    }
    const spec: MutableKeySpec = {
      key: name,
      type: type as SpecType,
      presence: raw.presence === "required" ? "required" : "optional",
    };
    if (raw.presence !== undefined && raw.presence !== "required" && raw.presence !== "optional") {
      this.diag.warn(`${where}: presence ${JSON.stringify(raw.presence)} read as optional`);
    }
    if (isAnyKeyName(name)) spec.anyKey = true;
    if (typeof raw.title === "string") spec.title = raw.title;
    const supportedOS = convertSupportedOS(raw.supportedOS, `${where}.supportedOS`, this.diag);
    if (supportedOS) spec.supportedOS = supportedOS;
    if (raw.rangelist !== undefined) {
      if (Array.isArray(raw.rangelist) && raw.rangelist.every((v) => typeof v === "string" || typeof v === "number")) {
        spec.rangelist = raw.rangelist as (string | number)[];
      } else this.diag.warn(`${where}: rangelist is not a list of strings/numbers, dropped`);
    }
    if (raw.range !== undefined) {
      const range = raw.range;
      if (isRecord(range)) {
        const out: { min?: number; max?: number } = {};
        if (typeof range.min === "number") out.min = range.min;
        if (typeof range.max === "number") out.max = range.max;
        spec.range = out;
      } else this.diag.warn(`${where}: range is not a mapping, dropped`);
    }
    if (raw.default !== undefined && raw.default !== null) {
      const value = raw.default;
      if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") spec.default = value;
      else this.diag.warn(`${where}: default is not a scalar, dropped`);
    }
    if (typeof raw.format === "string") {
      try {
        new RegExp(raw.format);
        spec.format = raw.format;
      } catch {
        this.diag.warn(`${where}: format is not a JavaScript regular expression, dropped`);
      }
    }
    const valuetype = typeof raw.valuetype === "string" ? raw.valuetype : raw.subtype;
    if (typeof valuetype === "string") spec.valuetype = valuetype.replace(/^<(.*)>$/, "$1");
    if (isRecord(raw.repetition) && typeof raw.repetition.min === "number" && typeof raw.repetition.max === "number") {
      spec.repetition = { min: raw.repetition.min, max: raw.repetition.max };
    }
    if (typeof raw.combinetype === "string") spec.combinetype = raw.combinetype;
    if (raw.assettypes !== undefined) {
      const list = stringList(raw.assettypes, `${where}.assettypes`, this.diag);
      if (list) spec.assettypes = list;
    }
    if (typeof raw.subkeytype === "string") spec.subkeytype = raw.subkeytype;
    if (raw.subkeys !== undefined && raw.subkeys !== null) {
      if (!Array.isArray(raw.subkeys)) throw new SchemaError(`${where}: subkeys is not a sequence`);
      const subkeys = raw.subkeys as unknown[];
      if ((this.useCount.get(subkeys) ?? 0) > 1) spec.ref = this.hoist(subkeys, spec, path);
      else spec.subkeys = this.convertList(subkeys, path);
    }
    if (spec.type === "<array>" && !spec.subkeys && !spec.ref) {
      this.diag.warn(`${where}: array without an item description, elements are not checked`);
    }
    return spec;
  }

  private hoist(subkeys: unknown[], owner: KeySpec, path: string): string {
    const known = this.defIdOf.get(subkeys);
    if (known) return known;
    const stem = this.source.replace(/\.yaml$/, "");
    const label = owner.subkeytype ?? path;
    let id = `${stem}#${label}`;
    for (let n = 2; this.defs.has(id); n++) id = `${stem}#${label}~${n}`;
    this.defIdOf.set(subkeys, id);
    const entry: DefEntry = { id, tsName: tsDefName(id), keys: undefined };
    this.defs.set(id, entry);
    entry.keys = this.convertList(subkeys, path);
    return id;
  }
}

function pascal(text: string): string {
  return text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join("");
}

function tsDefName(id: string): string {
  const [file = "", label = ""] = id.split("#");
  return `${pascal(basename(file))}${pascal(label)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Merging entries declared by several files

function mergeRangelists(
  a: readonly (string | number)[] | undefined,
  b: readonly (string | number)[] | undefined,
): (string | number)[] | undefined {
  if (!a || !b) return undefined;
  const out = [...a];
  for (const v of b) if (!out.includes(v)) out.push(v);
  return out;
}

function mergeKey(a: KeySpec, b: KeySpec): KeySpec {
  if (a.type !== b.type) return { key: a.key, type: "<any>", presence: "optional" };
  const out: MutableKeySpec = { ...a };
  out.presence = a.presence === "required" && b.presence === "required" ? "required" : "optional";
  const rangelist = mergeRangelists(a.rangelist, b.rangelist);
  if (rangelist) out.rangelist = rangelist;
  else delete out.rangelist;
  if (a.range && b.range) {
    const range: { min?: number; max?: number } = {};
    if (a.range.min !== undefined && b.range.min !== undefined) range.min = Math.min(a.range.min, b.range.min);
    if (a.range.max !== undefined && b.range.max !== undefined) range.max = Math.max(a.range.max, b.range.max);
    out.range = range;
  } else delete out.range;
  if (a.default !== b.default) delete out.default;
  if (a.format !== b.format) delete out.format;
  if (a.ref !== undefined || b.ref !== undefined) {
    // Shared definitions are only merged when they are the same one; otherwise the contents are free-form.
    if (a.ref !== b.ref) {
      delete out.ref;
      delete out.subkeys;
    }
  } else if (a.subkeys && b.subkeys) {
    out.subkeys = mergeKeyLists([a.subkeys, b.subkeys]);
  } else {
    delete out.subkeys;
  }
  return out;
}

/** Union of key lists; see the header comment for the rule. */
function mergeKeyLists(lists: readonly (readonly KeySpec[])[]): KeySpec[] {
  const order: string[] = [];
  const merged = new Map<string, KeySpec>();
  const count = new Map<string, number>();
  for (const list of lists) {
    for (const key of list) {
      const existing = merged.get(key.key);
      merged.set(key.key, existing ? mergeKey(existing, key) : key);
      count.set(key.key, (count.get(key.key) ?? 0) + 1);
      if (!existing) order.push(key.key);
    }
  }
  return order.map((name) => {
    const key = merged.get(name)!;
    return count.get(name) === lists.length || key.presence === "optional" ? key : { ...key, presence: "optional" };
  });
}

interface Declared {
  type: string;
  source: string;
  title: string;
  supportedOS: SupportedOS | undefined;
  apply: string | undefined;
  keys: KeySpec[];
  response: KeySpec[];
}

function mergeDeclared(type: string, items: readonly Declared[]): PayloadSchema & { response: KeySpec[] } {
  const sorted = [...items].sort((x, y) => (x.source < y.source ? -1 : x.source > y.source ? 1 : 0));
  const base = sorted.find((d) => basename(d.source) === `${type}.yaml`) ?? sorted[0]!;
  const schema: { -readonly [K in keyof PayloadSchema]: PayloadSchema[K] } & { response: KeySpec[] } = {
    type,
    title: base.title,
    sources: sorted.map((d) => d.source),
    keys: sorted.length === 1 ? base.keys : mergeKeyLists(sorted.map((d) => d.keys)),
    response: sorted.length === 1 ? base.response : mergeKeyLists(sorted.map((d) => d.response)),
  };
  if (base.supportedOS) schema.supportedOS = base.supportedOS;
  if (base.apply) schema.apply = base.apply;
  if (sorted.length > 1) {
    schema.variants = sorted.map((d): SchemaVariant => {
      const variant: { -readonly [K in keyof SchemaVariant]: SchemaVariant[K] } = {
        source: d.source,
        title: d.title,
        keys: d.keys,
      };
      if (d.supportedOS) variant.supportedOS = d.supportedOS;
      return variant;
    });
  }
  return schema;
}

// ---------------------------------------------------------------------------------------------------------
// The model of the whole schema

export interface SchemaModel {
  readonly checkins: readonly CheckinSchema[];
  readonly commands: readonly CommandSchema[];
  readonly profiles: readonly PayloadSchema[];
  readonly declarative: readonly DeclarativeSchema[];
  readonly other: readonly PayloadSchema[];
  readonly defs: ReadonlyMap<string, { readonly tsName: string; readonly keys: readonly KeySpec[] }>;
  readonly commandInfo: readonly CommandInfo[];
  readonly license: string;
  readonly warnings: readonly string[];
  /** For doc comments: source-relative key path -> first sentence of Apple's description. */
  readonly docs: ReadonlyMap<string, string>;
}

const TYPE_FIELDS = ["payloadtype", "requesttype", "declarationtype", "statusitemtype", "credentialtype"] as const;

function declaredType(doc: Yaml, source: string): string {
  const payload = doc.payload;
  if (!isRecord(payload)) throw new SchemaError(`${source}: no payload block`);
  for (const field of TYPE_FIELDS) {
    const value = payload[field];
    if (typeof value === "string") return value;
  }
  throw new SchemaError(`${source}: payload has none of ${TYPE_FIELDS.join(", ")}`);
}

function firstSentence(text: unknown): string | undefined {
  if (typeof text !== "string") return undefined;
  const line = text.split("\n")[0]!.trim();
  const match = /^(.+?[.!?])(\s|$)/.exec(line);
  let sentence = match?.[1] ?? line;
  if (sentence.length > 200) sentence = `${sentence.slice(0, 197)}...`;
  return sentence.length > 0 ? sentence : undefined;
}

function collectDocs(list: unknown, prefix: string, docs: Map<string, string>, seen: Set<unknown>): void {
  if (!Array.isArray(list) || seen.has(list)) return;
  seen.add(list);
  for (const item of list) {
    if (!isRecord(item) || typeof item.key !== "string") continue;
    const path = `${prefix}.${item.key}`;
    const sentence = firstSentence(item.content);
    if (sentence) docs.set(path, sentence);
    collectDocs(item.subkeys, path, docs, seen);
  }
}

function declarativeKind(source: string): DeclarativeKind {
  if (source.startsWith("declarative/status/")) return "status";
  if (source.startsWith("declarative/protocol/")) return "protocol";
  if (source.startsWith("declarative/declarations/assets/credentials/")) return "credential";
  if (source.startsWith("declarative/declarations/assets/")) return "asset";
  if (source.startsWith("declarative/declarations/configurations/")) return "configuration";
  if (source.startsWith("declarative/declarations/activations/")) return "activation";
  if (source.startsWith("declarative/declarations/management/")) return "management";
  return "base";
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const list = map.get(key);
    if (list) list.push(item);
    else map.set(key, [item]);
  }
  return new Map([...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function buildModel(referenceDir: string): SchemaModel {
  const root = resolve(referenceDir);
  if (!existsSync(join(root, "mdm"))) {
    throw new SchemaError(`${root} does not look like Apple's device-management repository (no mdm/ folder)`);
  }
  const licensePath = join(root, "LICENSE.txt");
  if (!existsSync(licensePath)) throw new SchemaError(`${licensePath} is missing: the MIT notice must be kept`);
  const license = readFileSync(licensePath, "utf8").trim();
  const diag = new Diagnostics();
  const defs = new Map<string, DefEntry>();
  const docs = new Map<string, string>();

  const load = (folder: string): (Declared & { doc: Yaml })[] =>
    listYamlFiles(join(root, folder)).map((path) => {
      const { source, doc } = readDoc(root, path);
      const type = declaredType(doc, source);
      const converter = new KeyConverter(source, defs, diag);
      converter.countUses(doc.payloadkeys);
      converter.countUses(doc.responsekeys);
      const payload = doc.payload as Yaml;
      const supportedOS = convertSupportedOS(payload.supportedOS, `${source}: payload.supportedOS`, diag);
      collectDocs(doc.payloadkeys, `${source}#request`, docs, new Set());
      collectDocs(doc.responsekeys, `${source}#response`, docs, new Set());
      return {
        type,
        source,
        doc,
        title: typeof doc.title === "string" ? doc.title : type,
        supportedOS,
        apply: typeof payload.apply === "string" ? payload.apply : undefined,
        keys: converter.convertList(doc.payloadkeys, ""),
        response: converter.convertList(doc.responsekeys, ""),
      };
    });

  // Check-in messages are identified on the wire by MessageType; the file's requesttype names the same thing.
  const checkinFiles = load("mdm/checkin");
  const checkins = [...groupBy(checkinFiles, (d) => messageTypeOf(d)).entries()].map(([messageType, items]) => {
    const merged = mergeDeclared(messageType, items);
    const entry: { -readonly [K in keyof CheckinSchema]: CheckinSchema[K] } = {
      messageType,
      title: merged.title,
      source: merged.sources.join(", "),
      request: merged.keys,
    };
    if (merged.supportedOS) entry.supportedOS = merged.supportedOS;
    if (merged.response.length > 0) entry.response = merged.response;
    return entry;
  });

  const commandFiles = load("mdm/commands");
  const commands = [...groupBy(commandFiles, (d) => d.type).entries()].map(([requestType, items]) => {
    const merged = mergeDeclared(requestType, items);
    const entry: { -readonly [K in keyof CommandSchema]: CommandSchema[K] } = {
      requestType,
      title: merged.title,
      source: merged.sources.join(", "),
      request: merged.keys,
      response: merged.response,
    };
    if (merged.supportedOS) entry.supportedOS = merged.supportedOS;
    return entry;
  });

  const stripResponse = ({ response: _response, ...rest }: PayloadSchema & { response: KeySpec[] }): PayloadSchema =>
    rest;
  const profiles = [...groupBy(load("mdm/profiles"), (d) => d.type).entries()].map(([type, items]) =>
    stripResponse(mergeDeclared(type, items)),
  );
  const other = [...groupBy(load("other"), (d) => d.type).entries()].map(([type, items]) =>
    stripResponse(mergeDeclared(type, items)),
  );
  const declarativeFiles = load("declarative");
  const declarative = [
    ...groupBy(declarativeFiles, (d) => `${declarativeKind(d.source)}\u0000${d.type}`).entries(),
  ].map(([group, items]): DeclarativeSchema => {
    const kind = group.split("\u0000")[0] as DeclarativeKind;
    // The base file declares `declarationtype: any`; give it a name that cannot clash with a real type.
    const type = kind === "base" ? "DeclarationBase" : items[0]!.type;
    return { kind, ...stripResponse(mergeDeclared(type, items)) };
  });

  const commandInfo = commands.map((command): CommandInfo => {
    const platforms = {} as { [P in Platform]: ReturnType<typeof commandPlatformInfo> };
    for (const platform of PLATFORMS) {
      try {
        platforms[platform] = commandPlatformInfo(platform, command.supportedOS?.[platform]);
      } catch (err) {
        throw new SchemaError(`${command.source}: ${platform}: ${(err as Error).message}`);
      }
    }
    return { requestType: command.requestType, title: command.title, platforms };
  });

  const finishedDefs = new Map<string, { tsName: string; keys: readonly KeySpec[] }>();
  for (const [id, entry] of [...defs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!entry.keys) throw new SchemaError(`definition ${id} was never completed`);
    finishedDefs.set(id, { tsName: entry.tsName, keys: entry.keys });
  }
  const tsNames = new Set<string>();
  for (const entry of finishedDefs.values()) {
    if (tsNames.has(entry.tsName)) throw new SchemaError(`two definitions map to the TypeScript name ${entry.tsName}`);
    tsNames.add(entry.tsName);
  }

  return {
    checkins,
    commands,
    profiles,
    declarative,
    other,
    defs: finishedDefs,
    commandInfo,
    license,
    warnings: diag.warnings,
    docs,
  };
}

function messageTypeOf(d: Declared): string {
  const key = d.keys.find((k) => k.key === "MessageType");
  const value = key?.rangelist?.length === 1 ? key.rangelist[0] : undefined;
  return typeof value === "string" ? value : d.type;
}

// ---------------------------------------------------------------------------------------------------------
// Printing data as TypeScript

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function propertyName(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

/** JSON-like literal, one line when it fits in `width`, otherwise one property per line. */
function printLiteral(value: unknown, indent: string, width = 120): string {
  const flat = printFlat(value);
  if (flat.length + indent.length <= width || value === null || typeof value !== "object") return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    return `[\n${value.map((v) => `${inner}${printLiteral(v, inner, width)},`).join("\n")}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{\n${entries.map(([k, v]) => `${inner}${propertyName(k)}: ${printLiteral(v, inner, width)},`).join("\n")}\n${indent}}`;
}

function printFlat(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(printFlat).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return "{}";
  return `{ ${entries.map(([k, v]) => `${propertyName(k)}: ${printFlat(v)}`).join(", ")} }`;
}

function header(model: SchemaModel, what: string): string {
  const notice = model.license
    .split("\n")
    .map((line) => ` * ${line}`.trimEnd())
    .join("\n");
  return [
    `// ${what}`,
    "// Generated by scripts/gen-apple-schema.ts from Apple's device-management schema. Do not edit by hand:",
    "// change the generator or the schema and run `npm run gen:apple`.",
    "/*",
    " * Derived from Apple's device-management repository (https://github.com/apple/device-management),",
    " * used under the following licence:",
    " *",
    notice,
    " */",
    "",
  ].join("\n");
}

function dataModule(model: SchemaModel, what: string, imports: string[], body: string[]): string {
  return [
    header(model, what),
    `import type { ${imports.join(", ")} } from "../schema/spec-types.ts";`,
    "",
    ...body,
  ].join("\n");
}

function recordLiteral<T>(entries: readonly T[], keyOf: (item: T) => string): string {
  const lines = entries.map((entry) => `  ${JSON.stringify(keyOf(entry))}: ${printLiteral(entry, "  ")},`);
  return `{\n${lines.join("\n")}\n}`;
}

// ---------------------------------------------------------------------------------------------------------
// Printing TypeScript types

interface TypeContext {
  readonly model: SchemaModel;
  /** Defs referenced while printing this file (emitted at its end). */
  readonly usedDefs: Map<string, "dictionary" | "array">;
  /** Values the device sends: literal unions stay open to values newer than the schema. */
  readonly openEnums: boolean;
}

function defTsName(ctx: TypeContext, id: string, as: "dictionary" | "array"): string {
  const def = ctx.model.defs.get(id);
  if (!def) throw new SchemaError(`reference to unknown definition ${id}`);
  const previous = ctx.usedDefs.get(id);
  if (previous && previous !== as) throw new SchemaError(`definition ${id} is used both as array and dictionary`);
  ctx.usedDefs.set(id, as);
  return def.tsName;
}

function literalUnion(spec: KeySpec, base: string, open: boolean): string {
  const values = spec.rangelist!.filter((v) => (base === "string" ? typeof v === "string" : typeof v === "number"));
  if (values.length !== spec.rangelist!.length || values.length === 0) return base;
  const union = values.map((v) => JSON.stringify(v)).join(" | ");
  // A single allowed value is a discriminator (MessageType, a setting's Item): keep it exact so unions narrow.
  return open && values.length > 1 ? `${union} | (${base} & {})` : union;
}

function scalarType(spec: KeySpec, ctx: TypeContext): string {
  switch (spec.type) {
    case "<string>":
      if (spec.rangelist) return literalUnion(spec, "string", ctx.openEnums);
      if (spec.subkeys && spec.subkeys.length > 0) {
        // Known values listed as subkeys (DeviceInformation queries): suggest them, accept others.
        const names = spec.subkeys.filter((s) => !s.anyKey).map((s) => JSON.stringify(s.key));
        return names.length > 0 ? `${names.join(" | ")} | (string & {})` : "string";
      }
      return "string";
    case "<integer>":
    case "<real>":
      return spec.rangelist ? literalUnion(spec, "number", ctx.openEnums) : "number";
    case "<boolean>":
      return "boolean";
    case "<date>":
      return "Date";
    case "<data>":
      return "Uint8Array";
    default:
      return "unknown";
  }
}

function valueType(spec: KeySpec, ctx: TypeContext, indent: string, docPath: string | undefined): string {
  if (spec.type === "<dictionary>") {
    if (spec.ref) return defTsName(ctx, spec.ref, "dictionary");
    if (!spec.subkeys || spec.subkeys.length === 0) return "Record<string, unknown>";
    return objectType(spec.subkeys, ctx, indent, docPath);
  }
  if (spec.type === "<array>") {
    if (spec.ref) return `${defTsName(ctx, spec.ref, "array")}[]`;
    const items = spec.subkeys ?? [];
    if (items.length === 0) return "unknown[]";
    const itemTypes = items.map((item) => valueType(item, ctx, indent, docPath ? `${docPath}.${item.key}` : undefined));
    const unique = [...new Set(itemTypes)];
    return unique.length === 1 ? arrayOf(unique[0]!) : `Array<${unique.join(" | ")}>`;
  }
  return scalarType(spec, ctx);
}

function arrayOf(type: string): string {
  return /^[A-Za-z0-9_.<>]+$/.test(type) ? `${type}[]` : `Array<${type}>`;
}

function docComment(ctx: TypeContext, docPath: string | undefined, indent: string): string {
  if (!docPath) return "";
  const text = ctx.model.docs.get(docPath);
  if (!text) return "";
  return `${indent}/** ${text.replace(/\*\//g, "*\\/")} */\n`;
}

function objectType(keys: readonly KeySpec[], ctx: TypeContext, indent: string, docPath: string | undefined): string {
  const inner = `${indent}  `;
  const explicit = keys.filter((k) => !k.anyKey);
  const wildcards = keys.filter((k) => k.anyKey);
  const lines: string[] = [];
  for (const key of explicit) {
    const path = docPath ? `${docPath}.${key.key}` : undefined;
    const optional = key.presence === "required" ? "" : "?";
    lines.push(
      `${docComment(ctx, path, inner)}${inner}${propertyName(key.key)}${optional}: ${valueType(key, ctx, inner, path)};`,
    );
  }
  if (wildcards.length > 0) {
    // Explicit properties must fit the index signature, so mixed dictionaries index as unknown.
    const wildcardTypes = [...new Set(wildcards.map((w) => valueType(w, ctx, inner, undefined)))];
    const indexType = explicit.length > 0 ? "unknown" : wildcardTypes.join(" | ");
    lines.push(`${inner}[key: string]: ${indexType};`);
  }
  if (lines.length === 0) return "Record<string, never>";
  return `{\n${lines.join("\n")}\n${indent}}`;
}

function emitUsedDefs(ctx: TypeContext): string[] {
  const out: string[] = [];
  const done = new Set<string>();
  // Printing a def can reference further defs; loop until closed.
  for (;;) {
    const pending = [...ctx.usedDefs.entries()].filter(([id]) => !done.has(id)).sort(([a], [b]) => (a < b ? -1 : 1));
    if (pending.length === 0) break;
    for (const [id, as] of pending) {
      done.add(id);
      const def = ctx.model.defs.get(id)!;
      let type: string;
      if (as === "dictionary") type = objectType(def.keys, ctx, "", undefined);
      else {
        const items = [...new Set(def.keys.map((item) => valueType(item, ctx, "", undefined)))];
        type = items.length === 0 ? "unknown" : items.join(" | ");
      }
      out.push(`/** Shared or recursive structure \`${id}\` (a YAML anchor in the schema). */`);
      out.push(`export type ${def.tsName} = ${type};`, "");
    }
  }
  return out;
}

function typesModule(model: SchemaModel, what: string, body: string[], ctx: TypeContext): string {
  const defs = emitUsedDefs(ctx);
  return [header(model, what), ...body, ...(defs.length > 0 ? ["// Shared and recursive structures", "", ...defs] : [])]
    .join("\n")
    .replace(/\n+$/, "\n");
}

function commandTypes(model: SchemaModel): string {
  const ctx: TypeContext = { model, usedDefs: new Map(), openEnums: false };
  const body: string[] = [];
  for (const command of model.commands) {
    const source = command.source.split(", ")[0]!;
    const requestCtx = { ...ctx, openEnums: false };
    body.push(`/** ${command.title}: the \`Command\` dictionary of a ${command.requestType} command, without RequestType. */`);
    body.push(
      `export interface ${command.requestType}Command ${objectTypeOrEmpty(command.request, requestCtx, `${source}#request`)}`,
      "",
    );
    const responseCtx = { ...ctx, openEnums: true };
    body.push(`/** ${command.title}: command-specific keys of the device's response (besides Status, CommandUUID...). */`);
    body.push(
      `export interface ${command.requestType}Response ${objectTypeOrEmpty(command.response, responseCtx, `${source}#response`)}`,
      "",
    );
  }
  body.push("/** RequestType -> the `Command` dictionary's other keys. */");
  body.push("export interface CommandRequestMap {");
  for (const command of model.commands) body.push(`  ${propertyName(command.requestType)}: ${command.requestType}Command;`);
  body.push("}", "");
  body.push("/** RequestType -> the command-specific keys of its response. */");
  body.push("export interface CommandResponseMap {");
  for (const command of model.commands) body.push(`  ${propertyName(command.requestType)}: ${command.requestType}Response;`);
  body.push("}", "");
  body.push("export type CommandRequestType = keyof CommandRequestMap;", "");
  body.push("/** A full `Command` dictionary: RequestType plus that command's keys. */");
  body.push("export type CommandPayload<T extends CommandRequestType = CommandRequestType> = {");
  body.push("  [K in T]: { RequestType: K } & CommandRequestMap[K];");
  body.push("}[T];", "");
  return typesModule(model, "TypeScript types of every MDM command's request and response.", body, ctx);
}

/** Interfaces need a body; an empty key list becomes `{}` with a reason. */
function objectTypeOrEmpty(keys: readonly KeySpec[], ctx: TypeContext, docPath: string): string {
  if (keys.length === 0) return "{\n  // The schema defines no keys.\n}";
  const type = objectType(keys, ctx, "", docPath);
  return type === "Record<string, never>" ? "{}" : type;
}

function checkinTypes(model: SchemaModel): string {
  const ctx: TypeContext = { model, usedDefs: new Map(), openEnums: true };
  const body: string[] = [];
  for (const checkin of model.checkins) {
    const source = checkin.source.split(", ")[0]!;
    body.push(`/** ${checkin.title}: the check-in message with MessageType ${checkin.messageType}. */`);
    body.push(
      `export interface ${checkin.messageType}Message ${objectTypeOrEmpty(checkin.request, ctx, `${source}#request`)}`,
      "",
    );
    if (checkin.response) {
      body.push(`/** The server's reply to ${checkin.messageType}. */`);
      body.push(
        `export interface ${checkin.messageType}CheckinResponse ${objectTypeOrEmpty(checkin.response, { ...ctx, openEnums: false }, `${source}#response`)}`,
        "",
      );
    }
  }
  body.push("/** MessageType -> the check-in message. */");
  body.push("export interface CheckinMessageMap {");
  for (const checkin of model.checkins) body.push(`  ${propertyName(checkin.messageType)}: ${checkin.messageType}Message;`);
  body.push("}", "");
  body.push("/** MessageType -> the server's reply, for the messages that have one. */");
  body.push("export interface CheckinResponseMap {");
  for (const checkin of model.checkins) {
    if (checkin.response) body.push(`  ${propertyName(checkin.messageType)}: ${checkin.messageType}CheckinResponse;`);
  }
  body.push("}", "");
  body.push("export type CheckinMessageType = keyof CheckinMessageMap;", "");
  body.push("export type CheckinMessage = CheckinMessageMap[CheckinMessageType];", "");
  return typesModule(model, "TypeScript types of the MDM check-in messages.", body, ctx);
}

function payloadMapTypes(
  model: SchemaModel,
  what: string,
  mapName: string,
  entries: readonly PayloadSchema[],
  keyOf: (entry: PayloadSchema) => string,
): string {
  const ctx: TypeContext = { model, usedDefs: new Map(), openEnums: false };
  const body: string[] = [`export interface ${mapName} {`];
  for (const entry of entries) {
    body.push(`  /** ${entry.title} (${entry.sources.join(", ")}) */`);
    body.push(`  ${JSON.stringify(keyOf(entry))}: ${entry.keys.length ? objectType(entry.keys, ctx, "  ", undefined) : "Record<string, never>"};`);
  }
  body.push("}", "");
  return typesModule(model, what, body, ctx);
}

// ---------------------------------------------------------------------------------------------------------
// All output files

export function renderFiles(model: SchemaModel): Map<string, string> {
  const files = new Map<string, string>();
  files.set(
    "spec-defs.ts",
    dataModule(model, "Subkey lists the schema shares through YAML anchors, including recursive ones.", ["KeySpec"], [
      "/** Definition id (\"<source file>#<subkeytype or key path>\") -> the shared key list. KeySpec.ref points here. */",
      "export const specDefs: Readonly<Record<string, readonly KeySpec[]>> = {",
      ...[...model.defs.entries()].map(([id, def]) => `  ${JSON.stringify(id)}: ${printLiteral(def.keys, "  ")},`),
      "};",
      "",
    ]),
  );
  files.set(
    "checkin-specs.ts",
    dataModule(model, "Key specs of the MDM check-in messages, by MessageType.", ["CheckinSchema"], [
      `export const checkinSchemas: Readonly<Record<string, CheckinSchema>> = ${recordLiteral(model.checkins, (c) => c.messageType)};`,
      "",
    ]),
  );
  files.set(
    "command-specs.ts",
    dataModule(model, "Key specs of every MDM command's request and response, by RequestType.", ["CommandSchema"], [
      `export const commandSchemas: Readonly<Record<string, CommandSchema>> = ${recordLiteral(model.commands, (c) => c.requestType)};`,
      "",
    ]),
  );
  files.set(
    "profile-specs.ts",
    dataModule(
      model,
      "Key specs of every configuration-profile payload, by PayloadType (plus TopLevel and CommonPayloadKeys).",
      ["PayloadSchema"],
      [
        `export const profileSchemas: Readonly<Record<string, PayloadSchema>> = ${recordLiteral(model.profiles, (p) => p.type)};`,
        "",
      ],
    ),
  );
  files.set(
    "declarative-specs.ts",
    dataModule(
      model,
      "Key specs of declarative device management: declarations, status items, protocol messages.",
      ["DeclarativeSchema"],
      [
        "/** Keyed by \"<kind>:<type>\" (a status item and a configuration may share a name). */",
        `export const declarativeSchemas: Readonly<Record<string, DeclarativeSchema>> = ${recordLiteral(
          model.declarative,
          (d) => `${(d as DeclarativeSchema).kind}:${d.type}`,
        )};`,
        "",
      ],
    ),
  );
  files.set(
    "other-specs.ts",
    dataModule(
      model,
      "Key specs of the schema's other documents (MachineInfo, SkipKeys, ...), by their payload type.",
      ["PayloadSchema"],
      [
        `export const otherSchemas: Readonly<Record<string, PayloadSchema>> = ${recordLiteral(model.other, (p) => p.type)};`,
        "",
      ],
    ),
  );
  files.set(
    "command-info.ts",
    dataModule(
      model,
      "Per-command requirements (platforms, channels, supervision, enrollment modes, access rights).",
      ["CommandInfo"],
      [
        "// Normalised from each command's payload.supportedOS by commandPlatformInfo (src/wire/schema/supported-os.ts),",
        "// which documents the defaults applied; accessRightsBits uses src/wire/schema/access-rights.ts.",
        `export const commandInfos: Readonly<Record<string, CommandInfo>> = ${recordLiteral(model.commandInfo, (c) => c.requestType)};`,
        "",
      ],
    ),
  );
  files.set("command-types.ts", commandTypes(model));
  files.set("checkin-types.ts", checkinTypes(model));
  files.set(
    "profile-types.ts",
    payloadMapTypes(
      model,
      "TypeScript types of configuration-profile payloads (payload-specific keys; see CommonPayloadKeys).",
      "ProfilePayloadMap",
      model.profiles,
      (p) => p.type,
    ),
  );
  files.set(
    "declarative-types.ts",
    payloadMapTypes(
      model,
      "TypeScript types of declarative device management items (a declaration's Payload, a status item's value).",
      "DeclarativeItemMap",
      model.declarative,
      (d) => `${(d as DeclarativeSchema).kind}:${d.type}`,
    ),
  );
  files.set(
    "index.ts",
    [
      header(model, "Entry point of the generated tables and types."),
      ...[...files.keys()].sort().map((name) => `export * from "./${name}";`),
      "",
    ].join("\n"),
  );
  return files;
}

/** Writes the files, removes generated .ts files no longer produced, and returns the names that changed. */
export function writeFiles(outDir: string, files: ReadonlyMap<string, string>): string[] {
  mkdirSync(outDir, { recursive: true });
  const changed: string[] = [];
  for (const [name, content] of files) {
    const path = join(outDir, name);
    if (existsSync(path) && readFileSync(path, "utf8") === content) continue;
    writeFileSync(path, content);
    changed.push(name);
  }
  for (const name of readdirSync(outDir)) {
    if (name.endsWith(".ts") && !files.has(name)) {
      unlinkSync(join(outDir, name));
      changed.push(name);
    }
  }
  return changed;
}

/** Names of files whose committed content differs from `files` (missing, different, or extra). */
export function diffFiles(outDir: string, files: ReadonlyMap<string, string>): string[] {
  const differing: string[] = [];
  for (const [name, content] of files) {
    const path = join(outDir, name);
    if (!existsSync(path) || readFileSync(path, "utf8") !== content) differing.push(name);
  }
  if (existsSync(outDir)) {
    for (const name of readdirSync(outDir)) if (name.endsWith(".ts") && !files.has(name)) differing.push(name);
  }
  return differing;
}

function main(argv: readonly string[]): number {
  let reference = process.env.APPLE_SCHEMA_DIR ?? DEFAULT_REFERENCE_DIR;
  let out = DEFAULT_OUT_DIR;
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--out") out = resolve(argv[++i] ?? "");
    else if (arg === "--check") check = true;
    else if (arg.startsWith("-")) {
      console.error(`unknown option ${arg}\nusage: gen-apple-schema [REFERENCE_DIR] [--out DIR] [--check]`);
      return 2;
    } else reference = resolve(arg);
  }
  let model: SchemaModel;
  try {
    model = buildModel(reference);
  } catch (err) {
    console.error(`gen-apple-schema: ${(err as Error).message}`);
    return 1;
  }
  for (const warning of model.warnings) console.warn(`warning: ${warning}`);
  const files = renderFiles(model);
  if (check) {
    const differing = diffFiles(out, files);
    if (differing.length > 0) {
      console.error(`gen-apple-schema: out of date: ${differing.join(", ")} (run npm run gen:apple)`);
      return 1;
    }
    console.log("gen-apple-schema: generated files are up to date");
    return 0;
  }
  const changed = writeFiles(out, files);
  console.log(
    `gen-apple-schema: ${model.commands.length} commands, ${model.checkins.length} check-in messages, ` +
      `${model.profiles.length} profile payloads, ${model.declarative.length} declarative items; ` +
      `${changed.length === 0 ? "no changes" : `wrote ${changed.join(", ")}`}`,
  );
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
