import { sql, type Kysely } from "kysely";
import type { Dialect } from "../db.ts";
import { bytesType } from "../column-types.ts";

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable("enrollments")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("channel", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("cert_fingerprint", "text")
    .addColumn("enrollment_profile_id", "text")
    .addColumn("udid", "text")
    .addColumn("enrollment_user_id", "text")
    .addColumn("serial_number", "text")
    .addColumn("platform", "text")
    .addColumn("model", "text")
    .addColumn("model_name", "text")
    .addColumn("product_name", "text")
    .addColumn("os_version", "text")
    .addColumn("build_version", "text")
    .addColumn("device_name", "text")
    .addColumn("imei", "text")
    .addColumn("meid", "text")
    .addColumn("user_id", "text")
    .addColumn("user_short_name", "text")
    .addColumn("user_long_name", "text")
    .addColumn("supervised", "integer")
    .addColumn("topic", "text")
    .addColumn("push_token", "text")
    .addColumn("push_magic", "text")
    .addColumn("token_invalid_at", "bigint")
    .addColumn("unlock_token_sealed", bytesType(dialect))
    .addColumn("bootstrap_token_sealed", bytesType(dialect))
    .addColumn("awaiting_configuration", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("not_on_console", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("last_seen_at", "bigint")
    .addColumn("last_push_at", "bigint")
    .addColumn("last_push_result", "text")
    .addColumn("authenticated_at", "bigint")
    .addColumn("activated_at", "bigint")
    .addColumn("checked_out_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("enrollments_device_id").on("enrollments").column("device_id").execute();
  await db.schema.createIndex("enrollments_cert_fingerprint").on("enrollments").column("cert_fingerprint").execute();
  await db.schema.createIndex("enrollments_serial").on("enrollments").column("serial_number").execute();
  await db.schema.createIndex("enrollments_profile").on("enrollments").column("enrollment_profile_id").execute();

  await db.schema
    .createTable("commands")
    .addColumn("uuid", "text", (c) => c.primaryKey())
    .addColumn("request_type", "text", (c) => c.notNull())
    /** The complete command plist as sent to devices (XML). Built once, at queue time. */
    .addColumn("body", "text", (c) => c.notNull())
    .addColumn("priority", "integer", (c) => c.notNull())
    .addColumn("expires_at", "bigint")
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("target_count", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("commands_created_at").on("commands").column("created_at").execute();

  // The queue holds only work still to do: a row leaves it when the device answers (or the command
  // expires or is cancelled) and its outcome moves to command_results. So the table stays as small as the
  // outstanding work, whatever the history.
  await db.schema
    .createTable("command_queue")
    .addColumn("enrollment_id", "text", (c) => c.notNull())
    .addColumn("command_uuid", "text", (c) => c.notNull())
    /** pending: not yet sent; sent: handed to the device, no answer yet; notnow: the device said NotNow. */
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("priority", "integer", (c) => c.notNull())
    .addColumn("queued_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint")
    .addColumn("sent_at", "bigint")
    .addColumn("deliveries", "integer", (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint("command_queue_pk", ["enrollment_id", "command_uuid"])
    .execute();
  // The next-command lookup: one index range scan per connect.
  await sql`CREATE INDEX command_queue_next ON command_queue (enrollment_id, priority DESC, queued_at, command_uuid)`.execute(db);
  await db.schema.createIndex("command_queue_command").on("command_queue").column("command_uuid").execute();
  await db.schema.createIndex("command_queue_expires").on("command_queue").column("expires_at").where(sql.ref("expires_at"), "is not", null).execute();

  await db.schema
    .createTable("command_results")
    .addColumn("command_uuid", "text", (c) => c.notNull())
    .addColumn("enrollment_id", "text", (c) => c.notNull())
    /** acknowledged | error | commandformaterror | expired | cancelled */
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("raw", bytesType(dialect))
    .addColumn("error_chain", "text")
    .addColumn("completed_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("command_results_pk", ["command_uuid", "enrollment_id"])
    .execute();
  await db.schema.createIndex("command_results_enrollment").on("command_results").columns(["enrollment_id", "completed_at"]).execute();
  await db.schema.createIndex("command_results_completed").on("command_results").column("completed_at").execute();

  await db.schema
    .createTable("webhooks")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("url", "text", (c) => c.notNull())
    .addColumn("secret_sealed", bytesType(dialect), (c) => c.notNull())
    .addColumn("events", "text", (c) => c.notNull())
    .addColumn("format", "text", (c) => c.notNull())
    .addColumn("enabled", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("webhook_deliveries")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("webhook_id", "text", (c) => c.notNull())
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("response_status", "integer")
    .addColumn("last_error", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("completed_at", "bigint")
    .execute();
  await db.schema.createIndex("webhook_deliveries_webhook").on("webhook_deliveries").columns(["webhook_id", "created_at"]).execute();
}
