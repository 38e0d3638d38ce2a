// `orchard token …` in-process: names are unique among live tokens, and a revoke says exactly what it revoked.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { orchard } from "../../test/cli.ts";

let dir: string;
let env: Record<string, string>;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "orchard-token-cli-"));
  env = { ORCHARD_DATA_DIR: dir, ORCHARD_MASTER_KEY: randomBytes(32).toString("base64"), ORCHARD_LOG_LEVEL: "silent" };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("refuses a second live token of one name, and revokes by name exactly the one token", async () => {
  const first = await orchard(["token", "create", "--name", "ci", "--json"], env);
  expect(first.code).toBe(0);
  const dup = await orchard(["token", "create", "--name", "ci", "--role", "readonly"], env);
  expect(dup.code).toBe(1);
  expect(dup.stderr).toBe('orchard: a live token named "ci" already exists: pick another name, or revoke that one first\n');
  const revoked = await orchard(["token", "revoke", "ci"], env);
  expect(revoked).toMatchObject({ code: 0, stdout: `revoked "ci" (${JSON.parse(first.stdout).id})\n` });
  const again = await orchard(["token", "revoke", "ci"], env);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('no live token with id or name "ci"');
});

it("refuses an ambiguous revoke and revokes nothing", async () => {
  const a = JSON.parse((await orchard(["token", "create", "--name", "a", "--json"], env)).stdout) as { id: string };
  expect((await orchard(["token", "create", "--name", a.id, "--json"], env)).code).toBe(0);
  const r = await orchard(["token", "revoke", a.id], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/matches 2 live tokens/);
  const listed = JSON.parse((await orchard(["token", "list", "--json"], env)).stdout) as Array<{ name: string; revokedAt: string | null }>;
  expect(listed.filter((t) => t.revokedAt === null).map((t) => t.name)).toEqual(["a", a.id]);
});
