// A push worker thread (see apns-worker-pool.ts): one ApnsClient, fed batches of pushes by the main thread and
// answering with batches of results. Results are gathered for one turn of the event loop and posted together,
// so that a message crosses the thread boundary per batch rather than per push.
import { parentPort, workerData } from "node:worker_threads";
import { ApnsClient, type ApnsClientOptions, type PushIdentity } from "./apns-client.ts";
import type { ApnsResult } from "./apns-response.ts";
import type { ToWorker, WorkerResults } from "./apns-worker-messages.ts";
import { installLeanAsyncBind } from "./lean-async-bind.ts";

const port = parentPort;
if (!port) throw new Error("apns-worker runs as a worker thread");

installLeanAsyncBind();
const client = new ApnsClient(workerData as ApnsClientOptions);
const identities = new Map<string, PushIdentity>();
let seqs: number[] = [];
let results: ApnsResult[] = [];
let flushScheduled = false;

function flush(): void {
  flushScheduled = false;
  if (seqs.length === 0) return;
  const message: WorkerResults = { t: "results", seqs, results };
  seqs = [];
  results = [];
  port!.postMessage(message);
}

function settle(seq: number, result: ApnsResult): void {
  seqs.push(seq);
  results.push(result);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

port.on("message", (m: ToWorker) => {
  switch (m.t) {
    case "identity":
      identities.set(m.identity.fingerprint, m.identity);
      break;
    case "push": {
      const identity = identities.get(m.fingerprint);
      for (let i = 0; i < m.seqs.length; i++) {
        const seq = m.seqs[i]!;
        if (!identity) {
          settle(seq, { status: 0, transportError: "push worker has no certificate for this push", latencyMs: 0 });
          continue;
        }
        void client.send(identity, m.development, m.tokens[i]!, m.magics[i]!).then((r) => settle(seq, r));
      }
      break;
    }
    case "gateway":
      client.useGateway(m.url, m.extraCaPem);
      break;
    case "close":
      void client.close().then(() => {
        flush();
        port!.postMessage({ t: "closed" });
      });
      break;
  }
});
