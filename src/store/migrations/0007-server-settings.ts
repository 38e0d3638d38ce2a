import type { Kysely } from "kysely";

// What `orchard serve` runs with and devices depend on (its public URL, its ports), recorded at start so
// that commands run from another shell (`orchard enrollment-profile export`) build device-facing material
// from the server's settings, not from whatever that shell's environment happens to say.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("server_settings")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
}
