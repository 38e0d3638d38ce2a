// Statements prepared once per SQLite connection, for queries that run on a device's request (inventory
// ingestion): building and compiling the SQL through kysely costs more than running it. The SQL text is fixed
// by the caller (never built from input), so one statement serves every call with the same text.
import type BetterSqlite3 from "better-sqlite3";

const statements = new WeakMap<BetterSqlite3.Database, Map<string, BetterSqlite3.Statement>>();

export function prepared(db: BetterSqlite3.Database, sql: string): BetterSqlite3.Statement {
  let byText = statements.get(db);
  if (!byText) statements.set(db, (byText = new Map()));
  let st = byText.get(sql);
  if (!st) byText.set(sql, (st = db.prepare(sql)));
  return st;
}
