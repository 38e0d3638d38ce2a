// The unit of the benchmark report: one measured figure, the target an issue sets for it (if any) and
// whether it was met. Scenarios return figures; the report renders them as JSON, markdown and a chart.

export type Database = "sqlite" | "postgres";

export interface Target {
  /** The figure must be at most (<=) or at least (>=) `value`. */
  op: "<=" | ">=";
  value: number;
  /** Where the target comes from, e.g. "issue 8 §3". */
  source: string;
}

export interface Figure {
  /** Stable key for machines, e.g. "sqlite.idle.c32.connectsPerSecond". */
  id: string;
  /** The report section, e.g. "Idle connects". */
  group: string;
  /** What it is, for humans. */
  label: string;
  database?: Database;
  value: number;
  unit: string;
  target?: Target;
  /** Undefined when there is no target. */
  pass?: boolean;
  /** Context a reader needs: fleet kind, key type, sample size. */
  note?: string;
}

export function figure(f: Omit<Figure, "pass">): Figure {
  if (!f.target) return f;
  const pass = f.target.op === "<=" ? f.value <= f.target.value : f.value >= f.target.value;
  return { ...f, pass };
}

/** Rounds for display and JSON: three significant digits, at most two decimals. */
export function round(n: number): number {
  if (!Number.isFinite(n)) return n;
  const abs = Math.abs(n);
  if (abs >= 100) return Math.round(n);
  if (abs >= 10) return Math.round(n * 10) / 10;
  return Math.round(n * 100) / 100;
}

/** A figure that could not be measured (e.g. PostgreSQL unreachable): kept so the report says why. */
export interface Skipped {
  group: string;
  database?: Database;
  reason: string;
}
