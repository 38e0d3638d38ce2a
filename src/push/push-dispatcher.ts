// When and to whom Orchard pushes. Work arrives as `push.enrollments` jobs of at most `chunkSize`
// enrollments each, so a command to 100,000 targets becomes 100 jobs that any replica may claim (the jobs
// table's lease: SKIP LOCKED on PostgreSQL) and that survive a crash; the replica that queued them runs them
// at once. Each job pushes to its enrollments over the APNs client and writes outcomes in batches.
//
// Coalescing: a push is owed to an enrollment for work created at time T unless a push already went to it at
// or after T (the device will fetch everything queued before it connects). That rule is checked against the
// database (last_push_at, for other replicas) and against pushes in flight here, so ten commands queued
// together for one device cost one push.
//
// Re-push: every successful push leaves a push_retries row due `repushAfterMs` later. The sweep reads only
// due rows (by index), drops those whose device connected since or has nothing outstanding, and pushes the
// rest again with a doubling interval. 429/5xx answers are retried by a delayed job with exponential backoff.
import type { Logger } from "pino";
import type { Store, Tx } from "../store/db.ts";
import type { Outbox } from "../events/outbox.ts";
import type { JobRunner } from "../jobs/runner.ts";
import type { MetricsRegistry, Counter, Histogram } from "../metrics/registry.ts";
import { enqueueJob } from "../store/jobs.ts";
import { deleteRetries, dueRetries, existingEnrollments, pushTargets, recordPushOutcomes, scheduleRetries, withOutstandingCommands, type OutcomeBatch, type PushTargetRow, type RetryPlan } from "../store/push-state.ts";
import type { PushIdentity } from "./apns-client.ts";
import type { ApnsTransport } from "./apns-transport.ts";
import { classifyApnsResult, describeApnsResult, type ApnsResult, type PushVerdict } from "./apns-response.ts";
import type { PushCertificateService } from "./push-certificates.ts";
import type { Actor } from "../events/actor.ts";
import type { AuditLog } from "../events/audit-log.ts";

export const PUSH_JOB = "push.enrollments";
export const PUSH_SWEEP_JOB = "push.sweep";
export const PUSH_CERTIFICATE_CHECK_JOB = "push.certificate-check";

/** Run once across replicas per slot (see jobs/schedules.ts): the sweep every minute, the expiry check daily. */
export const PUSH_SCHEDULES = [
  { kind: PUSH_SWEEP_JOB, pattern: "0 * * * * *" },
  { kind: PUSH_CERTIFICATE_CHECK_JOB, pattern: "0 0 9 * * *" },
];

export type PushReason = "command" | "request" | "sweep" | "retry";

export interface PushJobPayload {
  ids: string[];
  /** When the work that owes these pushes was created (ms): a push sent since then satisfies it. */
  requestedAt: number;
  reason: PushReason;
  /** Delivery attempt for 429/5xx retries (0 for the first). */
  attempt?: number;
  /** Re-pushes so far per enrollment (sweep only). */
  repushes?: Record<string, number>;
}

export interface PushDispatcherOptions {
  /** Enrollments per job: the unit replicas claim. */
  chunkSize: number;
  /** Delay before a replica runs the push jobs it just queued, to gather a burst of enqueues into one run. */
  nudgeDelayMs: number;
  /** First backoff after a 429/5xx; doubles per attempt. */
  retryBaseMs: number;
  retryMaxAttempts: number;
  /** First re-push of a device that has not connected. */
  repushAfterMs: number;
  /** Cap of the doubling re-push interval. */
  repushMaxMs: number;
  /** Enrollments looked at per sweep (the rate limit). */
  sweepLimit: number;
}

export const DEFAULT_PUSH_OPTIONS: PushDispatcherOptions = {
  chunkSize: 1000,
  nudgeDelayMs: 25,
  retryBaseMs: 5_000,
  retryMaxAttempts: 6,
  repushAfterMs: 10 * 60_000,
  repushMaxMs: 24 * 3_600_000,
  sweepLimit: 2_000,
};

export interface PushSummary {
  pushed: number;
  coalesced: number;
  skipped: number;
  failed: number;
  retrying: number;
  badTokens: number;
  /** Enrollments neither pushed, nor marked bad, nor scheduled for a retry (skipped, refused, no certificate). */
  unsettled: string[];
}

export interface PushDispatcherDeps {
  store: Store;
  outbox: Outbox;
  jobs: JobRunner;
  certificates: PushCertificateService;
  client: ApnsTransport;
  logger: Logger;
  metrics: MetricsRegistry;
  audit: AuditLog;
}

export class PushDispatcher {
  private readonly options: PushDispatcherOptions;
  /** Enrollment id -> when the push to it now in flight started. */
  private readonly inFlight = new Map<string, number>();
  private started = false;
  private nudgeTimer: NodeJS.Timeout | undefined;
  /** When the current gathering window opened (a burst is gathered for at most 8 windows). */
  private nudgeFirst = 0;
  private readonly delayed = new Set<NodeJS.Timeout>();
  private running: Promise<unknown> | undefined;
  private readonly outcomes: Counter;
  private readonly skips: Counter;
  private readonly latency: Histogram;
  private readonly certificateAlerts: Counter;

  constructor(
    private readonly deps: PushDispatcherDeps,
    options: Partial<PushDispatcherOptions> = {},
  ) {
    this.options = { ...DEFAULT_PUSH_OPTIONS, ...options };
    this.outcomes = deps.metrics.counter("orchard_push_total", "Pushes sent to APNs, by outcome (ok, bad_token, certificate, retry, rejected).");
    this.skips = deps.metrics.counter("orchard_push_skipped_total", "Pushes not sent, by reason (coalesced, no_token, token_invalid, checked_out, no_certificate).");
    this.latency = deps.metrics.histogram("orchard_push_latency_seconds", "Time from sending a push to APNs' answer.", [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    this.certificateAlerts = deps.metrics.counter("orchard_push_certificate_errors_total", "APNs refusals of a push certificate (403), by topic.");
  }

  /** Records the pushes queued commands owe (in the command's transaction) and registers the job handlers (every replica). */
  register(): void {
    const { outbox, jobs } = this.deps;
    outbox.react("command.queued", async (tx, e) => {
      await this.requestIn(tx, e.targets, "command");
    });
    jobs.register(PUSH_JOB, async (payload) => {
      await this.runJob(payload as PushJobPayload);
    });
    jobs.register(PUSH_SWEEP_JOB, async () => {
      await this.sweep();
    });
    jobs.register(PUSH_CERTIFICATE_CHECK_JOB, async () => {
      await this.deps.certificates.checkExpiry();
    });
  }

  /** Runs queued push jobs promptly on this replica (the server does; tooling that only queues does not). */
  start(): void {
    this.started = true;
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.nudgeTimer) clearTimeout(this.nudgeTimer);
    for (const t of this.delayed) clearTimeout(t);
    this.delayed.clear();
    await this.running;
  }

  /**
   * Queues pushes to enrollments (coalesced with any sent after now). Returns how many jobs were queued;
   * nothing is queued when no push certificate exists at all.
   */
  async request(ids: readonly string[], reason: PushReason, requestedAt = Date.now()): Promise<number> {
    if (ids.length === 0 || !(await this.deps.certificates.hasAny())) return 0;
    return this.deps.store.transaction((tx) => this.requestIn(tx, ids, reason, requestedAt));
  }

  /**
   * The outbox side of `request`: the push jobs are written in `tx` (the transaction of the change that owes
   * them), and this replica runs them once it has committed.
   */
  async requestIn(tx: Tx, ids: readonly string[], reason: PushReason, requestedAt = Date.now()): Promise<number> {
    if (ids.length === 0 || !(await this.deps.certificates.hasAny(tx))) return 0;
    let jobs = 0;
    // Due when the gathering window closes, not now: otherwise the job runner's own poll (on this replica or
    // another) can take the first job of a burst mid-window, and the rest of the burst costs another push.
    const runAt = Date.now() + this.options.nudgeDelayMs;
    for (let i = 0; i < ids.length; i += this.options.chunkSize) {
      await enqueueJob(tx, { kind: PUSH_JOB, payload: { ids: ids.slice(i, i + this.options.chunkSize), requestedAt, reason } satisfies PushJobPayload, runAt, maxAttempts: 5 });
      jobs++;
    }
    tx.afterCommit(() => this.nudge(this.options.nudgeDelayMs));
    return jobs;
  }

  /** Validates ids for the admin API: the ones that are enrollments are queued, the rest reported. */
  async requestForApi(ids: readonly string[], actor: Actor): Promise<{ queued: number; unknown: string[]; jobs: number }> {
    const unique = [...new Set(ids)];
    const found = await existingEnrollments(this.deps.store, unique);
    const known = unique.filter((id) => found.has(id));
    const unknown = unique.filter((id) => !found.has(id));
    const jobs =
      known.length && (await this.deps.certificates.hasAny())
        ? await this.deps.store.transaction(async (tx) => {
            const n = await this.requestIn(tx, known, "request");
            // How many, not which: a push to the fleet would make an entry of 100,000 ids.
            if (n > 0) await this.deps.audit.record(tx, { actor, action: "push.send", target: known.length === 1 ? known[0]! : null, detail: { enrollments: known.length, unknown: unknown.length } });
            return n;
          })
        : 0;
    return { queued: jobs ? known.length : 0, unknown, jobs };
  }

  private nudge(delayMs: number): void {
    if (!this.started) return;
    if (delayMs <= this.options.nudgeDelayMs) {
      // Trailing: each new enqueue extends the window, so a burst is pushed once it quiets down (or after
      // eight windows, so a steady stream still goes out).
      const now = Date.now();
      if (this.nudgeTimer) {
        if (now - this.nudgeFirst >= 7 * delayMs) return;
        clearTimeout(this.nudgeTimer);
      } else this.nudgeFirst = now;
      this.nudgeTimer = setTimeout(() => {
        this.nudgeTimer = undefined;
        this.runNow();
      }, delayMs);
      this.nudgeTimer.unref();
      return;
    }
    const t = setTimeout(() => {
      this.delayed.delete(t);
      this.runNow();
    }, delayMs);
    t.unref();
    this.delayed.add(t);
  }

  private runNow(): void {
    if (!this.started) return;
    const run = this.deps.jobs.runDue().catch((err: unknown) => this.deps.logger.error({ err }, "push job run failed"));
    this.running = Promise.all([this.running, run]);
  }

  /** One push job: look up the targets, push to those still owed one, record the outcomes. */
  async runJob(job: PushJobPayload): Promise<PushSummary> {
    const rows = await pushTargets(this.deps.store, job.ids);
    return this.push(rows, job);
  }

  private async push(rows: PushTargetRow[], job: PushJobPayload): Promise<PushSummary> {
    const summary: PushSummary = { pushed: 0, coalesced: 0, skipped: 0, failed: 0, retrying: 0, badTokens: 0, unsettled: [] };
    // Certificates first (the only await), so that checking and marking each push below happens in one
    // turn of the event loop: two jobs for the same device cannot both decide to push.
    const identities = new Map<string, PushIdentity | undefined>();
    for (const r of rows) if (r.topic && !identities.has(r.topic)) identities.set(r.topic, await this.deps.certificates.identity(r.topic));

    const sends: Array<Promise<void>> = [];
    const results: Array<{ row: PushTargetRow; result: ApnsResult; verdict: PushVerdict; topic: string }> = [];
    const noCertificate: string[] = [];
    const now = Date.now();
    for (const r of rows) {
      const skip = this.skipReason(r, job);
      if (skip) {
        this.skips.inc({ reason: skip });
        if (skip === "coalesced") summary.coalesced++;
        else summary.skipped++;
        summary.unsettled.push(r.id);
        continue;
      }
      const topic = r.topic!;
      const identity = identities.get(topic);
      if (!identity) {
        this.skips.inc({ reason: "no_certificate" });
        noCertificate.push(r.id);
        continue;
      }
      this.inFlight.set(r.id, now);
      sends.push(
        this.deps.client.send(identity, r.use_development_apns === 1, r.push_token!, r.push_magic!).then((result) => {
          const verdict = classifyApnsResult(result);
          // A success keeps coalescing later work until its outcome is in the database (see below).
          if (verdict !== "ok" && this.inFlight.get(r.id) === now) this.inFlight.delete(r.id);
          this.outcomes.inc({ outcome: verdict });
          if (result.status !== 0) this.latency.observe(result.latencyMs / 1000);
          results.push({ row: r, result, verdict, topic });
        }),
      );
    }
    await Promise.all(sends);
    try {
      await this.record(results, noCertificate, job, summary);
    } finally {
      for (const { row } of results) if (this.inFlight.get(row.id) === now) this.inFlight.delete(row.id);
    }
    return summary;
  }

  private skipReason(r: PushTargetRow, job: PushJobPayload): string | undefined {
    if (r.status === "checked_out") return "checked_out";
    if (!r.push_token || !r.push_magic || !r.topic) return "no_token";
    if (r.token_invalid_at !== null) return "token_invalid";
    const flying = this.inFlight.get(r.id);
    if (flying !== undefined && flying >= job.requestedAt) return "coalesced";
    if (job.reason !== "sweep" && r.last_push_result === "ok" && r.last_push_at !== null && r.last_push_at >= job.requestedAt) return "coalesced";
    return undefined;
  }

  private async record(results: Array<{ row: PushTargetRow; result: ApnsResult; verdict: PushVerdict; topic: string }>, noCertificate: string[], job: PushJobPayload, summary: PushSummary): Promise<void> {
    const now = Date.now();
    const byResult = new Map<string, OutcomeBatch>();
    const add = (result: string, id: string, invalidToken = false) => {
      let b = byResult.get(result);
      if (!b) byResult.set(result, (b = { result, ids: [], ...(invalidToken ? { invalidToken } : {}) }));
      b.ids.push(id);
    };
    const retryIds: string[] = [];
    const repushPlans: RetryPlan[] = [];
    const certificateErrors = new Map<string, string>();
    for (const id of noCertificate) {
      add("no push certificate for the enrollment's topic", id);
      summary.unsettled.push(id);
    }
    for (const { row, result, verdict, topic } of results) {
      const text = describeApnsResult(result);
      switch (verdict) {
        case "ok": {
          summary.pushed++;
          add("ok", row.id);
          const repushes = job.reason === "sweep" ? (job.repushes?.[row.id] ?? 0) + 1 : 0;
          repushPlans.push({ enrollmentId: row.id, attempts: repushes, retryAt: now + this.repushInterval(repushes) });
          break;
        }
        case "bad_token":
          summary.badTokens++;
          add(text, row.id, true);
          break;
        case "certificate":
          summary.failed++;
          add(text, row.id);
          summary.unsettled.push(row.id);
          certificateErrors.set(topic, text);
          break;
        case "retry":
          summary.retrying++;
          add(`${text} (will retry)`, row.id);
          retryIds.push(row.id);
          break;
        case "rejected":
          summary.failed++;
          add(text, row.id);
          summary.unsettled.push(row.id);
          break;
      }
    }
    if (byResult.size) await this.deps.store.transaction((tx) => recordPushOutcomes(tx, [...byResult.values()], now));
    if (repushPlans.length) await scheduleRetries(this.deps.store, repushPlans, now);
    if (summary.badTokens) this.deps.logger.info({ count: summary.badTokens }, "push tokens reported invalid by APNs; no more pushes to them until their next TokenUpdate");
    for (const [topic, text] of certificateErrors) {
      this.certificateAlerts.inc({ topic });
      this.deps.logger.error({ topic, answer: text }, "APNs refused the push certificate: devices on this topic cannot be woken until it is fixed (renew or re-upload it)");
      await this.deps.certificates.recordError(topic, text);
    }
    if (retryIds.length) await this.scheduleBackoff(retryIds, job);
  }

  private async scheduleBackoff(ids: string[], job: PushJobPayload): Promise<void> {
    const attempt = (job.attempt ?? 0) + 1;
    if (attempt > this.options.retryMaxAttempts) {
      this.deps.logger.warn({ count: ids.length, attempts: attempt - 1 }, "giving up pushing after repeated 429/5xx answers; the re-push sweep will try again later");
      // Leave them to the sweep: a push_retries row due after the usual interval.
      const now = Date.now();
      await scheduleRetries(this.deps.store, ids.map((id) => ({ enrollmentId: id, attempts: 0, retryAt: now + this.options.repushAfterMs })), now);
      return;
    }
    const delay = Math.round(this.options.retryBaseMs * 2 ** (attempt - 1) * (0.9 + Math.random() * 0.2));
    const payload: PushJobPayload = { ids, requestedAt: job.requestedAt, reason: job.reason === "sweep" ? "sweep" : "retry", attempt, ...(job.repushes ? { repushes: pick(job.repushes, ids) } : {}) };
    await enqueueJob(this.deps.store, { kind: PUSH_JOB, payload, runAt: Date.now() + delay, maxAttempts: 5 });
    this.nudge(delay + 5);
  }

  private repushInterval(repushes: number): number {
    return Math.min(this.options.repushMaxMs, this.options.repushAfterMs * 2 ** repushes);
  }

  /**
   * The re-push sweep: looks at the retries due now (at most `sweepLimit`, by index), forgets enrollments
   * that connected since their push or have nothing outstanding, and pushes the others again.
   */
  async sweep(now = Date.now()): Promise<{ examined: number; repushed: number; cleared: number }> {
    const due = await dueRetries(this.deps.store, now, this.options.sweepLimit);
    if (due.length === 0) return { examined: 0, repushed: 0, cleared: 0 };
    const clear: string[] = [];
    const candidates: string[] = [];
    const repushes: Record<string, number> = {};
    for (const d of due) {
      if (d.status === null || d.status === "checked_out" || d.token_invalid_at !== null || (d.last_seen_at !== null && d.last_seen_at > d.pushed_at)) clear.push(d.enrollment_id);
      else {
        candidates.push(d.enrollment_id);
        repushes[d.enrollment_id] = d.attempts;
      }
    }
    const outstanding = await withOutstandingCommands(this.deps.store, candidates);
    const again = candidates.filter((id) => outstanding.has(id));
    for (const id of candidates) if (!outstanding.has(id)) clear.push(id);
    await deleteRetries(this.deps.store, clear);
    if (again.length) {
      // Pushed from here rather than queued: the sweep job itself is the claim, so replicas do not double up.
      // Successes move on by the doubling interval; what could not be pushed is looked at again later.
      const summary = await this.push(await pushTargets(this.deps.store, again), { ids: again, requestedAt: now, reason: "sweep", repushes });
      if (summary.unsettled.length) await scheduleRetries(this.deps.store, summary.unsettled.map((id) => ({ enrollmentId: id, attempts: repushes[id] ?? 0, retryAt: now + this.options.repushAfterMs })), now);
      this.deps.logger.info({ examined: due.length, repushed: summary.pushed, cleared: clear.length }, "re-push sweep");
      return { examined: due.length, repushed: summary.pushed, cleared: clear.length };
    }
    return { examined: due.length, repushed: 0, cleared: clear.length };
  }
}

function pick(m: Record<string, number>, ids: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) if (m[id] !== undefined) out[id] = m[id];
  return out;
}
