// Queries for the certificates Orchard's CA has issued.
import type { Kysely, Selectable } from "kysely";
import type { Executor } from "./db.ts";
import type { Database, IssuedCertificatesTable } from "./schema.ts";

export type IssuedCertificateRow = Selectable<IssuedCertificatesTable>;

export async function recordIssued(store: Executor, row: IssuedCertificateRow): Promise<void> {
  await store.db.insertInto("issued_certificates").values(row).execute();
}

/** Records a certificate unless one with its serial is on file already (a restart re-records its own). */
export async function recordIssuedIfAbsent(store: Executor, row: IssuedCertificateRow): Promise<void> {
  await store.db.insertInto("issued_certificates").values(row).onConflict((oc) => oc.doNothing()).execute();
}

export async function issuedByFingerprint(store: Executor, fingerprint: string): Promise<IssuedCertificateRow | undefined> {
  return issuedByFingerprintQuery(store.db, fingerprint).executeTakeFirst();
}

/** Exported so the query-plan test explains the statement that runs. */
export function issuedByFingerprintQuery(db: Kysely<Database>, fingerprint: string) {
  return db.selectFrom("issued_certificates").selectAll().where("fingerprint", "=", fingerprint);
}

/** Revokes a certificate unless it already was; the row (if any), and whether this call revoked it. */
export async function revokeIssued(store: Executor, serial: string, now: number): Promise<{ row: IssuedCertificateRow | undefined; revokedNow: boolean }> {
  const r = await store.db.updateTable("issued_certificates").set({ revoked_at: now }).where("serial", "=", serial).where("revoked_at", "is", null).executeTakeFirst();
  const row = await store.db.selectFrom("issued_certificates").selectAll().where("serial", "=", serial).executeTakeFirst();
  return { row, revokedNow: Number(r.numUpdatedRows) > 0 };
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
export async function listIssued(store: Executor, filter: { expiringBefore?: number }, limit: number, after?: IssuedCursor): Promise<IssuedCertificateRow[]> {
  return listIssuedQuery(store.db, filter, limit, after).execute();
}

/** Exported so the query-plan test explains the statement that runs. */
export function listIssuedQuery(db: Kysely<Database>, filter: { expiringBefore?: number }, limit: number, after?: IssuedCursor) {
  let q = db.selectFrom("issued_certificates").selectAll();
  if (filter.expiringBefore !== undefined) q = q.where("kind", "=", "identity").where("not_after", "<", filter.expiringBefore).where("revoked_at", "is", null);
  // The cursor is the whole sort key: not_after alone repeats on ties, serial alone is not the order.
  if (after) q = q.where((eb) => eb.or([eb("not_after", ">", after.notAfter), eb.and([eb("not_after", "=", after.notAfter), eb("serial", ">", after.serial)])]));
  return q.orderBy("not_after").orderBy("serial").limit(limit);
}

/** Unrevoked identity certificates whose validity ends before `before`, soonest first. */
export async function identitiesExpiringBefore(store: Executor, before: number, limit: number, after?: IssuedCursor): Promise<IssuedCertificateRow[]> {
  return listIssued(store, { expiringBefore: before }, limit, after);
}

/** Exported so the query-plan test explains the statement that runs. */
export function identitiesExpiringBeforeQuery(db: Kysely<Database>, before: number, limit: number, after?: IssuedCursor) {
  return listIssuedQuery(db, { expiringBefore: before }, limit, after);
}

/** The issued-certificate record learns whose identity it is (a no-op for certificates of other CAs). */
export async function assignIssuedToEnrollment(store: Executor, fingerprint: string, enrollmentId: string): Promise<void> {
  await store.db.updateTable("issued_certificates").set({ enrollment_id: enrollmentId }).where("fingerprint", "=", fingerprint).execute();
}

/** Which enrollment a certificate was issued for, and when. */
export async function issuedFor(store: Executor, fingerprint: string): Promise<{ enrollmentId: string | null; issuedAt: number } | undefined> {
  const r = await store.db.selectFrom("issued_certificates").select(["enrollment_id", "created_at"]).where("fingerprint", "=", fingerprint).executeTakeFirst();
  return r ? { enrollmentId: r.enrollment_id, issuedAt: r.created_at } : undefined;
}

/** The enrollment profile whose challenge a certificate was issued against, when Orchard issued it. */
export async function enrollmentProfileOfCertificate(store: Executor, fingerprint: string): Promise<string | null | undefined> {
  return (await store.db.selectFrom("issued_certificates").select("enrollment_profile_id").where("fingerprint", "=", fingerprint).executeTakeFirst())?.enrollment_profile_id;
}

/** Fingerprints of certificates revoked at or after `since` (epoch ms), with when. */
export async function revokedSince(store: Executor, since: number): Promise<Array<{ fingerprint: string; revoked_at: number }>> {
  const rows = await store.db.selectFrom("issued_certificates").select(["fingerprint", "revoked_at"]).where("revoked_at", ">=", since).execute();
  return rows.map((r) => ({ fingerprint: r.fingerprint, revoked_at: r.revoked_at as number }));
}

