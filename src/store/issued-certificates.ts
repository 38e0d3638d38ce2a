// Queries for the certificates Orchard's CA has issued.
import type { Kysely, Selectable } from "kysely";
import type { Store } from "./db.ts";
import type { Database, IssuedCertificatesTable } from "./schema.ts";

export type IssuedCertificateRow = Selectable<IssuedCertificatesTable>;

export async function recordIssued(store: Store, row: IssuedCertificateRow): Promise<void> {
  await store.db.insertInto("issued_certificates").values(row).execute();
}

export async function issuedByFingerprint(store: Store, fingerprint: string): Promise<IssuedCertificateRow | undefined> {
  return issuedByFingerprintQuery(store.db, fingerprint).executeTakeFirst();
}

/** Exported so the query-plan test explains the statement that runs. */
export function issuedByFingerprintQuery(db: Kysely<Database>, fingerprint: string) {
  return db.selectFrom("issued_certificates").selectAll().where("fingerprint", "=", fingerprint);
}

export async function revokeIssued(store: Store, serial: string, now: number): Promise<IssuedCertificateRow | undefined> {
  await store.db.updateTable("issued_certificates").set({ revoked_at: now }).where("serial", "=", serial).where("revoked_at", "is", null).execute();
  return store.db.selectFrom("issued_certificates").selectAll().where("serial", "=", serial).executeTakeFirst();
}

/** Unrevoked identity certificates whose validity ends before `before`, soonest first (index on kind, not_after). */
export async function identitiesExpiringBefore(store: Store, before: number, limit: number, afterSerial?: string): Promise<IssuedCertificateRow[]> {
  return identitiesExpiringBeforeQuery(store.db, before, limit, afterSerial).execute();
}

/** Exported so the query-plan test explains the statement that runs. */
export function identitiesExpiringBeforeQuery(db: Kysely<Database>, before: number, limit: number, afterSerial?: string) {
  let q = db
    .selectFrom("issued_certificates")
    .selectAll()
    .where("kind", "=", "identity")
    .where("not_after", "<", before)
    .where("revoked_at", "is", null);
  if (afterSerial) q = q.where("serial", ">", afterSerial);
  return q.orderBy("not_after").orderBy("serial").limit(limit);
}
