// Queries for the certificates Orchard's CA has issued.
import type { Selectable } from "kysely";
import type { Store } from "./db.ts";
import type { IssuedCertificatesTable } from "./schema.ts";

export type IssuedCertificateRow = Selectable<IssuedCertificatesTable>;

export async function recordIssued(store: Store, row: IssuedCertificateRow): Promise<void> {
  await store.db.insertInto("issued_certificates").values(row).execute();
}

export async function issuedByFingerprint(store: Store, fingerprint: string): Promise<IssuedCertificateRow | undefined> {
  return store.db.selectFrom("issued_certificates").selectAll().where("fingerprint", "=", fingerprint).executeTakeFirst();
}

export async function revokeIssued(store: Store, serial: string, now: number): Promise<IssuedCertificateRow | undefined> {
  await store.db.updateTable("issued_certificates").set({ revoked_at: now }).where("serial", "=", serial).where("revoked_at", "is", null).execute();
  return store.db.selectFrom("issued_certificates").selectAll().where("serial", "=", serial).executeTakeFirst();
}

/** Unrevoked identity certificates whose validity ends before `before`, soonest first (index on kind, not_after). */
export async function identitiesExpiringBefore(store: Store, before: number, limit: number, afterSerial?: string): Promise<IssuedCertificateRow[]> {
  let q = store.db
    .selectFrom("issued_certificates")
    .selectAll()
    .where("kind", "=", "identity")
    .where("not_after", "<", before)
    .where("revoked_at", "is", null);
  if (afterSerial) q = q.where("serial", ">", afterSerial);
  return q.orderBy("not_after").orderBy("serial").limit(limit).execute();
}
