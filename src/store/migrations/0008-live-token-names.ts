import { sql, type Kysely } from "kysely";

interface TokenRow {
  id: string;
  name: string;
}

// A token's name is how the CLI revokes it (`orchard token revoke NAME`), so names are unique among live tokens:
// two live tokens of one name were both revoked by one command that said it revoked one. Databases made before
// keep their duplicates' tokens working: the oldest keeps the name, later ones are renamed "NAME (2)", "NAME (3)"…
// (revoking them silently would lock out whatever uses them).
export async function up(db: Kysely<unknown>): Promise<void> {
  const tokens = db as unknown as Kysely<{ api_tokens: TokenRow & { revoked_at: number | null; created_at: number } }>;
  const live = await tokens.selectFrom("api_tokens").select(["id", "name"]).where("revoked_at", "is", null).orderBy("created_at").orderBy("id").execute();
  const taken = new Set(live.map((t) => t.name));
  const seen = new Set<string>();
  for (const t of live) {
    if (!seen.has(t.name)) {
      seen.add(t.name);
      continue;
    }
    let n = 2;
    while (taken.has(`${t.name} (${n})`)) n++;
    const name = `${t.name} (${n})`;
    taken.add(name);
    await tokens.updateTable("api_tokens").set({ name }).where("id", "=", t.id).execute();
  }
  await sql`CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL`.execute(db);
}
