// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
// exposition format (version 0.0.4). Kept in-process; each replica exposes its own.

import { getHeapSpaceStatistics } from "node:v8";

type Labels = Record<string, string>;

/** Label sets whose series key is already known (see labelSet). */
const knownKeys = new WeakMap<Labels, string>();

function labelKey(labels: Labels): string {
  const known = knownKeys.get(labels);
  if (known !== undefined) return known;
  const keys = Object.keys(labels).sort();
  return keys.map((k) => `${k}="${escapeLabel(labels[k] ?? "")}"`).join(",");
}

/**
 * A label set to reuse on a hot path: its series key is computed once here rather than on every inc/observe.
 * The object must not be changed afterwards.
 */
export function labelSet(labels: Labels): Readonly<Labels> {
  const frozen = Object.freeze({ ...labels });
  knownKeys.set(frozen, labelKey(frozen));
  return frozen;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

interface Metric {
  name: string;
  help: string;
  render(): string[];
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines;
  }
}

export class Gauge implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, private readonly collect?: () => Array<[Labels, number]>) {}
  set(value: number, labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    if (this.collect) for (const [labels, v] of this.collect()) this.values.set(labelKey(labels), v);
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines;
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, private readonly buckets: number[]) {}
  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= (this.buckets[i] ?? Infinity)) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
    s.count += 1;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const prefix = k ? `${k},` : "";
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{${prefix}le="${b}"} ${s.counts[i] ?? 0}`));
      lines.push(`${this.name}_bucket{${prefix}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return lines;
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();

  counter(name: string, help: string): Counter {
    return this.register(new Counter(name, help));
  }
  gauge(name: string, help: string, collect?: () => Array<[Labels, number]>): Gauge {
    return this.register(new Gauge(name, help, collect));
  }
  histogram(name: string, help: string, buckets: number[]): Histogram {
    return this.register(new Histogram(name, help, buckets));
  }

  private register<M extends Metric>(m: M): M {
    const existing = this.metrics.get(m.name);
    if (existing) return existing as M;
    this.metrics.set(m.name, m);
    return m;
  }

  render(): string {
    return `${[...this.metrics.values()].flatMap((m) => m.render()).join("\n")}\n`;
  }
}

/** Process-level metrics every Prometheus user expects. */
export function registerProcessMetrics(registry: MetricsRegistry): void {
  const start = Date.now() / 1000 - process.uptime();
  registry.gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", () => {
    const u = process.cpuUsage();
    return [[{}, (u.user + u.system) / 1e6]];
  });
  registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", () => [[{}, process.memoryUsage.rss()]]);
  registry.gauge("nodejs_heap_used_bytes", "V8 heap used in bytes.", () => [[{}, process.memoryUsage().heapUsed]]);
  // Resident memory = V8's heap spaces (committed) + native allocations (external, and what node and its
  // libraries malloc) + code: the per-space figures tell which of them grows.
  registry.gauge("nodejs_heap_space_size_total_bytes", "V8 heap memory committed, by space.", () => getHeapSpaceStatistics().map((s) => [{ space: s.space_name }, s.space_size]));
  registry.gauge("nodejs_heap_space_size_used_bytes", "V8 heap memory in use, by space.", () => getHeapSpaceStatistics().map((s) => [{ space: s.space_name }, s.space_used_size]));
  registry.gauge("nodejs_external_memory_bytes", "Memory outside the V8 heap held by JavaScript objects (buffers), in bytes.", () => [[{}, process.memoryUsage().external]]);
  registry.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", () => [[{}, Math.round(start)]]);
}
