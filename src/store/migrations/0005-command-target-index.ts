import type { Kysely } from "kysely";

// A command's targets are listed page by page (GET /api/v1/commands/{uuid}): index the queue by
// (command, enrollment) so a page is a range read, as the results table's primary key already allows.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex("command_queue_command_target").on("command_queue").columns(["command_uuid", "enrollment_id"]).execute();
  await db.schema.dropIndex("command_queue_command").execute();
}
