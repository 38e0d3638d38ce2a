import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS_RIGHTS } from "../src/wire/schema/access-rights.ts";
import type { SchemaModel } from "./gen-apple-schema.ts";
import { APPLE_REFERENCE_DIR, requireAppleReference, skippedName } from "../test/apple-reference.ts";
import {
  DEFAULT_OUT_DIR,
  buildModel,
  diffFiles,
  isAnyKeyName,
  renderFiles,
  writeFiles,
} from "./gen-apple-schema.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// Skipped locally when ../shared/reference is absent; under CI that is a failure (test/apple-reference.ts).
const reference = requireAppleReference();
const tmp = mkdtempSync(join(tmpdir(), "orchard-gen-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!reference.present)(skippedName("generator on Apple's reference schema", reference), () => {
  let model: SchemaModel;
  let files: Map<string, string>;
  beforeAll(() => {
    model = buildModel(APPLE_REFERENCE_DIR);
    files = renderFiles(model);
  });

  it("reads every file without warnings", () => {
    expect(model.warnings).toEqual([]);
    expect(model.commands.length).toBeGreaterThanOrEqual(60);
    expect(model.checkins.map((c) => c.messageType)).toEqual(
      expect.arrayContaining(["Authenticate", "TokenUpdate", "CheckOut", "UserAuthenticate", "DeclarativeManagement"]),
    );
    expect(model.profiles.map((p) => p.type)).toEqual(
      expect.arrayContaining(["TopLevel", "CommonPayloadKeys", "com.apple.mdm", "com.apple.security.scep"]),
    );
    expect(model.declarative.some((d) => d.kind === "configuration" && d.type === "com.apple.configuration.passcode.settings")).toBe(true);
  });

  it("is deterministic: two runs give identical files", () => {
    const again = renderFiles(buildModel(APPLE_REFERENCE_DIR));
    expect([...again.keys()]).toEqual([...files.keys()]);
    for (const [name, content] of files) expect(again.get(name), name).toBe(content);
  });

  it("matches the committed src/wire/generated (regenerate with npm run gen:apple)", () => {
    expect(diffFiles(DEFAULT_OUT_DIR, files)).toEqual([]);
  });

  it("writes into a fresh folder, rewrites nothing on a second run, and removes stale files", () => {
    const out = join(tmp, "out");
    expect(writeFiles(out, files).sort()).toEqual([...files.keys()].sort());
    expect(writeFiles(out, files)).toEqual([]);
    writeFileSync(join(out, "stale.ts"), "export {};\n");
    expect(writeFiles(out, files)).toEqual(["stale.ts"]);
    expect(existsSync(join(out, "stale.ts"))).toBe(false);
    expect(diffFiles(out, files)).toEqual([]);
    writeFileSync(join(out, "command-info.ts"), "// edited by hand\n");
    expect(diffFiles(out, files)).toEqual(["command-info.ts"]);
  });

  it("puts Apple's MIT notice at the top of every generated file", () => {
    const license = readFileSync(join(APPLE_REFERENCE_DIR, "LICENSE.txt"), "utf8");
    const firstLine = license.trim().split("\n")[0]!;
    for (const [name, content] of files) {
      const head = content.slice(0, 2500);
      expect(head, name).toContain(firstLine);
      expect(head, name).toContain("Permission is hereby granted, free of charge");
      expect(head, name).toContain("THE SOFTWARE IS PROVIDED \"AS IS\"");
    }
  });

  it("stores recursive anchors once and refers to them by id", () => {
    const layout = model.profiles.find((p) => p.type === "com.apple.homescreenlayout")!;
    const dock = layout.keys.find((k) => k.key === "Dock")!;
    expect(dock.subkeys).toBeUndefined();
    const iconId = dock.ref!;
    expect(iconId).toBe("mdm/profiles/com.apple.homescreenlayout#IconItem");
    const icon = model.defs.get(iconId)!.keys[0]!;
    const pages = icon.subkeys!.find((k) => k.key === "Pages")!;
    const pagesDef = model.defs.get(pages.ref!)!;
    // Folder -> Pages -> page -> icons: the cycle closes on the same definition.
    expect(pagesDef.keys[0]!.ref).toBe(iconId);
    expect(files.get("profile-types.ts")).toContain(
      "export type ComAppleHomescreenlayoutPagesItem = ComAppleHomescreenlayoutIconItem[];",
    );
  });

  it("merges payload types declared by several files and keeps each file as a variant", () => {
    const mcx = model.profiles.find((p) => p.type === "com.apple.MCX")!;
    expect(mcx.sources).toHaveLength(6);
    expect(mcx.variants?.map((v) => v.source)).toEqual(mcx.sources);
    // A key only some files have is never required in the merge.
    expect(mcx.keys.every((k) => k.presence === "optional" || mcx.variants!.every((v) => v.keys.some((vk) => vk.key === k.key)))).toBe(true);

    const sso = model.profiles.find((p) => p.type === "com.apple.extensiblesso")!;
    expect(sso.sources).toEqual([
      "mdm/profiles/com.apple.extensiblesso(kerberos).yaml",
      "mdm/profiles/com.apple.extensiblesso.yaml",
    ]);
    const key = (name: string) => sso.keys.find((k) => k.key === name)!;
    expect(key("ExtensionIdentifier").presence).toBe("required"); // required in both
    expect(key("ExtensionIdentifier").rangelist).toBeUndefined(); // the general file allows any identifier
    expect(key("Realm").presence).toBe("optional"); // required only by the Kerberos file
    expect(key("Type").rangelist).toEqual(["Credential", "Redirect"]);
    const kerberos = sso.variants![0]!.keys.find((k) => k.key === "ExtensionIdentifier")!;
    expect(kerberos.rangelist).toEqual(["com.apple.AppSSOKerberos.KerberosExtension"]);
  });

  it("uses the AccessRights bits that the com.apple.mdm payload documents", () => {
    const yaml = parse(readFileSync(join(APPLE_REFERENCE_DIR, "mdm/profiles/com.apple.mdm.yaml"), "utf8")) as {
      payloadkeys: { key: string; content: string }[];
    };
    const content = yaml.payloadkeys.find((k) => k.key === "AccessRights")!.content;
    const documented = [...content.matchAll(/\* '(\d+)': (.+?)\.?$/gm)].map((m) => [Number(m[1]), m[2]]);
    expect(documented).toHaveLength(ACCESS_RIGHTS.length);
    for (const right of ACCESS_RIGHTS) {
      const line = documented.find(([bit]) => bit === right.bit);
      expect(line, right.name).toBeDefined();
      // Apple's sentence starts with our description (theirs may add a parenthesised example).
      expect(String(line![1]).startsWith(right.description), `${right.name}: ${String(line![1])}`).toBe(true);
    }
  });

  it("reports the generated files as up to date through the CLI", () => {
    const run = spawnSync(process.execPath, ["bin/run-ts.js", "scripts/gen-apple-schema.ts", APPLE_REFERENCE_DIR, "--check"], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain("up to date");
    expect(run.status).toBe(0);
  });
});

// A small reference folder written here, to exercise the rules without depending on Apple's current files.
function fixture(files: Record<string, string>, withLicense = true): string {
  const dir = mkdtempSync(join(tmp, "ref-"));
  if (withLicense) writeFileSync(join(dir, "LICENSE.txt"), "Copyright © Test\n\nPermission is hereby granted.\n");
  mkdirSync(join(dir, "mdm"), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const treeCommand = `title: Tree
payload:
  requesttype: Tree
  supportedOS:
    iOS:
      introduced: '16.0'
      accessrights: AllowSettings
      supervised: true
    macOS:
      introduced: n/a
payloadkeys:
- key: Root
  type: <dictionary>
  presence: required
  subkeytype: Node
  subkeys: &node
  - key: Name
    type: <string>
    presence: required
  - key: Children
    type: <array>
    presence: optional
    subkeys:
    - key: Child
      type: <dictionary>
      subkeytype: Node
      subkeys: *node
responsekeys:
- key: Count
  type: <integer>
  presence: optional
`;

describe("generator rules on a fixture", () => {
  it("turns a self-referencing anchor into a definition and a recursive TS type", () => {
    const model = buildModel(fixture({ "mdm/commands/tree.yaml": treeCommand }));
    const command = model.commands[0]!;
    expect(command.requestType).toBe("Tree");
    expect(command.request[0]!.ref).toBe("mdm/commands/tree#Node");
    expect(model.defs.get("mdm/commands/tree#Node")!.keys[1]!.subkeys![0]!.ref).toBe("mdm/commands/tree#Node");
    const types = renderFiles(model).get("command-types.ts")!;
    expect(types).toContain("export interface TreeCommand {\n  Root: TreeNode;\n}");
    expect(types).toContain("export type TreeNode = {\n  Name: string;\n  Children?: TreeNode[];\n};");
    expect(model.commandInfo[0]!.platforms.iOS).toMatchObject({ accessRightsBits: 2048, supervised: true, introduced: "16.0" });
    expect(model.commandInfo[0]!.platforms.macOS.available).toBe(false);
  });

  it("merges two files with the same RequestType by the documented rule", () => {
    const second = `title: Tree again
payload:
  requesttype: Tree
payloadkeys:
- key: Root
  type: <string>
  presence: required
- key: Extra
  type: <integer>
  presence: required
  rangelist: [1, 2]
`;
    const model = buildModel(fixture({ "mdm/commands/tree.yaml": treeCommand, "mdm/commands/tree2.yaml": second }));
    expect(model.commands).toHaveLength(1);
    const [root, extra] = model.commands[0]!.request;
    expect(root).toEqual({ key: "Root", type: "<any>", presence: "optional" }); // type conflict
    expect(extra).toMatchObject({ key: "Extra", presence: "optional", rangelist: [1, 2] }); // not in every file
    expect(model.commands[0]!.source).toBe("mdm/commands/tree.yaml, mdm/commands/tree2.yaml");
  });

  it("fails with the file name on an unknown type or access right, and without a licence", () => {
    const badType = treeCommand.replace("type: <integer>", "type: <number>");
    expect(() => buildModel(fixture({ "mdm/commands/tree.yaml": badType }))).toThrow(
      /mdm\/commands\/tree\.yaml: Count: unknown type "<number>"/,
    );
    const badRight = treeCommand.replace("AllowSettings", "AllowEverything");
    expect(() => buildModel(fixture({ "mdm/commands/tree.yaml": badRight }))).toThrow(
      /tree\.yaml: iOS: unknown MDM access right name 'AllowEverything'/,
    );
    expect(() => buildModel(fixture({ "mdm/commands/tree.yaml": treeCommand }, false))).toThrow(/LICENSE\.txt is missing/);
    expect(() => buildModel(fixture({ "mdm/commands/tree.yaml": "title: [unclosed" }))).toThrow(/tree\.yaml: YAML does not parse/);
    expect(() => buildModel(join(tmp, "nowhere"))).toThrow(/no mdm\/ folder/);
  });

  it("warns about, and drops, supportedOS fields it does not know", () => {
    const odd = treeCommand.replace("      supervised: true", "      supervised: true\n      sparkles: true");
    const model = buildModel(fixture({ "mdm/commands/tree.yaml": odd }));
    expect(model.warnings).toEqual(["mdm/commands/tree.yaml: payload.supportedOS.iOS.sparkles: unknown supportedOS field, dropped"]);
  });

  it("recognises placeholder key names", () => {
    expect(isAnyKeyName("ANY")).toBe(true);
    expect(isAnyKeyName("ANY restriction name")).toBe(true);
    expect(isAnyKeyName("ANYthing")).toBe(false);
    expect(isAnyKeyName("AllowsAnyAppleSignedOS")).toBe(false);
  });

  it("runs from the command line with a reference folder and --out", () => {
    const ref = fixture({ "mdm/commands/tree.yaml": treeCommand });
    const out = join(tmp, "cli-out");
    execFileSync(process.execPath, ["bin/run-ts.js", "scripts/gen-apple-schema.ts", ref, "--out", out], { cwd: repoRoot });
    expect(readdirSync(out).sort()).toContain("command-types.ts");
    writeFileSync(join(out, "command-types.ts"), "// hand edit\n");
    const stale = spawnSync(process.execPath, ["bin/run-ts.js", "scripts/gen-apple-schema.ts", ref, "--out", out, "--check"], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    expect(stale.status).toBe(1);
    expect(stale.stderr).toContain("out of date: command-types.ts");
  });
});
