import type { Kysely } from "kysely";

// When a queued command was first answered NotNow: a locked device answers NotNow on every connect, and the
// command.notnow event must fire once per command, not once per connect.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("command_queue").addColumn("notnow_at", "bigint").execute();
}
