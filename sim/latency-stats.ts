// Latency summaries for fleet runs: count, mean and nearest-rank percentiles over milliseconds.
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarizeLatencies(values: readonly number[] | Float64Array): LatencySummary {
  const n = values.length;
  if (n === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  // Nearest-rank: the smallest value with at least p% of the values at or below it.
  const rank = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  return { count: n, mean: sum / n, p50: rank(50), p90: rank(90), p99: rank(99), max: sorted[n - 1]! };
}

/** A growable buffer of numbers that does not box each value. */
export class NumberBuffer {
  private data = new Float64Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }

  pushAll(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) this.push(values[i]!);
  }

  values(): Float64Array {
    return this.data.subarray(0, this.length);
  }

  /** Takes the values out, leaving the buffer empty. */
  drain(): Float64Array {
    const out = this.data.slice(0, this.length);
    this.length = 0;
    return out;
  }
}
