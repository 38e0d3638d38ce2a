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

/** Where a page of certificates ordered by (not_after, serial) ended: the sort key of its last row. */
export interface IssuedCursor {
  notAfter: number;
  serial: string;
}

/**
 * Issued certificates ordered by (not_after, serial), after `after`. With `expiringBefore`, only unrevoked identity
 * certificates whose validity ends before it (index on kind, not_after); without, every certificate.
 */
export async function listIssued(store: Store, filter: { expiringBefore?: number }, limit: number, after?: IssuedCursor): Promise<IssuedCertificateRow[]> {
  let q = store.db.selectFrom("issued_certificates").selectAll();
  if (filter.expiringBefore !== undefined) q = q.where("kind", "=", "identity").where("not_after", "<", filter.expiringBefore).where("revoked_at", "is", null);
  // The cursor is the whole sort key: not_after alone repeats on ties, serial alone is not the order.
  if (after) q = q.where((eb) => eb.or([eb("not_after", ">", after.notAfter), eb.and([eb("not_after", "=", after.notAfter), eb("serial", ">", after.serial)])]));
  return q.orderBy("not_after").orderBy("serial").limit(limit).execute();
}

/** Unrevoked identity certificates whose validity ends before `before`, soonest first. */
export async function identitiesExpiringBefore(store: Store, before: number, limit: number, after?: IssuedCursor): Promise<IssuedCertificateRow[]> {
  return listIssued(store, { expiringBefore: before }, limit, after);
}
