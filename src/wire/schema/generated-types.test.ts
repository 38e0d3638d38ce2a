// The generated tables (command-specs.ts, checkin-specs.ts) and TypeScript types (command-types.ts,
// checkin-types.ts) are held against the YAML they come from, read here directly with `yaml` rather than
// through the generator, so a generator bug or a hand edit of src/wire/generated shows up as a difference
// from Apple's schema. The types are read with the TypeScript compiler's own checker: what is compared is
// the type tsc sees, not the generated text. The last block is checked by `npm run typecheck` only: it pins
// how the generated types compose (discriminated unions), which no runtime assertion can see.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { parse } from "yaml";
import { beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { APPLE_REFERENCE_DIR, requireAppleReference, skippedName } from "../../../test/apple-reference.ts";
import type { CheckinMessage, CheckinMessageMap, TokenUpdateMessage } from "../generated/checkin-types.ts";
import type { CommandPayload, CommandRequestMap, CommandRequestType, EraseDeviceCommand } from "../generated/command-types.ts";
import type { ProfilePayloadMap } from "../generated/profile-types.ts";
import { checkinMessageTypes, checkinSchema, commandRequestTypes, commandSchema, resolveSubkeys } from "./spec-lookup.ts";
import type { KeySpec } from "./spec-types.ts";

/** A payload key as Apple's YAML spells it (only the fields compared here). */
interface YamlKey {
  key: string;
  type: string;
  presence?: string;
  rangelist?: unknown[];
  subkeys?: YamlKey[];
}
interface YamlFile {
  payload: { requesttype: string };
  payloadkeys?: YamlKey[];
  responsekeys?: YamlKey[];
}
interface SchemaItem {
  name: string;
  source: string;
  keys: YamlKey[];
  responseKeys: YamlKey[];
}

function readFolder(folder: string): Map<string, SchemaItem> {
  const items = new Map<string, SchemaItem>();
  for (const file of readdirSync(join(APPLE_REFERENCE_DIR, folder)).filter((f) => f.endsWith(".yaml")).sort()) {
    const y = parse(readFileSync(join(APPLE_REFERENCE_DIR, folder, file), "utf8")) as YamlFile;
    const name = y.payload.requesttype;
    // One file per RequestType today; a second one would need the generator's merge rule here too.
    if (items.has(name)) throw new Error(`${folder}/${file}: a second file for ${name}; teach this test the merge rule`);
    items.set(name, { name, source: `${folder}/${file}`, keys: y.payloadkeys ?? [], responseKeys: y.responsekeys ?? [] });
  }
  return items;
}

/** "ANY", "ANY restriction name": a placeholder for any key, typed as an index signature. */
const isPlaceholder = (name: string): boolean => /^ANY( |$)/.test(name);

/** What the schema says of a key, in a form the generated spec and the generated type can both be held to. */
function expectedKey(k: YamlKey): { key: string; type: string; presence: string; rangelist?: unknown[] } {
  return { key: k.key, type: k.type, presence: k.presence ?? "optional", ...(k.rangelist ? { rangelist: k.rangelist } : {}) };
}
function specKey(k: KeySpec): { key: string; type: string; presence: string; rangelist?: unknown[] } {
  return { key: k.key, type: k.type, presence: k.presence ?? "optional", ...(k.rangelist ? { rangelist: [...k.rangelist] } : {}) };
}

/**
 * Compares a generated key list with the YAML's, nested keys included (a shared anchor is a `ref` in the
 * generated table, resolved here). Recursive anchors repeat forever in the parsed YAML, so stop at a depth
 * well past any structure Apple nests by hand.
 */
function expectSameKeys(generated: readonly KeySpec[], yaml: readonly YamlKey[], path: string, depth = 0): void {
  expect(generated.map(specKey), path).toEqual(yaml.map(expectedKey));
  if (depth >= 8) return;
  yaml.forEach((y, i) => {
    const nested = resolveSubkeys(generated[i]!) ?? [];
    expectSameKeys(nested, y.subkeys ?? [], `${path}.${y.key}`, depth + 1);
  });
}

const reference = requireAppleReference();

describe.skipIf(!reference.present)(skippedName("generated specs against Apple's YAML", reference), () => {
  let commands: Map<string, SchemaItem>;
  let checkins: Map<string, SchemaItem>;
  beforeAll(() => {
    commands = readFolder("mdm/commands");
    checkins = readFolder("mdm/checkin");
  });

  it("have exactly the schema's RequestTypes, each from its file, with its keys (nested too), types, presence and ranges", () => {
    expect([...commandRequestTypes()].sort()).toEqual([...commands.keys()].sort());
    for (const item of commands.values()) {
      const schema = commandSchema(item.name)!;
      expect(schema.source, item.name).toBe(item.source);
      expectSameKeys(schema.request, item.keys, item.name);
      expectSameKeys(schema.response ?? [], item.responseKeys, `${item.name} response`);
    }
  });

  it("have exactly the schema's check-in MessageTypes, with their keys (nested too)", () => {
    expect([...checkinMessageTypes()].sort()).toEqual([...checkins.keys()].sort());
    for (const item of checkins.values()) {
      const schema = checkinSchema(item.name)!;
      expect(schema.source, item.name).toBe(item.source);
      expectSameKeys(schema.request, item.keys, item.name);
      expectSameKeys(schema.response ?? [], item.responseKeys, `${item.name} response`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// The types, as tsc's checker sees them.

const generatedDir = fileURLToPath(new URL("../generated/", import.meta.url));

interface TypeView {
  checker: ts.TypeChecker;
  /** The properties of an exported interface of a generated file. */
  members(file: string, name: string): Map<string, ts.Symbol>;
}

function loadGeneratedTypes(): TypeView {
  const files = ["command-types.ts", "checkin-types.ts"].map((f) => join(generatedDir, f));
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    lib: ["lib.es2023.d.ts"],
    types: [],
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  return {
    checker,
    members(file, name) {
      const source = program.getSourceFile(join(generatedDir, file));
      if (!source) throw new Error(`${file} not loaded`);
      const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(source)!).find((s) => s.name === name);
      if (!exported) throw new Error(`${file} exports no ${name}`);
      const type = checker.getDeclaredTypeOfSymbol(exported);
      return new Map(checker.getPropertiesOfType(type).map((p) => [p.name, p]));
    },
  };
}

/** The literal values of a type (a union of literals, possibly opened with `string & {}`). */
function literals(type: ts.Type): unknown[] {
  return (type.isUnion() ? type.types : [type]).filter((t) => t.isLiteral()).map((t) => (t as ts.LiteralType).value);
}

/**
 * Holds one generated property to the schema key it came from: present, optional exactly when the schema
 * does not require it, and of the TypeScript type that the schema type stands for.
 */
function checkProperty(view: TypeView, where: string, prop: ts.Symbol | undefined, key: YamlKey): void {
  expect(prop, `${where}: no property ${key.key}`).toBeDefined();
  const optional = (prop!.flags & ts.SymbolFlags.Optional) !== 0;
  expect(optional, `${where}.${key.key} optional`).toBe(key.presence !== "required");
  const type = view.checker.getNonNullableType(view.checker.getTypeOfSymbol(prop!));
  const shown = view.checker.typeToString(type);
  const label = `${where}.${key.key}: ${key.type} typed as ${shown}`;
  const sameKind = key.rangelist?.every((v) => typeof v === typeof key.rangelist![0]);
  switch (key.type) {
    case "<string>":
    case "<integer>":
    case "<real>":
      if (key.rangelist && sameKind) expect(literals(type).sort(), label).toEqual([...key.rangelist].sort());
      else if (key.type === "<string>" && !key.subkeys?.length) expect(shown, label).toBe("string");
      else if (key.type !== "<string>") expect(shown, label).toBe("number");
      break;
    case "<boolean>":
      expect(shown, label).toBe("boolean");
      break;
    case "<data>":
      expect(shown, label).toMatch(/^Uint8Array(<ArrayBufferLike>)?$/);
      break;
    case "<date>":
      expect(shown, label).toBe("Date");
      break;
    case "<array>":
      expect(view.checker.isArrayType(type), label).toBe(true);
      break;
    case "<dictionary>":
      expect((type.flags & ts.TypeFlags.Object) !== 0 && !view.checker.isArrayType(type), label).toBe(true);
      break;
    default:
      expect(shown, label).toBe("unknown");
  }
}

function checkMembers(view: TypeView, where: string, members: Map<string, ts.Symbol>, keys: YamlKey[]): void {
  const named = keys.filter((k) => !isPlaceholder(k.key));
  expect([...members.keys()].sort(), `${where}: property names`).toEqual(named.map((k) => k.key).sort());
  for (const key of named) checkProperty(view, where, members.get(key.key), key);
}

describe.skipIf(!reference.present)(skippedName("generated TypeScript types against Apple's YAML", reference), () => {
  let view: TypeView;
  let commands: Map<string, SchemaItem>;
  let checkins: Map<string, SchemaItem>;
  beforeAll(() => {
    view = loadGeneratedTypes();
    commands = readFolder("mdm/commands");
    checkins = readFolder("mdm/checkin");
  });

  it("CommandRequestMap names every RequestType, and each command's type has the schema's keys", () => {
    const map = view.members("command-types.ts", "CommandRequestMap");
    expect([...map.keys()].sort()).toEqual([...commands.keys()].sort());
    for (const item of commands.values()) {
      const type = view.checker.getTypeOfSymbol(map.get(item.name)!);
      const members = new Map(view.checker.getPropertiesOfType(type).map((p) => [p.name, p]));
      checkMembers(view, item.name, members, item.keys);
    }
  });

  it("CheckinMessageMap names every MessageType, and each message's type has the schema's keys", () => {
    const map = view.members("checkin-types.ts", "CheckinMessageMap");
    expect([...map.keys()].sort()).toEqual([...checkins.keys()].sort());
    for (const item of checkins.values()) {
      const type = view.checker.getTypeOfSymbol(map.get(item.name)!);
      const members = new Map(view.checker.getPropertiesOfType(type).map((p) => [p.name, p]));
      checkMembers(view, item.name, members, item.keys);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Composition, checked by tsc (npm run typecheck); expectTypeOf does nothing at run time.

describe("generated types compose (checked by npm run typecheck)", () => {
  it("a Command dictionary's RequestType decides its keys", () => {
    expectTypeOf<CommandPayload<"DeviceLock">["RequestType"]>().toEqualTypeOf<"DeviceLock">();
    expectTypeOf<CommandPayload<"DeviceLock">>().toEqualTypeOf<{ RequestType: "DeviceLock" } & CommandRequestMap["DeviceLock"]>();
    expectTypeOf<CommandPayload["RequestType"]>().toEqualTypeOf<CommandRequestType>();
    // @ts-expect-error the RequestType must match the keys' command
    const mismatched: CommandPayload<"DeviceLock"> = { RequestType: "EraseDevice" };
    // @ts-expect-error not one of Apple's ObliterationBehavior values (a closed enum would accept any string)
    const badErase: EraseDeviceCommand = { ObliterationBehavior: "Sometimes" };
    void [mismatched, badErase];
  });

  it("check-in messages narrow on MessageType", () => {
    expectTypeOf<Extract<CheckinMessage, { MessageType: "TokenUpdate" }>>().toEqualTypeOf<TokenUpdateMessage>();
    expectTypeOf<CheckinMessage["MessageType"]>().toEqualTypeOf<keyof CheckinMessageMap>();
  });

  it("recursive profile structures stay typed at any depth (home screen folders)", () => {
    // @ts-expect-error Type must be App, Folder or WebClip, at any depth
    const bad: ProfilePayloadMap["com.apple.homescreenlayout"] = { Pages: [[{ Type: "Folder", Pages: [[{ Type: "Widget" }]] }]] };
    void bad;
  });
});
