// latest.md: the report as markdown tables, targets first.
import { round, type Database, type Figure } from "../lib/figures.ts";
import type { BenchReport } from "./report.ts";
import { TARGETS } from "./targets.ts";

const DB_NAME: Record<Database, string> = { sqlite: "SQLite", postgres: "PostgreSQL" };
const MB = 1024 * 1024;

function n(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return "—";
  return round(x).toLocaleString("en-US");
}

/** Columns whose cells are all numbers (or "—") are right-aligned, the others left-aligned. */
function table(head: string[], rows: string[][]): string {
  const numeric = head.map((_, c) => rows.length > 0 && rows.every((r) => /^([\d.,]+|—)( |$)/.test(r[c] ?? "")));
  return [`| ${head.join(" | ")} |`, `|${numeric.map((num) => (num ? "---:" : "---")).join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

function verdict(f: Figure | undefined): string {
  if (!f) return "—";
  const mark = f.pass === undefined ? "" : f.pass ? " ✅" : " ❌";
  return `${n(f.value)} ${f.unit}${mark}`;
}

function targetText(t: { op: string; value: number }, unit: string): string {
  return `${t.op === "<=" ? "≤" : "≥"} ${t.value.toLocaleString("en-US")} ${unit}`;
}

export function renderMarkdown(r: BenchReport): string {
  const byId = new Map(r.figures.map((f) => [f.id, f]));
  const dbs = (["sqlite", "postgres"] as const).filter((d) => r.results[d]);
  const out: string[] = [];
  const m = r.machine;
  out.push(`# Orchard benchmarks (${r.mode} run)`);
  out.push("");
  out.push(
    `${r.startedAt.slice(0, 16).replace("T", " ")} UTC, ${Math.round(r.durationSeconds)} s; commit ${m.gitCommit ?? "?"}${m.gitDirty ? ` (with uncommitted changes to ${(m.gitDirtyFiles ?? []).slice(0, 5).join(", ")}${(m.gitDirtyFiles?.length ?? 0) > 5 ? ", …" : ""})` : ""}. ` +
      `${m.cores} cores (${m.cpuModel}), ${m.memoryGb} GB, Node ${m.node}, OpenSSL ${m.openssl}${r.postgresVersion ? `, PostgreSQL ${r.postgresVersion}` : ""}; ` +
      `load average ${m.loadAverageAtStart} at the start${m.loadAverageAtEnd !== undefined ? `, ${m.loadAverageAtEnd} at the end` : ""}. Server, database and load generator share the machine. Seed \`${r.seed}\`.` +
      (m.referenceRsaVerifyUs
        ? ` Reference workload (one RSA-2048 signature check, node:crypto, cached key): ${m.referenceRsaVerifyUs.start} µs of CPU at the start${m.referenceRsaVerifyUs.end !== undefined ? `, ${m.referenceRsaVerifyUs.end} µs at the end` : ""}; this shared virtual machine has measured it at 30 to 50 µs within minutes, and CPU-time figures move with it.`
        : "") +
      (m.serverLaunch
        ? ` The server was launched with${m.serverLaunch.nodeArgs ? ` node flags \`${m.serverLaunch.nodeArgs}\`` : ""}${m.serverLaunch.nodeArgs && m.serverLaunch.glibcTunables ? " and" : ""}${m.serverLaunch.glibcTunables ? ` \`GLIBC_TUNABLES=${m.serverLaunch.glibcTunables}\`` : ""}.`
        : " The server was launched with no node flags and glibc's default allocator settings."),
  );
  out.push("");

  out.push("## Targets");
  out.push("");
  const largest = (d: Database) => r.results[d]?.rounds.reduce((a, b) => Math.max(a, b.targets), 0) ?? 0;
  // The worst reading at 100,000: memory must not grow with the fleet, whatever the server was doing.
  const rssLargest = (d: Database) =>
    (r.results[d]?.rss ?? [])
      .filter((x) => x.enrollments >= 100_000)
      .map((x) => byId.get(`${d}.rss.${x.enrollments}.${x.phase}`))
      .reduce<Figure | undefined>((a, b) => (b && (!a || b.value > a.value) ? b : a), undefined);
  const cell = (d: Database, f: Figure | undefined, missing: string) => (r.results[d] ? (f ? verdict(f) : missing) : "skipped");
  const rows: string[][] = [
    ["peak idle connects/s", `${targetText(TARGETS.idleConnectsSqlite, "/s")} SQLite, ${targetText(TARGETS.idleConnectsPostgres, "/s")} PostgreSQL`, TARGETS.idleConnectsSqlite.source, ...dbs.map((d) => cell(d, byId.get(`${d}.idle.peak.perSecond`), "—"))],
    ["idle connects/s at the largest fleet", "as above", TARGETS.idleConnectsSqlite.source.split(" (")[0]!, ...dbs.map((d) => cell(d, byId.get(`${d}.idle.largest.perSecond`), "full run only"))],
    ["server CPU per idle connect (at the peak)", `${targetText(TARGETS.idleCpuUsSqlite, "µs")} on SQLite`, TARGETS.idleCpuUsSqlite.source, ...dbs.map((d) => cell(d, byId.get(`${d}.idle.peak.serverCpuUs`), "—"))],
    ["time to queue a command to 100,000", targetText(TARGETS.queue100kSeconds, "s"), TARGETS.queue100kSeconds.source, ...dbs.map((d) => cell(d, largest(d) >= 100_000 ? byId.get(`${d}.round.${largest(d)}.queueSeconds`) : undefined, "full run only"))],
    ["server RSS at 100,000 enrollments", targetText(TARGETS.rss100kMb, "MB"), TARGETS.rss100kMb.source, ...dbs.map((d) => cell(d, rssLargest(d), "full run only"))],
  ];
  out.push(table(["figure", "target", "source", ...dbs.map((d) => DB_NAME[d])], rows));
  const push = byId.get("push.perSecond");
  out.push("");
  out.push(`Push (no database): ${push ? `${verdict(push)} for ${r.results.push?.pushes.toLocaleString("en-US")} pushes, target ${targetText(TARGETS.pushesPerSecond, "/s")} (${TARGETS.pushesPerSecond.source})` : `not measured: ${r.skipped.find((s) => s.group === "Push")?.reason ?? "?"}`}.`);
  out.push("");

  const results = dbs.map((d) => r.results[d]!);
  if (results.length) {
    out.push("## Idle connects");
    out.push("");
    out.push("Signed Idle report to `PUT /mdm/connect` with nothing queued (HTTP 200, empty body), closed loop over keep-alive connections.");
    out.push("");
    out.push(
      table(
        ["database", "enrollments", "concurrent", "connects/s", "p50 ms", "p99 ms", "server CPU µs/connect", "server CPU s per 1,000", "PostgreSQL CPU µs/connect", "load generator CPU µs/connect"],
        results.flatMap((x) => x.idle.map((i) => [DB_NAME[x.database], n(i.fleet), String(i.concurrency), n(i.perSecond), n(i.p50Ms), n(i.p99Ms), n(i.serverCpuUs), n(i.serverCpuUs / 1000), n(i.databaseCpuUs), n(i.clientCpuUs)])),
      ),
    );
    out.push("");
    out.push("## Enrollment");
    out.push("");
    out.push(
      table(
        ["database", "how", "devices", "enrollments/s", "server CPU ms each", "PostgreSQL CPU ms each", "database bytes each"],
        results.flatMap((x) =>
          x.enrollment.map((e) => [
            DB_NAME[x.database],
            e.how === "scep" ? "SCEP + Authenticate + TokenUpdate" : e.how === "checkin" ? "Authenticate + TokenUpdate" : "cloned rows (shortcut)",
            `${n(e.devices)} (${e.fleet})`,
            e.how === "clone" ? "—" : n(e.perSecond),
            e.how === "clone" ? "—" : n(e.serverCpuMsPerDevice),
            e.how === "clone" ? "—" : n(e.databaseCpuMsPerDevice),
            n(e.bytesPerEnrollment),
          ]),
        ),
      ),
    );
    out.push("");
    out.push("## Command rounds");
    out.push("");
    out.push("One `DeviceInformation` queued to every enrollment by `POST /api/v1/commands`; each device sends Idle, gets the command, sends Acknowledged with QueryResponses and gets an empty 200; `GET /api/v1/commands/{uuid}` must then count every target acknowledged, and its pages (5,000 targets each) must list each one as acknowledged.");
    out.push("");
    out.push(
      table(
        ["database", "targets", "queue s", "round s", "devices/s", "server CPU µs/device", "PostgreSQL CPU µs/device", "status: counts s", "status: every target s", "largest status answer MB", "database bytes per result"],
        results.flatMap((x) =>
          x.rounds.map((o) => [DB_NAME[x.database], `${n(o.targets)} (${o.fleetDescription}${o.firstSight ? `; first sight of ${n(o.firstSight)} certificates` : ""})`, verdictOr(byId.get(`${x.database}.round.${o.targets}.queueSeconds`), o.queueSeconds), n(o.roundSeconds), n(o.devicesPerSecond), n(o.serverCpuUsPerDevice), n(o.databaseCpuUsPerDevice), n(o.verifySeconds), n(o.verifyAllPagesSeconds), n(o.statusResponseBytes / MB), n(o.databaseBytesPerResult)]),
        ),
      ),
    );
    out.push("");
    out.push("## Memory and storage");
    out.push("");
    out.push(
      table(
        ["database", "enrollments", "server RSS MB", "V8 heap in use MB", "when", "database MB"],
        results.flatMap((x) =>
          x.rss.map((s) => [DB_NAME[x.database], n(s.enrollments), verdictOr(byId.get(`${x.database}.rss.${s.enrollments}.${s.phase}`), s.bytes / MB), n(s.heapUsedBytes === undefined ? undefined : s.heapUsedBytes / MB), s.when, n(s.databaseBytes / MB)]),
        ),
      ),
    );
    out.push("");
  }

  for (const group of ["Mdm-Signature (in process)", "SCEP (in process)"]) {
    const fs = r.figures.filter((f) => f.group === group);
    if (!fs.length) continue;
    out.push(`## ${group}`);
    out.push("");
    out.push(table(["figure", "value", "note"], fs.map((f) => [f.label, `${n(f.value)} ${f.unit}`, f.note ?? ""])));
    out.push("");
  }

  const p = r.results.push;
  if (p) {
    out.push("## Push");
    out.push("");
    out.push(`From \`bench/push-throughput.ts\`: Orchard's APNs client sends MDM pushes over HTTP/2 + TLS (client certificate) to the local APNs endpoint running in another process, ${p.threads ? `from ${p.threads} push worker thread${p.threads === 1 ? "" : "s"}, the server's default on this machine (ORCHARD_PUSH_THREADS)` : "from the main thread"}. Sender and endpoint share the machine's cores.`);
    out.push("");
    out.push(table(["pushes", "failed", "seconds", "pushes/s", "p50 ms", "p99 ms", "sender CPU s", "endpoint CPU s", "sender RSS MB"], [[n(p.pushes), n(p.failed), n(p.seconds), verdict(push), n(p.latencyMs.p50), n(p.latencyMs.p99), n(p.clientCpuSeconds), p.endpointCpuSeconds === undefined ? "—" : n(p.endpointCpuSeconds), `${n(p.clientRssMb.before)} → ${n(p.clientRssMb.after)}`]]));
    out.push("");
  }

  if (r.skipped.length) {
    out.push("## Not measured");
    out.push("");
    for (const s of r.skipped) out.push(`- ${s.group}${s.database ? ` (${DB_NAME[s.database]})` : ""}: ${s.reason}`);
    out.push("");
  }
  out.push("## Method");
  out.push("");
  for (const line of r.method) out.push(`- ${line}`);
  out.push("");
  return out.join("\n");
}

function verdictOr(f: Figure | undefined, value: number): string {
  return f ? verdict(f).replace(/ (s|MB)(?= |$)/, "") : n(value);
}
