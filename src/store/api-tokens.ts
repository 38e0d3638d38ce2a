// Queries for admin API tokens (api_tokens): rows hold the token's SHA-256, never the token.
import type { Selectable } from "kysely";
import type { Executor, Tx } from "./db.ts";
import type { ApiTokensTable } from "./schema.ts";

export type ApiTokenRow = Selectable<ApiTokensTable>;

/** The id of the live (unrevoked) token with this name, if any: names are unique among live tokens. */
export async function liveTokenIdByName(store: Executor, name: string): Promise<string | undefined> {
  return (await store.db.selectFrom("api_tokens").select("id").where("name", "=", name).where("revoked_at", "is", null).executeTakeFirst())?.id;
}

/** Inserts a token; throws the database's unique-violation error when a live token has the name (api_tokens_live_name). */
export async function insertApiToken(store: Executor, row: ApiTokenRow): Promise<void> {
  await store.db.insertInto("api_tokens").values(row).execute();
}

export async function listApiTokens(store: Executor): Promise<ApiTokenRow[]> {
  return store.db.selectFrom("api_tokens").selectAll().orderBy("created_at").execute();
}

export async function countApiTokens(store: Executor): Promise<number> {
  const r = await store.db.selectFrom("api_tokens").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** Live tokens whose id or name is `idOrName`. */
export async function liveTokensByIdOrName(store: Executor, idOrName: string): Promise<Array<{ id: string; name: string; role: ApiTokenRow["role"] }>> {
  return store.db
    .selectFrom("api_tokens")
    .select(["id", "name", "role"])
    .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
    .where("revoked_at", "is", null)
    .execute();
}

/** Revokes a token if it is still live; false when it was not (another revoke took it meanwhile). */
/**
 * Ids of the live admin tokens. In a transaction on PostgreSQL the rows are locked, so that two revokes of the
 * last two admin tokens cannot both see the other one live (SQLite's single writer serialises them).
 */
export async function liveAdminTokenIdsForUpdate(tx: Tx): Promise<string[]> {
  const live = tx.db.selectFrom("api_tokens").select("id").where("role", "=", "admin").where("revoked_at", "is", null);
  return (await (tx.dialect === "postgres" ? live.forUpdate() : live).execute()).map((r) => r.id);
}

export async function revokeApiToken(store: Executor, id: string, now: number): Promise<boolean> {
  const r = await store.db.updateTable("api_tokens").set({ revoked_at: now }).where("id", "=", id).where("revoked_at", "is", null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function apiTokenByHash(store: Executor, tokenHash: string): Promise<Pick<ApiTokenRow, "id" | "name" | "role" | "revoked_at"> | undefined> {
  return store.db.selectFrom("api_tokens").select(["id", "name", "role", "revoked_at"]).where("token_hash", "=", tokenHash).executeTakeFirst();
}

export async function touchApiToken(store: Executor, id: string, now: number): Promise<void> {
  await store.db.updateTable("api_tokens").set({ last_used_at: now }).where("id", "=", id).execute();
}
