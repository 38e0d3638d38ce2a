// Runs a fleet operation (enroll, connect, unenroll) over the devices of a fleet file, or keeps them online:
// in this thread for small fleets, otherwise across worker threads that each own a slice of the devices and
// share the file. Progress is aggregated for a progress bar; the summary gives counts, grouped errors,
// throughput and latency percentiles (per HTTP request and per device).
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { generatePrivateKey } from "../src/pki/keys.ts";
import { startWorkerThread } from "../src/worker-thread.ts";
import { FleetStore, type DeviceFilter } from "./fleet-store.ts";
import type { FleetOperation, OperationInput } from "./fleet-operations.ts";
import { NumberBuffer, summarizeLatencies, type LatencySummary } from "./latency-stats.ts";
import { isDict, readProfile } from "./profile-reader.ts";
import { runOnlineSlice, runSlice, type ProgressDelta } from "./fleet-slice.ts";
import type { MainMessage, WorkerJob, WorkerMessage } from "./fleet-worker.ts";

export interface FleetProgress {
  total: number;
  done: number;
  failed: number;
  requests: number;
  elapsedMs: number;
}

export interface FleetRunSummary {
  operation: FleetOperation | "run";
  devices: number;
  ok: number;
  failed: number;
  durationMs: number;
  devicesPerSecond: number;
  requests: number;
  requestsPerSecond: number;
  requestLatency: LatencySummary;
  deviceLatency: LatencySummary;
  /** Commands processed, by "RequestType:Status". */
  commands: Record<string, number>;
  /** Failures grouped by cause, most frequent first. */
  errors: Array<{ error: string; count: number }>;
  workers: number;
}

export interface FleetRunOptions {
  fleetPath: string;
  input: OperationInput;
  /** Devices in flight at once across all workers (default 32). */
  concurrency?: number;
  /** Worker threads; 0 runs in this thread. Default: 0 under 2,000 devices, else up to 8 by CPU count. */
  workers?: number;
  /** Which devices; by default the ones the operation applies to (enroll: not enrolled; others: enrolled). */
  filter?: DeviceFilter;
  /** enroll: share this many keys per key size across the fleet (0 = a fresh key per device). */
  keyPool?: number;
  onProgress?: (progress: FleetProgress) => void;
}

class Aggregate {
  done = 0;
  failed = 0;
  requests = 0;
  readonly requestLatencies = new NumberBuffer();
  readonly deviceLatencies = new NumberBuffer();
  readonly commands: Record<string, number> = {};
  readonly errors: Record<string, number> = {};

  add(d: ProgressDelta): void {
    this.done += d.done;
    this.failed += d.failed;
    this.requests += d.requests;
    this.requestLatencies.pushAll(d.requestLatencies);
    this.deviceLatencies.pushAll(d.deviceLatencies);
    for (const [k, n] of Object.entries(d.commands)) this.commands[k] = (this.commands[k] ?? 0) + n;
    for (const [k, n] of Object.entries(d.errors)) this.errors[k] = (this.errors[k] ?? 0) + n;
  }

  summary(operation: FleetRunSummary["operation"], devices: number, durationMs: number, workers: number): FleetRunSummary {
    const seconds = Math.max(durationMs / 1000, 1e-9);
    return {
      operation,
      devices,
      ok: this.done - this.failed,
      failed: this.failed,
      durationMs,
      devicesPerSecond: this.done / seconds,
      requests: this.requests,
      requestsPerSecond: this.requests / seconds,
      requestLatency: summarizeLatencies(this.requestLatencies.values()),
      deviceLatency: summarizeLatencies(this.deviceLatencies.values()),
      commands: this.commands,
      errors: Object.entries(this.errors)
        .map(([error, count]) => ({ error, count }))
        .sort((a, b) => b.count - a.count),
      workers,
    };
  }
}

function defaultWorkers(devices: number): number {
  return devices >= 2000 ? Math.min(availableParallelism(), 8) : 0;
}

/** Splits the devices round-robin, so every worker gets a similar mix of platforms. */
function partition(seqs: readonly number[], parts: number): number[][] {
  const out: number[][] = Array.from({ length: parts }, () => []);
  seqs.forEach((s, i) => out[i % parts]!.push(s));
  return out.filter((p) => p.length > 0);
}

function startWorker(job: WorkerJob, onDelta: (d: ProgressDelta) => void): { worker: Worker; done: Promise<void> } {
  const worker = startWorkerThread(import.meta.url, "./fleet-worker", { workerData: job });
  const done = new Promise<void>((resolve, reject) => {
    let finished = false;
    worker.on("message", (m: WorkerMessage) => {
      if (m.type === "progress") onDelta(m.delta);
      else if (m.type === "done") finished = true;
      else if (m.type === "error") reject(new Error(`fleet worker failed: ${m.message}`));
    });
    worker.on("error", reject);
    worker.on("exit", (code) => (finished || code === 0 ? resolve() : reject(new Error(`fleet worker exited with code ${code}`))));
  });
  return { worker, done };
}

/** The SCEP key size an enrollment profile asks for (2048 when it does not say). */
function profileKeySize(profile: Uint8Array): number {
  try {
    const read = readProfile(profile);
    const scep = read.payloads.find((p) => p.PayloadType === "com.apple.security.scep");
    const content = scep?.PayloadContent;
    if (isDict(content) && typeof content.Keysize === "number") return content.Keysize;
  } catch {
    // the devices will report the profile's problem themselves
  }
  return 2048;
}

/** Makes sure the fleet's key pool holds `size` keys of `bits`, generating the missing ones in parallel. */
export async function ensureKeyPool(store: FleetStore, size: number, bits: number): Promise<void> {
  const have = store.loadKeyPool().get(bits)?.length ?? 0;
  if (have >= size) return;
  if (bits !== 2048 && bits !== 3072 && bits !== 4096) return;
  const keys = await Promise.all(Array.from({ length: size - have }, () => generatePrivateKey({ type: "rsa", bits })));
  keys.forEach((key, i) => store.addPooledKey(`rsa${bits}-${have + i}`, bits, key));
}

export async function runFleet(options: FleetRunOptions): Promise<FleetRunSummary> {
  const { input } = options;
  const store = FleetStore.open(options.fleetPath);
  let seqs: number[];
  try {
    seqs = store.select(options.filter ?? { enrolled: input.operation !== "enroll" });
    if (input.operation === "enroll" && input.profile && (options.keyPool ?? 0) > 0) {
      await ensureKeyPool(store, options.keyPool!, profileKeySize(input.profile));
    }
  } finally {
    store.close();
  }
  const concurrency = Math.max(1, options.concurrency ?? 32);
  const workers = Math.min(options.workers ?? defaultWorkers(seqs.length), seqs.length);
  const aggregate = new Aggregate();
  const started = performance.now();
  const progress = () => options.onProgress?.({ total: seqs.length, done: aggregate.done, failed: aggregate.failed, requests: aggregate.requests, elapsedMs: performance.now() - started });
  const onDelta = (d: ProgressDelta) => {
    aggregate.add(d);
    progress();
  };

  if (workers <= 0) {
    await runSlice({ fleetPath: options.fleetPath, seqs, input, concurrency, onProgress: onDelta });
  } else {
    const slices = partition(seqs, workers);
    const perWorker = Math.max(1, Math.ceil(concurrency / slices.length));
    const running = slices.map((slice) => startWorker({ kind: "operation", fleetPath: options.fleetPath, seqs: slice, input, concurrency: perWorker }, onDelta));
    await Promise.all(running.map((r) => r.done));
  }
  return aggregate.summary(input.operation, seqs.length, performance.now() - started, workers);
}

export interface OnlineOptions {
  fleetPath: string;
  concurrency?: number;
  workers?: number;
  /** Seconds between polls of each device (default 60). */
  intervalSec?: number;
  onProgress?: (progress: FleetProgress) => void;
}

export interface OnlineFleet {
  /** Wakes one device as a push would (it connects at once): by UDID or by the hex APNs token of any channel. */
  wake(udidOrToken: string): void;
  /** Ends the run: in-flight connects finish, state is saved, and the summary is returned. */
  stop(): Promise<FleetRunSummary>;
}

/** `orchard sim run`: keeps the enrolled devices online until stop(). */
export function runFleetOnline(options: OnlineOptions): OnlineFleet {
  const store = FleetStore.open(options.fleetPath);
  const seqs = store.select({ enrolled: true });
  store.close();
  const concurrency = Math.max(1, options.concurrency ?? 32);
  const intervalSec = options.intervalSec ?? 60;
  const workers = Math.min(options.workers ?? defaultWorkers(seqs.length), seqs.length);
  const aggregate = new Aggregate();
  const started = performance.now();
  const onDelta = (d: ProgressDelta) => {
    aggregate.add(d);
    options.onProgress?.({ total: seqs.length, done: aggregate.done, failed: aggregate.failed, requests: aggregate.requests, elapsedMs: performance.now() - started });
  };
  let stopResolve!: () => void;
  const stopped = new Promise<void>((r) => (stopResolve = r));
  let wake: (udid: string) => void;
  let done: Promise<void>;
  if (workers <= 0) {
    const online = runOnlineSlice({ fleetPath: options.fleetPath, seqs, concurrency, intervalSec, onProgress: onDelta, stopped });
    wake = online.wake;
    done = online.done;
  } else {
    const slices = partition(seqs, workers);
    const perWorker = Math.max(1, Math.ceil(concurrency / slices.length));
    const running = slices.map((slice) => startWorker({ kind: "online", fleetPath: options.fleetPath, seqs: slice, concurrency: perWorker, intervalSec }, onDelta));
    const post = (m: MainMessage) => running.forEach((r) => r.worker.postMessage(m));
    wake = (udid) => post({ type: "wake", udid });
    void stopped.then(() => post({ type: "stop" }));
    done = Promise.all(running.map((r) => r.done)).then(() => undefined);
  }
  return {
    wake: (udid) => wake(udid),
    stop: async () => {
      stopResolve();
      await done;
      return aggregate.summary("run", seqs.length, performance.now() - started, workers);
    },
  };
}
