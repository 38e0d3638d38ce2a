// The certificates Orchard's CA issued, as admins see them (listing, revocation), and the revocation list every
// device request is checked against.
//
// Revocation must take effect on every replica within seconds, on every device route, without a database read
// per request: each replica keeps the set of revoked fingerprints, loaded at start and topped up every
// `refreshMs` from the rows revoked since the last read (an index range on revoked_at). A revocation through this
// replica takes effect here at once.
import type { Store } from "../store/db.ts";
import type { Actor } from "../events/actor.ts";
import type { AuditLog } from "../events/audit-log.ts";
import { identitiesExpiringBefore, listIssued, revokeIssued, revokedSince, type IssuedCertificateRow, type IssuedCursor } from "../store/issued-certificates.ts";

/** Rows revoked within this much before the last read are read again: clocks of replicas differ a little. */
const OVERLAP_MS = 5_000;

export class CertificateService {
  private readonly revoked = new Set<string>();
  private readSince = 0;
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly refreshMs = 2_000,
  ) {}

  /** Every issued certificate, or with `expiringBefore` the unrevoked identities expiring before it; (not_after, serial) order. */
  list(filter: { expiringBefore?: number }, limit: number, after?: IssuedCursor): Promise<IssuedCertificateRow[]> {
    return listIssued(this.store, filter, limit, after);
  }

  identitiesExpiringBefore(before: number, limit: number, after?: IssuedCursor): Promise<IssuedCertificateRow[]> {
    return identitiesExpiringBefore(this.store, before, limit, after);
  }

  /** Revokes a certificate; the audit entry is written only when this call revoked it (not when it already was). */
  async revoke(serial: string, actor: Actor, now = Date.now()): Promise<IssuedCertificateRow | undefined> {
    const row = await this.store.transaction(async (tx) => {
      const { row: r, revokedNow } = await revokeIssued(tx, serial, now);
      if (r && revokedNow) {
        await this.audit.record(tx, { actor, action: "certificate.revoke", target: r.serial, detail: { kind: r.kind, subject: r.subject, fingerprint: r.fingerprint, enrollmentId: r.enrollment_id } });
      }
      return r;
    });
    if (row?.revoked_at != null) this.revoked.add(row.fingerprint);
    return row;
  }

  /** Whether a certificate (by SHA-256 fingerprint) is revoked, as far as this replica has read. */
  isRevoked(fingerprint: string): boolean {
    return this.revoked.size > 0 && this.revoked.has(fingerprint);
  }

  /** Reads revocations since the last read. */
  async refresh(): Promise<void> {
    this.loading ??= (async () => {
      const started = Date.now();
      for (const r of await revokedSince(this.store, Math.max(0, this.readSince - OVERLAP_MS))) this.revoked.add(r.fingerprint);
      this.readSince = started;
    })().finally(() => (this.loading = undefined));
    await this.loading;
  }

  /** Loads the list and keeps it current until `stop`. */
  async start(onError: (err: unknown) => void): Promise<void> {
    await this.refresh();
    const tick = () => {
      this.timer = setTimeout(() => {
        this.refresh().catch(onError).finally(tick);
      }, this.refreshMs);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
