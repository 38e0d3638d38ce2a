// A worker thread of the fleet runner: runs its slice (fleet-slice.ts) and streams progress to the main thread.
import { parentPort, workerData } from "node:worker_threads";
import { runOnlineSlice, runSlice, type ProgressDelta } from "./fleet-slice.ts";
import type { OperationInput } from "./fleet-operations.ts";

export type WorkerJob =
  | { kind: "operation"; fleetPath: string; seqs: number[]; input: OperationInput; concurrency: number }
  | { kind: "online"; fleetPath: string; seqs: number[]; concurrency: number; intervalSec: number };

export type WorkerMessage = { type: "progress"; delta: ProgressDelta } | { type: "done" } | { type: "error"; message: string };
export type MainMessage = { type: "stop" } | { type: "wake"; udid: string };

const port = parentPort;
if (!port) throw new Error("fleet-worker.ts must run in a worker thread");
const job = workerData as WorkerJob;
const send = (m: WorkerMessage) => port.postMessage(m);
const onProgress = (delta: ProgressDelta) => send({ type: "progress", delta });

try {
  if (job.kind === "operation") {
    await runSlice({ fleetPath: job.fleetPath, seqs: job.seqs, input: job.input, concurrency: job.concurrency, onProgress });
  } else {
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const online = runOnlineSlice({ fleetPath: job.fleetPath, seqs: job.seqs, concurrency: job.concurrency, intervalSec: job.intervalSec, onProgress, stopped });
    port.on("message", (m: MainMessage) => {
      if (m.type === "stop") stop();
      else if (m.type === "wake") online.wake(m.udid);
    });
    await online.done;
  }
  send({ type: "done" });
} catch (e) {
  send({ type: "error", message: e instanceof Error ? e.message : String(e) });
} finally {
  port.close();
}
