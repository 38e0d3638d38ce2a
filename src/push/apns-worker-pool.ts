// Pushes sent from worker threads. node:http2 costs ~100 µs of CPU per push (stream setup, HPACK, TLS), so a
// fan-out to 100,000 devices is ten seconds of a core; on the main thread that is ten seconds in which the
// devices being woken wait for their connects to be served. The pool gives the HTTP/2 work to `threads` workers,
// each with its own ApnsClient (its own connections per certificate), and keeps only batching on the main
// thread. Workers start on the first push and stop after `idleMs` without one, so a server that is not
// pushing carries no extra threads.
import type { Worker } from "node:worker_threads";
import { startWorkerThread } from "../worker-thread.ts";
import { APNS_DEVELOPMENT, APNS_PRODUCTION, type ApnsClientOptions, type PushIdentity } from "./apns-client.ts";
import type { ApnsResult } from "./apns-response.ts";
import type { ApnsTransport } from "./apns-transport.ts";
import type { FromWorker, PushBatch, ToWorker } from "./apns-worker-messages.ts";

export interface ApnsWorkerPoolOptions extends ApnsClientOptions {
  threads: number;
  /** Workers stop after this long with nothing in flight (default 60 s). */
  idleMs?: number;
}

interface PoolWorker {
  worker: Worker;
  /** Certificates (by fingerprint) this worker has been given. */
  identities: Set<string>;
  /** Pushes sent to it and not yet answered. */
  pending: Map<number, (r: ApnsResult) => void>;
  /** Pushes gathered this turn, by certificate and gateway. */
  outbox: Map<string, PushBatch>;
  gone: boolean;
}

export class ApnsWorkerPool implements ApnsTransport {
  private readonly workers: PoolWorker[] = [];
  private readonly threads: number;
  private readonly idleMs: number;
  private url: string | undefined;
  private extraCaPem: string[] | undefined;
  private seq = 0;
  private turn = 0;
  private flushScheduled = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Workers started so far (observability and tests). */
  started = 0;

  constructor(private readonly options: ApnsWorkerPoolOptions) {
    this.threads = Math.max(1, Math.floor(options.threads));
    this.idleMs = options.idleMs ?? 60_000;
    this.url = options.url;
    this.extraCaPem = options.extraCaPem;
  }

  gatewayFor(development: boolean): string {
    return this.url ?? (development ? APNS_DEVELOPMENT : APNS_PRODUCTION);
  }

  useGateway(url: string, extraCaPem: string[]): void {
    this.url = url;
    this.extraCaPem = extraCaPem;
    for (const w of this.workers) w.worker.postMessage({ t: "gateway", url, extraCaPem } satisfies ToWorker);
  }

  /** Pushes sent and not yet answered, across workers. */
  get inFlight(): number {
    let n = 0;
    for (const w of this.workers) n += w.pending.size;
    return n;
  }

  send(identity: PushIdentity, development: boolean, token: string, pushMagic: string): Promise<ApnsResult> {
    if (this.closed) return Promise.resolve({ status: 0, transportError: "APNs client closed", latencyMs: 0 });
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    const w = this.pick();
    if (!w.identities.has(identity.fingerprint)) {
      w.identities.add(identity.fingerprint);
      w.worker.postMessage({ t: "identity", identity: { topic: identity.topic, fingerprint: identity.fingerprint, certPem: identity.certPem, keyPem: identity.keyPem } } satisfies ToWorker);
    }
    const key = development ? `d ${identity.fingerprint}` : `p ${identity.fingerprint}`;
    let batch = w.outbox.get(key);
    if (!batch) w.outbox.set(key, (batch = { t: "push", fingerprint: identity.fingerprint, development, seqs: [], tokens: [], magics: [] }));
    const seq = ++this.seq;
    batch.seqs.push(seq);
    batch.tokens.push(token);
    batch.magics.push(pushMagic);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return new Promise<ApnsResult>((resolve) => w.pending.set(seq, resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.flush();
    await Promise.all(this.workers.splice(0).map((w) => this.retire(w)));
  }

  destroy(): void {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const w of this.workers.splice(0)) {
      this.lost(w, "APNs client closed");
      void w.worker.terminate();
    }
  }

  /** Workers in turn, started as needed up to `threads`. */
  private pick(): PoolWorker {
    if (this.workers.length < this.threads) {
      const w = this.spawn();
      this.workers.push(w);
      return w;
    }
    return this.workers[this.turn++ % this.workers.length]!;
  }

  private spawn(): PoolWorker {
    const { threads: _threads, idleMs: _idleMs, ...clientOptions } = this.options;
    const options: ApnsClientOptions = { ...clientOptions, ...(this.url ? { url: this.url } : {}), ...(this.extraCaPem ? { extraCaPem: this.extraCaPem } : {}) };
    const worker = startWorkerThread(import.meta.url, "./apns-worker", { workerData: options });
    worker.unref();
    this.started++;
    const w: PoolWorker = { worker, identities: new Set(), pending: new Map(), outbox: new Map(), gone: false };
    worker.on("message", (m: FromWorker) => {
      if (m.t !== "results") return;
      for (let i = 0; i < m.seqs.length; i++) {
        const seq = m.seqs[i]!;
        const resolve = w.pending.get(seq);
        if (resolve === undefined) continue;
        w.pending.delete(seq);
        resolve(m.results[i]!);
      }
      if (w.pending.size === 0) this.maybeIdle();
    });
    // A worker that dies takes its pushes' answers with it: they end without one (and are retried by the
    // dispatcher like any push that got no answer), and the next push starts a fresh worker.
    worker.on("error", (err) => this.drop(w, `push worker failed: ${err.message}`));
    worker.on("exit", (code) => this.drop(w, `push worker exited (${code})`));
    return w;
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const w of this.workers) {
      if (w.outbox.size === 0) continue;
      for (const batch of w.outbox.values()) w.worker.postMessage(batch satisfies ToWorker);
      w.outbox.clear();
    }
  }

  private drop(w: PoolWorker, why: string): void {
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    this.lost(w, why);
  }

  private lost(w: PoolWorker, why: string): void {
    if (w.gone) return;
    w.gone = true;
    w.outbox.clear();
    for (const resolve of w.pending.values()) resolve({ status: 0, transportError: why, latencyMs: 0 });
    w.pending.clear();
  }

  private maybeIdle(): void {
    if (this.closed || this.idleTimer || this.inFlight > 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.inFlight > 0) return;
      for (const w of this.workers.splice(0)) void this.retire(w);
    }, this.idleMs);
    this.idleTimer.unref();
  }

  /** Lets a worker finish what it carries, then ends it. */
  private async retire(w: PoolWorker): Promise<void> {
    if (w.gone) return;
    const closed = new Promise<void>((resolve) => {
      w.worker.on("message", (m: FromWorker) => m.t === "closed" && resolve());
      w.worker.once("exit", () => resolve());
    });
    w.worker.postMessage({ t: "close" } satisfies ToWorker);
    await closed;
    this.lost(w, "APNs client closed");
    await w.worker.terminate();
  }
}
