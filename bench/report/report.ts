// The shape of bench/results/latest.json.
import type { Figure, Skipped } from "../lib/figures.ts";
import type { MachineFacts } from "../lib/machine.ts";
import type { DatabaseResults } from "../scenarios/server-suite.ts";
import type { PushResult } from "../scenarios/push.ts";

export interface BenchReport {
  suite: "orchard-bench";
  schemaVersion: 1;
  mode: "quick" | "full";
  startedAt: string;
  durationSeconds: number;
  seed: string;
  machine: MachineFacts;
  postgresVersion?: string;
  /** Every figure, with its target and pass/fail where an issue sets one. */
  figures: Figure[];
  results: {
    sqlite?: DatabaseResults;
    postgres?: DatabaseResults;
    mdmSignature?: unknown;
    scep?: unknown;
    push?: PushResult;
  };
  skipped: Skipped[];
  /** How the figures were made: fleets, shortcuts, key types. */
  method: string[];
}
