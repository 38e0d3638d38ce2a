import type { Kysely } from "kysely";
import type { Dialect } from "../db.ts";
import { bytesType } from "../column-types.ts";

// Commands that carry secrets (an UnlockToken, a SCEP challenge inside a profile, a PIN, passwords) are stored
// sealed: body_sealed holds the plist under the secrets envelope and body is left empty. Nullable, so the idle
// and delivery statements stay one indexed read and only sealed commands cost an open at delivery.
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.alterTable("commands").addColumn("body_sealed", bytesType(dialect)).execute();
}
