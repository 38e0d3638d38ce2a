// Runs a fleet operation on a slice of the fleet in the current thread: devices are loaded from the fleet file
// in chunks, run with bounded concurrency over one keep-alive transport, saved back after each chunk, and
// progress (counts, per-request and per-device latencies, command outcomes, grouped errors) is reported in
// deltas. Worker threads run this; small fleets run it in the main thread.
import type { KeyObject } from "node:crypto";
import { VirtualDevice } from "./device.ts";
import { FleetStore, type FleetDevice } from "./fleet-store.ts";
import { runOnDevice, connectAllChannels, errorKey, type OperationInput } from "./fleet-operations.ts";
import { NumberBuffer } from "./latency-stats.ts";
import { Transport } from "./mdm-transport.ts";
import type { KeyProvider } from "./scep-identity.ts";
import { freshRsaKey } from "./scep-identity.ts";

export interface ProgressDelta {
  done: number;
  failed: number;
  requests: number;
  requestLatencies: Float64Array;
  deviceLatencies: Float64Array;
  commands: Record<string, number>;
  errors: Record<string, number>;
}

export interface SliceOptions {
  fleetPath: string;
  seqs: readonly number[];
  input: OperationInput;
  concurrency: number;
  /** Devices loaded and saved together (default 500). */
  chunkSize?: number;
  onProgress: (delta: ProgressDelta) => void;
  /** Milliseconds between progress reports (default 250). */
  progressIntervalMs?: number;
}

/** Hands out pooled keys by device: the same device always gets the same key. */
export function pooledKeyProvider(pool: Map<number, KeyObject[]>, seq: number): KeyProvider {
  return async (bits) => {
    const keys = pool.get(bits);
    if (!keys || keys.length === 0) return freshRsaKey(bits);
    return keys[seq % keys.length]!;
  };
}

class ProgressCollector {
  private done = 0;
  private failed = 0;
  private requests = 0;
  private readonly requestLatencies = new NumberBuffer();
  private readonly deviceLatencies = new NumberBuffer();
  private commands: Record<string, number> = {};
  private errors: Record<string, number> = {};

  request(ms: number): void {
    this.requests++;
    this.requestLatencies.push(ms);
  }

  device(ok: boolean, ms: number, commands: Record<string, number>, error?: string): void {
    this.done++;
    if (!ok) {
      this.failed++;
      const key = error ?? "unknown error";
      this.errors[key] = (this.errors[key] ?? 0) + 1;
    }
    this.deviceLatencies.push(ms);
    for (const [k, n] of Object.entries(commands)) this.commands[k] = (this.commands[k] ?? 0) + n;
  }

  take(): ProgressDelta {
    const delta: ProgressDelta = {
      done: this.done,
      failed: this.failed,
      requests: this.requests,
      requestLatencies: this.requestLatencies.drain(),
      deviceLatencies: this.deviceLatencies.drain(),
      commands: this.commands,
      errors: this.errors,
    };
    this.done = this.failed = this.requests = 0;
    this.commands = {};
    this.errors = {};
    return delta;
  }
}

/** Runs `task` over `items` with at most `limit` in flight. */
export async function withConcurrency<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await task(item);
    }
  });
  await Promise.all(lanes);
}

export async function runSlice(options: SliceOptions): Promise<void> {
  const store = FleetStore.open(options.fleetPath);
  const transport = new Transport({ maxSockets: Math.max(1, options.concurrency) });
  const pool = store.loadKeyPool();
  const collector = new ProgressCollector();
  const timer = setInterval(() => options.onProgress(collector.take()), options.progressIntervalMs ?? 250);
  try {
    const chunkSize = options.chunkSize ?? 500;
    for (let i = 0; i < options.seqs.length; i += chunkSize) {
      const chunk = store.load(options.seqs.slice(i, i + chunkSize));
      await withConcurrency(chunk, options.concurrency, async ({ seq, state }) => {
        const device = new VirtualDevice(state, { transport, historySize: 0, keyProvider: pooledKeyProvider(pool, seq) });
        device.mdm.onExchange = (e) => collector.request(e.durationMs);
        const outcome = await runOnDevice(device, options.input);
        collector.device(outcome.ok, outcome.durationMs, outcome.commands, outcome.error);
      });
      store.save(chunk);
    }
  } finally {
    clearInterval(timer);
    options.onProgress(collector.take());
    transport.close();
    store.close();
  }
}

export interface OnlineSliceOptions {
  fleetPath: string;
  seqs: readonly number[];
  concurrency: number;
  /** Seconds between a device's polls; the first poll of each device is spread over this interval. */
  intervalSec: number;
  onProgress: (delta: ProgressDelta) => void;
  /** Resolves when the run must end. */
  stopped: Promise<void>;
  /** Seconds between saves of the fleet's state (default 30). */
  saveEverySec?: number;
}

/**
 * Keeps a slice online: each device connects every `intervalSec` (jittered), and whenever it is woken (a push;
 * see the returned `wake`, which takes a UDID or the hex APNs token a push is addressed to). Until the local APNs
 * endpoint exists, polling is the wake-up; a push subscription only has to call wake(token).
 */
export function runOnlineSlice(options: OnlineSliceOptions): { wake: (udid: string) => void; done: Promise<void> } {
  const store = FleetStore.open(options.fleetPath);
  const transport = new Transport({ maxSockets: Math.max(1, options.concurrency) });
  const pool = store.loadKeyPool();
  const collector = new ProgressCollector();
  const devices: FleetDevice[] = store.load(options.seqs);
  const byUdid = new Map<string, { entry: FleetDevice; device: VirtualDevice; due: number; busy: boolean }>();
  // A push names a device by its APNs token (hex), not its UDID.
  const byToken = new Map<string, string>();
  const intervalMs = options.intervalSec * 1000;
  const now = Date.now();
  for (const entry of devices) {
    const device = new VirtualDevice(entry.state, { transport, historySize: 0, keyProvider: pooledKeyProvider(pool, entry.seq) });
    device.mdm.onExchange = (e) => collector.request(e.durationMs);
    byUdid.set(entry.state.udid, { entry, device, due: now + Math.random() * intervalMs, busy: false });
    for (const token of [entry.state.mdm?.pushToken, ...entry.state.users.map((u) => u.pushToken)]) {
      if (token) byToken.set(Buffer.from(token, "base64").toString("hex"), entry.state.udid);
    }
  }
  let inFlight = 0;
  let stopping = false;
  const queue: string[] = [];

  const pump = () => {
    while (!stopping && inFlight < options.concurrency && queue.length > 0) {
      const slot = byUdid.get(queue.shift()!);
      if (!slot || slot.busy || !slot.device.enrolled) continue;
      slot.busy = true;
      inFlight++;
      const started = performance.now();
      const commands: Record<string, number> = {};
      connectAllChannels(slot.device, commands)
        .then(
          () => collector.device(true, performance.now() - started, commands),
          (e: unknown) => collector.device(false, performance.now() - started, commands, errorKey(e)),
        )
        .finally(() => {
          slot.busy = false;
          slot.due = Date.now() + intervalMs;
          inFlight--;
          pump();
        });
    }
  };
  const wake = (id: string) => {
    const udid = byUdid.has(id) ? id : byToken.get(id.toLowerCase());
    if (udid !== undefined) {
      queue.push(udid);
      pump();
    }
  };
  const tick = setInterval(() => {
    const t = Date.now();
    for (const [udid, slot] of byUdid) {
      if (!slot.busy && slot.due <= t) {
        slot.due = Number.POSITIVE_INFINITY;
        queue.push(udid);
      }
    }
    pump();
  }, 200);
  const report = setInterval(() => options.onProgress(collector.take()), 500);
  const save = setInterval(() => store.save(devices), (options.saveEverySec ?? 30) * 1000);

  const done = options.stopped.then(async () => {
    stopping = true;
    clearInterval(tick);
    clearInterval(save);
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 50));
    clearInterval(report);
    options.onProgress(collector.take());
    store.save(devices);
    transport.close();
    store.close();
  });
  return { wake, done };
}
