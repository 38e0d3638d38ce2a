import type { Kysely } from "kysely";
import type { Dialect } from "../db.ts";
import { bytesType } from "../column-types.ts";

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  // One row per push topic: several topics may coexist (a forced topic change keeps the old one working
  // for the devices enrolled with it); exactly one is active, the one new enrollment profiles carry.
  await db.schema
    .createTable("push_certificates")
    .addColumn("topic", "text", (c) => c.primaryKey())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("issuer", "text", (c) => c.notNull())
    .addColumn("serial", "text", (c) => c.notNull())
    .addColumn("fingerprint", "text", (c) => c.notNull())
    /** The certificate and any chain uploaded with it, PEM. */
    .addColumn("cert_pem", "text", (c) => c.notNull())
    .addColumn("key_sealed", bytesType(dialect), (c) => c.notNull())
    .addColumn("not_before", "bigint", (c) => c.notNull())
    .addColumn("not_after", "bigint", (c) => c.notNull())
    .addColumn("active", "integer", (c) => c.notNull())
    .addColumn("last_error", "text")
    .addColumn("last_error_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  // Keys made by `orchard push csr`, kept sealed until the certificate Apple issues for them is uploaded.
  await db.schema
    .createTable("push_certificate_requests")
    .addColumn("spki_sha256", "text", (c) => c.primaryKey())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("key_sealed", bytesType(dialect), (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  // Enrollments that were pushed and may need another push if they do not connect: the re-push sweep
  // reads the due rows through push_retries_due, never the whole enrollments table. A row leaves when
  // the device has connected or has nothing left to do.
  await db.schema
    .createTable("push_retries")
    .addColumn("enrollment_id", "text", (c) => c.primaryKey())
    .addColumn("retry_at", "bigint", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("pushed_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("push_retries_due").on("push_retries").columns(["retry_at", "enrollment_id"]).execute();
}
