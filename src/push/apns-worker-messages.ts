// The messages between the push worker pool (main thread) and its workers.
import type { PushIdentity } from "./apns-client.ts";
import type { ApnsResult } from "./apns-response.ts";

/** Pushes with one certificate and gateway, as parallel arrays (cheaper to copy than an object per push). */
export interface PushBatch {
  t: "push";
  fingerprint: string;
  development: boolean;
  seqs: number[];
  tokens: string[];
  magics: string[];
}

export type ToWorker =
  | { t: "identity"; identity: PushIdentity }
  | PushBatch
  | { t: "gateway"; url: string; extraCaPem: string[] }
  | { t: "close" };

export interface WorkerResults {
  t: "results";
  seqs: number[];
  results: ApnsResult[];
}

export type FromWorker = WorkerResults | { t: "closed" };
