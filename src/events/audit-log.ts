// The audit log: who did what to which target, what changed and how it ended, whatever the entry point (API, CLI,
// system job). A service records the entry with `record(tx, …)` in the transaction of the change itself, so a
// change that rolls back leaves no "ok" entry and a committed one always has its entry. The API's hook adds the
// attempts that never reached a commit: refused or failed changes and failed sign-ins (http/api/auth.ts).
import { randomUUID } from "node:crypto";
import type { Executor } from "../store/db.ts";
import { insertAuditEntry, listAuditEntries } from "../store/audit-log.ts";
import type { Actor } from "./actor.ts";

/** A small JSON object saying what changed. Never a secret: no tokens, keys, challenges or passwords. */
export type AuditDetail = Record<string, unknown>;

export interface AuditRecord {
  actor: Actor;
  /** `<concept>.<verb>`, e.g. "token.create" (the list is in the GET /api/v1/audit description). */
  action: string;
  /** What the change was made to: an id, a name, a topic, a serial. */
  target?: string | null;
  detail?: AuditDetail;
  /** Defaults to "ok", or "error" when statusCode is 400 or more. */
  outcome?: "ok" | "error";
  /**
   * The HTTP status for entries the API's hook writes (refused changes, failed sign-ins). 0 (the default) for
   * entries a service writes in the change's transaction: they are not about a response, and the same change
   * from the CLI or a job has none.
   */
  statusCode?: number;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  outcome: "ok" | "error";
  statusCode: number;
  detail: AuditDetail | null;
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
  constructor(private readonly store: Executor) {}

  /** Writes one entry through `ex`: pass the change's transaction, so that the entry commits with the change or not at all. */
  async record(ex: Executor, e: AuditRecord): Promise<void> {
    const statusCode = e.statusCode ?? 0;
    await insertAuditEntry(ex, {
      id: randomUUID(),
      at: Date.now(),
      actor: e.actor,
      action: e.action,
      target: e.target ?? null,
      outcome: e.outcome ?? (statusCode >= 400 ? "error" : "ok"),
      status_code: statusCode,
      detail: e.detail === undefined ? null : JSON.stringify(e.detail),
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
        detail: parseDetail(r.detail),
      })),
      nextCursor: rows.length > q.limit ? (page[page.length - 1]?.id ?? null) : null,
    };
  }
}

/** Entries written before details were JSON held free text: those come back as { text }. */
function parseDetail(text: string | null): AuditDetail | null {
  if (text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as AuditDetail;
  } catch {
    // Fall through: not JSON.
  }
  return { text };
}
