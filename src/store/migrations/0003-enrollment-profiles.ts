import { sql, type Kysely } from "kysely";
import type { Dialect } from "../db.ts";
import { bytesType } from "../column-types.ts";

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable("enrollment_profiles")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("user_affinity", "text", (c) => c.notNull())
    .addColumn("ownership", "text", (c) => c.notNull())
    .addColumn("access_rights", "integer", (c) => c.notNull())
    .addColumn("sign_message", "integer", (c) => c.notNull())
    .addColumn("check_out_when_removed", "integer", (c) => c.notNull())
    .addColumn("server_capabilities", "text", (c) => c.notNull())
    .addColumn("separate_checkin_url", "integer", (c) => c.notNull())
    .addColumn("use_development_apns", "integer", (c) => c.notNull())
    .addColumn("removal_disallowed", "integer", (c) => c.notNull())
    .addColumn("signed", "integer", (c) => c.notNull())
    .addColumn("validity_days", "integer", (c) => c.notNull())
    .addColumn("key_size", "integer", (c) => c.notNull())
    .addColumn("subject_template", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("uuid_seed", "text", (c) => c.notNull())
    .addColumn("link_token_hash", "text", (c) => c.notNull())
    .addColumn("link_token_sealed", bytesType(dialect), (c) => c.notNull())
    .addColumn("challenge_hash", "text", (c) => c.notNull())
    .addColumn("challenge_sealed", bytesType(dialect), (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("deleted_at", "bigint")
    .execute();
  // Names are unique among live profiles; a deleted profile's name may be reused.
  await sql`CREATE UNIQUE INDEX enrollment_profiles_name ON enrollment_profiles (name) WHERE deleted_at IS NULL`.execute(db);
  await db.schema.createIndex("enrollment_profiles_link").on("enrollment_profiles").column("link_token_hash").unique().execute();
  await db.schema.createIndex("enrollment_profiles_challenge").on("enrollment_profiles").column("challenge_hash").execute();

  await db.schema
    .createTable("scep_challenges")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("challenge_hash", "text", (c) => c.notNull().unique())
    .addColumn("enrollment_profile_id", "text")
    /** Set for a renewal challenge: the certificate it issues belongs to this device. */
    .addColumn("enrollment_id", "text")
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("scep_challenges_expires").on("scep_challenges").column("expires_at").execute();
}
