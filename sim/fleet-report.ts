// How fleet runs look on a terminal: a progress bar on stderr while running, and a summary table (or JSON).
import type { FleetProgress, FleetRunSummary } from "./fleet-runner.ts";
import type { FleetStats } from "./fleet-store.ts";

export class ProgressBar {
  private last = 0;
  private lastLine = 0;

  /** `online`: a run without an end (orchard sim run), shown as counters rather than a bar. */
  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly online = false,
  ) {}

  update(p: FleetProgress): void {
    const now = Date.now();
    // A terminal gets a redrawn bar 10 times a second; a log file a line every 5 seconds.
    if (this.out.isTTY ? now - this.last < 100 : now - this.lastLine < 5000) return;
    this.last = now;
    this.lastLine = now;
    this.draw(p);
  }

  finish(p?: FleetProgress): void {
    if (p) this.draw(p);
    if (this.out.isTTY) this.out.write("\n");
  }

  private draw(p: FleetProgress): void {
    const fraction = p.total === 0 ? 1 : p.done / p.total;
    const width = 30;
    const filled = Math.round(fraction * width);
    const rate = p.done / Math.max(p.elapsedMs / 1000, 1e-3);
    const eta = rate > 0 ? (p.total - p.done) / rate : 0;
    const line = this.online
      ? `${this.label}: ${p.total} devices online, ${p.done} connects (${rate.toFixed(1)}/s), ${p.failed} failed, ${p.requests} requests, ${formatSeconds(p.elapsedMs / 1000)} elapsed`
      : `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${p.done}/${p.total} ${(fraction * 100).toFixed(0)}%  ${rate.toFixed(1)} devices/s  ${p.failed} failed  eta ${formatSeconds(eta)}`;
    if (this.out.isTTY) this.out.write(`\r${line}\x1b[K`);
    else this.out.write(`${line}\n`);
  }
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
}

const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} ms`;

export function formatSummary(s: FleetRunSummary): string {
  const head =
    s.operation === "run" ? `run: ${s.devices} devices online, ${s.ok} connects ok, ${s.failed} failed` : `${s.operation}: ${s.devices} devices, ${s.ok} ok, ${s.failed} failed`;
  const lines = [
    `${head} in ${(s.durationMs / 1000).toFixed(2)} s${s.workers ? ` (${s.workers} workers)` : ""}`,
    `  throughput: ${s.devicesPerSecond.toFixed(1)} ${s.operation === "run" ? "connects" : "devices"}/s, ${s.requestsPerSecond.toFixed(1)} MDM requests/s (${s.requests} requests)`,
    `  per request: p50 ${ms(s.requestLatency.p50)}  p90 ${ms(s.requestLatency.p90)}  p99 ${ms(s.requestLatency.p99)}  max ${ms(s.requestLatency.max)}`,
    `  per ${s.operation === "run" ? "connect" : "device"}:  p50 ${ms(s.deviceLatency.p50)}  p90 ${ms(s.deviceLatency.p90)}  p99 ${ms(s.deviceLatency.p99)}  max ${ms(s.deviceLatency.max)}`,
  ];
  const commands = Object.entries(s.commands).sort((a, b) => b[1] - a[1]);
  if (commands.length) {
    lines.push("  commands:");
    for (const [k, n] of commands) lines.push(`    ${String(n).padStart(7)}  ${k}`);
  }
  if (s.errors.length) {
    lines.push("  errors:");
    for (const e of s.errors.slice(0, 10)) lines.push(`    ${String(e.count).padStart(7)}  ${e.error}`);
    if (s.errors.length > 10) lines.push(`    … and ${s.errors.length - 10} other causes`);
  }
  return lines.join("\n");
}

export function formatStats(path: string, s: FleetStats): string {
  const lines = [`fleet ${path}: ${s.total} devices, ${s.enrolled} enrolled`];
  for (const [platform, p] of Object.entries(s.byPlatform)) {
    lines.push(`  ${platform.padEnd(9)} ${String(p.total).padStart(7)} devices  ${String(p.enrolled).padStart(7)} enrolled  ${String(p.supervised).padStart(7)} supervised`);
  }
  for (const [server, n] of Object.entries(s.servers)) lines.push(`  server ${server}: ${n} devices`);
  if (s.lastConnectAt) lines.push(`  last connect: ${s.lastConnectAt}`);
  if (s.erasures) lines.push(`  erasures so far: ${s.erasures}`);
  return lines.join("\n");
}
