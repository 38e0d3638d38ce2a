import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import { afterEach, beforeEach, expect, it } from "vitest";
import { describeEachDatabase } from "../../test/databases.ts";
import type { Store } from "../store/db.ts";
import * as liveTokenNames from "../store/migrations/0008-live-token-names.ts";
import { AuditLog } from "../events/audit-log.ts";
import { ApiTokenError, ApiTokenService } from "./api-tokens.ts";

describeEachDatabase("API token names", (database) => {
  let store: Store & { cleanup(): Promise<void> };
  let tokens: ApiTokenService;
  beforeEach(async () => {
    store = await database.openStore();
    tokens = new ApiTokenService(store, new AuditLog(store));
  });
  afterEach(async () => store.cleanup());

  it("are unique among live tokens: a duplicate is refused, also when two creates race; a revoked token's name may be reused", async () => {
    await tokens.create("ci", "readonly", "system:test");
    await expect(tokens.create("ci", "admin", "system:test")).rejects.toThrow(new ApiTokenError("name_taken", 'a live token named "ci" already exists: pick another name, or revoke that one first'));
    const race = await Promise.allSettled([tokens.create("race", "admin", "system:test"), tokens.create("race", "admin", "system:test"), tokens.create("race", "admin", "system:test")]);
    expect(race.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of race) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(ApiTokenError);
    expect(await tokens.revoke("ci", "system:test")).toMatchObject({ name: "ci" });
    await tokens.create("ci", "operator", "system:test");
    expect((await tokens.list()).filter((t) => t.name === "ci").map((t) => t.revokedAt === null)).toEqual([false, true]);
  });

  it("revoke takes one token by id or name and refuses words that match two live tokens", async () => {
    const a = await tokens.create("a", "admin", "system:test");
    // A name that is another token's id: the one name-or-id cannot say which is meant.
    await tokens.create(a.info.id, "readonly", "system:test");
    await expect(tokens.revoke(a.info.id, "system:test")).rejects.toThrow(/matches 2 live tokens.*revoke one by its id/);
    expect((await tokens.list()).every((t) => t.revokedAt === null)).toBe(true);
    expect(await tokens.revoke("a", "system:test")).toEqual({ id: a.info.id, name: "a" });
    expect(await tokens.revoke("a", "system:test")).toBeUndefined();
    expect(await tokens.revoke("nothing", "system:test")).toBeUndefined();
  });

  it("migration 0008 renames live duplicates made before names were unique, oldest keeps the name", async () => {
    await sql`DROP INDEX api_tokens_live_name`.execute(store.db);
    const row = (name: string, at: number, revoked: number | null = null) => ({ id: randomUUID(), name, role: "admin" as const, token_hash: randomUUID(), prefix: "orch_x", created_at: at, last_used_at: null, revoked_at: revoked });
    await store.db.insertInto("api_tokens").values([row("ci", 1), row("ci", 2), row("ci", 3), row("ci (2)", 4), row("ci", 5, 6)]).execute();
    await liveTokenNames.up(store.db as unknown as Kysely<unknown>);
    const names = (await store.db.selectFrom("api_tokens").select(["name", "created_at"]).orderBy("created_at").execute()).map((r) => r.name);
    expect(names).toEqual(["ci", "ci (3)", "ci (4)", "ci (2)", "ci"]);
    await expect(tokens.create("ci", "admin", "system:test")).rejects.toThrow(ApiTokenError);
  });
});
