// The audit log: every admin API call that changes something, with who, what, target, when and outcome.
import { randomUUID } from "node:crypto";
import type { Store } from "../store/db.ts";
import { insertAuditEntry, listAuditEntries } from "../store/audit-log.ts";

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
    await insertAuditEntry(this.store, {
      id: randomUUID(),
      at: Date.now(),
      actor: e.actor,
      action: e.action,
      target: e.target ?? null,
      outcome: e.statusCode < 400 ? "ok" : "error",
      status_code: e.statusCode,
      detail: e.detail ?? null,
    });
  }

  async list(q: AuditQuery): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
    // One more than a page: its presence says whether there is a next page.
    const rows = await listAuditEntries(this.store, { actor: q.actor, action: q.action, target: q.target }, q.limit + 1, q.before);
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
