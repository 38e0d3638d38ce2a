// The audit log: every admin API call that changes something, with who, what, target, when and outcome.
import { randomUUID } from "node:crypto";
import type { Store } from "../store/db.ts";

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  outcome: "ok" | "error";
  statusCode: number;
  detail: string | null;
}

export interface AuditQuery {
  limit: number;
  /** Entries strictly older than this cursor (an entry id from a previous page). */
  before?: string;
  actor?: string;
  action?: string;
  target?: string;
}

export class AuditLog {
  constructor(private readonly store: Store) {}

  async record(e: { actor: string; action: string; target?: string | null; statusCode: number; detail?: string | null }): Promise<void> {
    await this.store.db
      .insertInto("audit_log")
      .values({
        id: randomUUID(),
        at: Date.now(),
        actor: e.actor,
        action: e.action,
        target: e.target ?? null,
        outcome: e.statusCode < 400 ? "ok" : "error",
        status_code: e.statusCode,
        detail: e.detail ?? null,
      })
      .execute();
  }

  async list(q: AuditQuery): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
    let query = this.store.db.selectFrom("audit_log").selectAll();
    if (q.actor) query = query.where("actor", "=", q.actor);
    if (q.action) query = query.where("action", "=", q.action);
    if (q.target) query = query.where("target", "=", q.target);
    if (q.before) {
      const ref = await this.store.db.selectFrom("audit_log").select(["at", "id"]).where("id", "=", q.before).executeTakeFirst();
      if (ref) query = query.where((eb) => eb.or([eb("at", "<", ref.at), eb.and([eb("at", "=", ref.at), eb("id", "<", ref.id)])]));
    }
    const rows = await query.orderBy("at", "desc").orderBy("id", "desc").limit(q.limit + 1).execute();
    const page = rows.slice(0, q.limit);
    return {
      entries: page.map((r) => ({
        id: r.id,
        at: new Date(r.at).toISOString(),
        actor: r.actor,
        action: r.action,
        target: r.target,
        outcome: r.outcome,
        statusCode: r.status_code,
        detail: r.detail,
      })),
      nextCursor: rows.length > q.limit ? (page[page.length - 1]?.id ?? null) : null,
    };
  }
}
