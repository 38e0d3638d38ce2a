// When each enrolled device's next scheduled inventory collection is due (issue 17, item 2). A row of its own
// rather than a column on devices: the schedule job walks it by due_at, and every collection moves the device's
// row forward, so a device that never answers (offline, its commands expiring) cannot hold the head of the walk.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("device_inventory_schedule")
    .addColumn("device_id", "text", (c) => c.primaryKey())
    .addColumn("due_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("device_inventory_schedule_due").on("device_inventory_schedule").columns(["due_at", "device_id"]).execute();
  // Devices enrolled before collection existed are due now, the least recently inventoried first.
  await sql`INSERT INTO device_inventory_schedule (device_id, due_at) SELECT id, COALESCE(last_inventory_at, 0) FROM devices WHERE status = 'enrolled'`.execute(db);
}
