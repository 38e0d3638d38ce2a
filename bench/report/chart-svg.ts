// latest.svg: idle connects/s by concurrency for each database as grouped bars, p99 latency written above each
// bar, and the issues' throughput targets as dashed lines. Plain SVG text, no dependencies.
import type { Database } from "../lib/figures.ts";
import type { BenchReport } from "./report.ts";
import { TARGETS } from "./targets.ts";

const COLORS: Record<Database, string> = { sqlite: "#3b7dd8", postgres: "#e07b39" };
const NAMES: Record<Database, string> = { sqlite: "SQLite", postgres: "PostgreSQL" };

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function renderChart(r: BenchReport): string | undefined {
  const dbs = (["sqlite", "postgres"] as const).filter((d) => r.results[d]?.idle.length);
  if (!dbs.length) return undefined;
  // The concurrency sweep is on the first fleet of each database.
  const series = dbs.map((d) => {
    const idle = r.results[d]!.idle;
    return { d, points: idle.filter((i) => i.fleet === idle[0]!.fleet) };
  });
  const concurrencies = [...new Set(series.flatMap((s) => s.points.map((p) => p.concurrency)))].sort((a, b) => a - b);
  const targets = [
    { value: TARGETS.idleConnectsSqlite.value, d: "sqlite" as const },
    { value: TARGETS.idleConnectsPostgres.value, d: "postgres" as const },
  ].filter((t) => dbs.includes(t.d));
  const max = Math.max(...series.flatMap((s) => s.points.map((p) => p.perSecond)), ...targets.map((t) => t.value)) * 1.15;
  const W = 760;
  const H = 420;
  const left = 70;
  const right = 20;
  const top = 64;
  const bottom = 100;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const groupW = plotW / concurrencies.length;
  const barW = Math.min(60, (groupW * 0.7) / dbs.length);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Orchard: idle connects per second by concurrent devices</text>`);
  parts.push(`<text x="${W / 2}" y="40" text-anchor="middle" font-size="11" fill="#555">${esc(`${r.mode} run, ${r.startedAt.slice(0, 10)}, ${r.machine.cores} cores shared by server, database and device fleet; p99 latency above each bar`)}</text>`);
  const step = niceStep(max / 5);
  for (let v = 0; v <= max; v += step) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v.toLocaleString("en-US")}</text>`);
  }
  // Target lines first, so that the bars and their labels are drawn over them.
  for (const t of targets) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(t.value)}" y2="${y(t.value)}" stroke="${COLORS[t.d]}" stroke-dasharray="6 4" stroke-width="1.5"/>`);
  }
  for (const [gi, c] of concurrencies.entries()) {
    const gx = left + gi * groupW + (groupW - barW * dbs.length) / 2;
    for (const [si, s] of series.entries()) {
      const p = s.points.find((q) => q.concurrency === c);
      if (!p) continue;
      const x = gx + si * barW;
      parts.push(`<rect x="${x + 2}" y="${y(p.perSecond)}" width="${barW - 4}" height="${top + plotH - y(p.perSecond)}" fill="${COLORS[s.d]}"><title>${NAMES[s.d]}, ${c} concurrent: ${Math.round(p.perSecond)}/s, p50 ${p.p50Ms.toFixed(1)} ms, p99 ${p.p99Ms.toFixed(1)} ms</title></rect>`);
      parts.push(`<text x="${x + barW / 2}" y="${y(p.perSecond) - 16}" text-anchor="middle" font-size="11">${Math.round(p.perSecond).toLocaleString("en-US")}</text>`);
      parts.push(`<text x="${x + barW / 2}" y="${y(p.perSecond) - 4}" text-anchor="middle" font-size="9" fill="#666">p99 ${p.p99Ms < 10 ? p.p99Ms.toFixed(1) : Math.round(p.p99Ms)} ms</text>`);
    }
    parts.push(`<text x="${left + gi * groupW + groupW / 2}" y="${top + plotH + 18}" text-anchor="middle">${c}</text>`);
  }
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${left + plotW / 2}" y="${top + plotH + 38}" text-anchor="middle" fill="#333">concurrent devices (keep-alive connections)</text>`);
  parts.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">idle connects per second</text>`);
  // Legend: the fleets on one line, the targets on the next.
  let lx = left;
  for (const s of series) {
    const label = `${NAMES[s.d]} (${s.points[0]!.fleet.toLocaleString("en-US")} enrollments)`;
    parts.push(`<rect x="${lx}" y="${H - 42}" width="12" height="10" fill="${COLORS[s.d]}"/>`);
    parts.push(`<text x="${lx + 18}" y="${H - 33}">${esc(label)}</text>`);
    lx += 40 + label.length * 6.5;
  }
  lx = left;
  for (const t of targets) {
    const label = `${NAMES[t.d]} target ${t.value.toLocaleString("en-US")}/s`;
    parts.push(`<line x1="${lx}" x2="${lx + 24}" y1="${H - 14}" y2="${H - 14}" stroke="${COLORS[t.d]}" stroke-dasharray="6 4" stroke-width="1.5"/>`);
    parts.push(`<text x="${lx + 30}" y="${H - 10}">${esc(label)}</text>`);
    lx += 50 + label.length * 6.5;
  }
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}
