// The device as a first-class object (issue 17): one row per physical device, keyed by its device channel's
// enrollment id (UDID, or EnrollmentID for a User Enrollment), with its normalised inventory (apps, profiles,
// certificates), the latest raw answer per query type, and a history of every change the inventory showed.
import { sql, type Kysely } from "kysely";
import type { Dialect } from "../db.ts";

const realType = (dialect: Dialect) => (dialect === "postgres" ? sql`double precision` : sql`real`);

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable("devices")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("serial_number", "text")
    .addColumn("udid", "text")
    .addColumn("platform", "text")
    .addColumn("model", "text")
    .addColumn("model_name", "text")
    .addColumn("product_name", "text")
    .addColumn("os_version", "text")
    .addColumn("build_version", "text")
    .addColumn("device_name", "text")
    .addColumn("enrollment_kind", "text", (c) => c.notNull())
    .addColumn("enrollment_profile_id", "text")
    .addColumn("ownership", "text")
    .addColumn("supervised", "integer")
    .addColumn("activation_lock_enabled", "integer")
    .addColumn("dep_capable", "integer")
    .addColumn("battery_level", realType(dialect))
    .addColumn("capacity_gb", realType(dialect))
    .addColumn("available_gb", realType(dialect))
    .addColumn("wifi_mac", "text")
    .addColumn("bluetooth_mac", "text")
    .addColumn("imei", "text")
    .addColumn("meid", "text")
    .addColumn("passcode_present", "integer")
    .addColumn("passcode_compliant", "integer")
    .addColumn("filevault_enabled", "integer")
    .addColumn("sip_enabled", "integer")
    .addColumn("firewall_enabled", "integer")
    .addColumn("bootstrap_escrowed", "integer")
    .addColumn("last_seen_at", "bigint")
    .addColumn("last_inventory_at", "bigint")
    .addColumn("enrolled_at", "bigint")
    .addColumn("unenrolled_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  // The list route's filters; each is an equality on one column, the page is ordered by id.
  await db.schema.createIndex("devices_serial").on("devices").column("serial_number").execute();
  await db.schema.createIndex("devices_udid").on("devices").column("udid").execute();
  await db.schema.createIndex("devices_platform").on("devices").columns(["platform", "id"]).execute();
  await db.schema.createIndex("devices_name").on("devices").column("device_name").execute();
  await db.schema.createIndex("devices_profile").on("devices").columns(["enrollment_profile_id", "id"]).execute();

  await db.schema
    .createTable("device_apps")
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("bundle_id", "text", (c) => c.notNull())
    .addColumn("name", "text")
    .addColumn("version", "text")
    .addColumn("short_version", "text")
    .addColumn("managed", "integer")
    .addColumn("size", "bigint")
    .addColumn("installing", "integer")
    .addPrimaryKeyConstraint("device_apps_pk", ["device_id", "bundle_id"])
    .execute();

  await db.schema
    .createTable("device_profiles")
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("identifier", "text", (c) => c.notNull())
    .addColumn("uuid", "text")
    .addColumn("display_name", "text")
    .addColumn("organization", "text")
    .addColumn("removal_disallowed", "integer")
    .addColumn("installed_by_orchard", "integer")
    .addPrimaryKeyConstraint("device_profiles_pk", ["device_id", "identifier"])
    .execute();

  await db.schema
    .createTable("device_certificates")
    .addColumn("device_id", "text", (c) => c.notNull())
    /** SHA-256 of the certificate DER, hex. */
    .addColumn("fingerprint", "text", (c) => c.notNull())
    .addColumn("common_name", "text")
    .addColumn("issuer", "text")
    .addColumn("not_after", "bigint")
    .addColumn("is_identity", "integer")
    .addPrimaryKeyConstraint("device_certificates_pk", ["device_id", "fingerprint"])
    .execute();

  await db.schema
    .createTable("device_inventory_raw")
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("query_type", "text", (c) => c.notNull())
    /** The device's answer as JSON (plistToJson), kept whole even when parts of it were not understood. */
    .addColumn("raw", "text", (c) => c.notNull())
    /** JSON array of what could not be read (wrong types, missing keys); empty array when all was fine. */
    .addColumn("warnings", "text", (c) => c.notNull())
    .addColumn("received_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("device_inventory_raw_pk", ["device_id", "query_type"])
    .execute();

  await db.schema
    .createTable("device_history")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("field", "text", (c) => c.notNull())
    .addColumn("from_value", "text")
    .addColumn("to_value", "text")
    .execute();
  // The history route: one device's rows, newest first, paged by (at, id).
  await sql`CREATE INDEX device_history_device ON device_history (device_id, at DESC, id DESC)`.execute(db);
}
