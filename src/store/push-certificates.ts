// Queries for push certificates (one row per APNs topic) and the sealed keys of pending push CSRs.
import type { Selectable } from "kysely";
import type { Executor, Tx } from "./db.ts";
import type { PushCertificatesTable } from "./schema.ts";

export type PushCertificateRow = Selectable<PushCertificatesTable>;

export async function listPushCertificates(store: Executor): Promise<PushCertificateRow[]> {
  return store.db.selectFrom("push_certificates").selectAll().orderBy("active", "desc").orderBy("topic").execute();
}

export async function getPushCertificate(store: Executor, topic: string): Promise<PushCertificateRow | undefined> {
  return store.db.selectFrom("push_certificates").selectAll().where("topic", "=", topic).executeTakeFirst();
}

export async function activePushCertificate(store: Executor): Promise<PushCertificateRow | undefined> {
  return store.db.selectFrom("push_certificates").selectAll().where("active", "=", 1).executeTakeFirst();
}

/** What identifies the certificate in force per topic: a change of fingerprint means a new upload. */
export async function pushCertificateFingerprints(store: Executor): Promise<Array<{ topic: string; fingerprint: string; not_after: number }>> {
  return store.db.selectFrom("push_certificates").select(["topic", "fingerprint", "not_after"]).execute();
}

/**
 * Stores a certificate for its topic (a renewal replaces the row). When `activate` is set it becomes the
 * one active topic; a certificate for a new topic is also activated when no topic is active yet.
 */
export async function savePushCertificate(tx: Tx, row: Omit<PushCertificateRow, "active" | "last_error" | "last_error_at" | "created_at" | "updated_at">, activate: boolean, now: number): Promise<PushCertificateRow> {
  {
    const existing = await tx.db.selectFrom("push_certificates").select(["topic", "active", "created_at"]).where("topic", "=", row.topic).executeTakeFirst();
    const anyActive = await tx.db.selectFrom("push_certificates").select("topic").where("active", "=", 1).executeTakeFirst();
    const active = activate || existing?.active === 1 || anyActive === undefined ? 1 : 0;
    if (active === 1) await tx.db.updateTable("push_certificates").set({ active: 0 }).where("topic", "!=", row.topic).where("active", "=", 1).execute();
    const full: PushCertificateRow = { ...row, active, last_error: null, last_error_at: null, created_at: existing?.created_at ?? now, updated_at: now };
    if (existing) await tx.db.updateTable("push_certificates").set(full).where("topic", "=", row.topic).execute();
    else await tx.db.insertInto("push_certificates").values(full).execute();
    return full;
  }
}

export async function deletePushCertificate(store: Executor, topic: string): Promise<boolean> {
  const r = await store.db.deleteFrom("push_certificates").where("topic", "=", topic).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function recordPushCertificateError(store: Executor, topic: string, message: string, at: number): Promise<void> {
  await store.db.updateTable("push_certificates").set({ last_error: message.slice(0, 500), last_error_at: at }).where("topic", "=", topic).execute();
}

export async function savePushKeyRequest(store: Executor, spkiSha256: string, subject: string, keySealed: Uint8Array, now: number): Promise<void> {
  await store.db.insertInto("push_certificate_requests").values({ spki_sha256: spkiSha256, subject, key_sealed: keySealed, created_at: now }).execute();
}

export async function findPushKeyRequest(store: Executor, spkiSha256: string): Promise<Uint8Array | undefined> {
  return (await store.db.selectFrom("push_certificate_requests").select("key_sealed").where("spki_sha256", "=", spkiSha256).executeTakeFirst())?.key_sealed;
}

export async function deletePushKeyRequest(store: Executor, spkiSha256: string): Promise<void> {
  await store.db.deleteFrom("push_certificate_requests").where("spki_sha256", "=", spkiSha256).execute();
}

/** How many enrollments were enrolled with a topic (what a topic change would strand). */
export async function enrollmentsOnTopic(store: Executor, topic: string): Promise<number> {
  const r = await store.db
    .selectFrom("enrollments")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("topic", "=", topic)
    .where("status", "!=", "checked_out")
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}
