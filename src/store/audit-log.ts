// Queries for the audit log (audit_log), newest first with (at, id) as the page order.
import type { Selectable } from "kysely";
import type { Executor } from "./db.ts";
import type { AuditLogTable } from "./schema.ts";

export type AuditRow = Selectable<AuditLogTable>;

export async function insertAuditEntry(store: Executor, row: AuditRow): Promise<void> {
  await store.db.insertInto("audit_log").values(row).execute();
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
}

/**
 * Up to `limit` entries matching the filter, newest first, strictly older than the entry with id `before` when
 * given (an unknown id means no lower bound, as before the move).
 */
export async function listAuditEntries(store: Executor, filter: AuditFilter, limit: number, before?: string): Promise<AuditRow[]> {
  let query = store.db.selectFrom("audit_log").selectAll();
  if (filter.actor) query = query.where("actor", "=", filter.actor);
  if (filter.action) query = query.where("action", "=", filter.action);
  if (filter.target) query = query.where("target", "=", filter.target);
  if (before) {
    const ref = await store.db.selectFrom("audit_log").select(["at", "id"]).where("id", "=", before).executeTakeFirst();
    if (ref) query = query.where((eb) => eb.or([eb("at", "<", ref.at), eb.and([eb("at", "=", ref.at), eb("id", "<", ref.id)])]));
  }
  return query.orderBy("at", "desc").orderBy("id", "desc").limit(limit).execute();
}
