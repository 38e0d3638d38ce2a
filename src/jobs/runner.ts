// Runs background jobs from the jobs table: polls for due jobs, runs each kind's handler, retries with
// exponential backoff. Every replica runs one; the table's leases make each job run once.
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Store } from "../store/db.ts";
import { claimJobs, failJob, finishJob, type JobRow } from "../store/jobs.ts";
import type { MetricsRegistry } from "../metrics/registry.ts";

export type JobHandler = (payload: unknown, job: JobRow) => Promise<void>;

export interface JobRunnerOptions {
  pollMs?: number;
  leaseMs?: number;
  batch?: number;
  /** Delay before attempt n+1, ms. */
  backoff?: (attempt: number) => number;
}

export class JobRunner {
  private readonly handlers = new Map<string, JobHandler>();
  private readonly worker = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private readonly outcomes;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    metrics: MetricsRegistry,
    private readonly options: JobRunnerOptions = {},
  ) {
    this.outcomes = metrics.counter("orchard_jobs_total", "Background jobs run, by kind and outcome.");
  }

  register(kind: string, handler: JobHandler): void {
    this.handlers.set(kind, handler);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Runs every due job now (tests, and a nudge after enqueueing urgent work). */
  async runDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.runBatch();
      total += n;
      if (n === 0) return total;
    }
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runBatch()
        .catch((err) => this.logger.error({ err }, "job poll failed"))
        .then((n) => this.schedule(n && n > 0 ? 0 : (this.options.pollMs ?? 1000)));
    }, delay);
    this.timer.unref();
  }

  private async runBatch(): Promise<number> {
    const now = Date.now();
    const jobs = await this.store.transaction((tx) => claimJobs(tx, this.worker, now, this.options.leaseMs ?? 60_000, this.options.batch ?? 20));
    await Promise.all(jobs.map((job) => this.runOne(job)));
    return jobs.length;
  }

  private async runOne(job: JobRow): Promise<void> {
    const handler = this.handlers.get(job.kind);
    try {
      if (!handler) throw new Error(`no handler for job kind ${job.kind}`);
      await handler(JSON.parse(job.payload) as unknown, job);
      await finishJob(this.store, job.id);
      this.outcomes.inc({ kind: job.kind, outcome: "ok" });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const delay = (this.options.backoff ?? defaultBackoff)(job.attempts);
      const verdict = await failJob(this.store, job, message, Date.now() + delay);
      this.outcomes.inc({ kind: job.kind, outcome: verdict });
      this.logger.warn({ kind: job.kind, job: job.id, attempt: job.attempts, verdict, error: message }, "job failed");
    }
  }
}

/** 10 s, 30 s, 90 s, … capped at one hour, with jitter so retries from many jobs spread out. */
export function defaultBackoff(attempt: number): number {
  const base = Math.min(3_600_000, 10_000 * 3 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
