// The targets the issues set for this 2-core machine, with the fleet on the same machine.
import type { Target } from "../lib/figures.ts";

export const TARGETS = {
  idleCpuUsSqlite: { op: "<=", value: 250, source: "issue 8 §3" },
  idleConnectsSqlite: { op: ">=", value: 1000, source: "issue 8 §3 (NanoMDM file store: ~500, issue 5)" },
  idleConnectsPostgres: { op: ">=", value: 600, source: "issue 8 §3 (NanoMDM PostgreSQL: ~200, issue 5)" },
  queue100kSeconds: { op: "<=", value: 10, source: "issue 8 §3" },
  rss100kMb: { op: "<=", value: 300, source: "issue 8 §3" },
  pushesPerSecond: { op: ">=", value: 10_000, source: "issue 6 (100,000 pushes in under 10 s)" },
} satisfies Record<string, Target>;
