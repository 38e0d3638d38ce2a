// Periodic work, scheduled on every replica but run once: each tick enqueues a job keyed by its time slot, and
// the jobs table lets only one such job exist and one replica run it. Modules declare their schedules
// (ModuleParts.schedules); serve starts them all.
import { Cron } from "croner";
import type { Store } from "../store/db.ts";
import { enqueueJob } from "../store/jobs.ts";

export interface Schedule {
  kind: string;
  /** Cron pattern (seconds optional). */
  pattern: string;
}

export function startSchedules(store: Store, schedules: Schedule[], onError: (err: unknown) => void): () => void {
  const crons = schedules.map(
    (s) =>
      new Cron(s.pattern, { unref: true, protect: true }, async () => {
        const slot = Math.floor(Date.now() / 1000);
        try {
          await enqueueJob(store, { kind: s.kind, payload: {}, singletonKey: `${s.kind}:${slot}`, maxAttempts: 1 });
        } catch (err) {
          onError(err);
        }
      }),
  );
  return () => crons.forEach((c) => c.stop());
}
