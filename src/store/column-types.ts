// Column types that differ between the two databases, for migrations.
import { sql, type RawBuilder } from "kysely";
import type { Dialect } from "./db.ts";

export function bytesType(dialect: Dialect): RawBuilder<unknown> {
  return dialect === "postgres" ? sql`bytea` : sql`blob`;
}
