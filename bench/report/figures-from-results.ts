// Turns the suite's structured results into the flat list of figures (value, unit, target, pass/fail) that
// latest.json carries and the markdown summarises.
import { figure, round, type Database, type Figure } from "../lib/figures.ts";
import type { DatabaseResults } from "../scenarios/server-suite.ts";
import type { PushResult } from "../scenarios/push.ts";
import { TARGETS } from "./targets.ts";

const MB = 1024 * 1024;

export function serverFigures(r: DatabaseResults): Figure[] {
  const db: Database = r.database;
  const out: Figure[] = [];
  const f = (x: Omit<Figure, "database" | "pass">) => out.push(figure({ ...x, database: db }));

  for (const e of r.enrollment) {
    if (e.how === "clone") continue;
    const what = e.how === "scep" ? "SCEP + Authenticate + TokenUpdate" : "Authenticate + TokenUpdate (identity from the bench CA)";
    f({ id: `${db}.enroll.${e.how}.${e.devices}.perSecond`, group: "Enrollment", label: `${what}: enrollments/s`, value: round(e.perSecond), unit: "/s", note: `${e.fleet}` });
    f({ id: `${db}.enroll.${e.how}.${e.devices}.serverCpuMs`, group: "Enrollment", label: `${what}: server CPU per enrollment`, value: round(e.serverCpuMsPerDevice), unit: "ms" });
  }
  for (const e of r.enrollment) {
    const what = e.how === "scep" ? "SCEP-issued certificate record + enrollment row + indexes" : e.how === "checkin" ? "enrollment row + indexes" : "cloned enrollment row + indexes";
    f({ id: `${db}.enroll.${e.how}.${e.devices}.bytesPerEnrollment`, group: "Database", label: `database bytes per enrollment (${what}), ${e.devices.toLocaleString("en-US")} devices`, value: Math.round(e.bytesPerEnrollment), unit: "B" });
  }

  for (const i of r.idle) {
    const key = `${db}.idle.n${i.fleet}.c${i.concurrency}`;
    f({ id: `${key}.perSecond`, group: "Idle connects", label: `idle connects/s, ${i.concurrency} concurrent, ${i.fleet} enrollments`, value: round(i.perSecond), unit: "/s" });
    f({ id: `${key}.p50Ms`, group: "Idle connects", label: `p50 latency, ${i.concurrency} concurrent`, value: round(i.p50Ms), unit: "ms" });
    f({ id: `${key}.p99Ms`, group: "Idle connects", label: `p99 latency, ${i.concurrency} concurrent`, value: round(i.p99Ms), unit: "ms" });
    f({ id: `${key}.serverCpuUs`, group: "Idle connects", label: `server CPU per idle connect, ${i.concurrency} concurrent`, value: round(i.serverCpuUs), unit: "µs" });
    f({ id: `${key}.cpuSecondsPer1000`, group: "Idle connects", label: `server CPU seconds per 1,000 connects, ${i.concurrency} concurrent`, value: round(i.serverCpuUs / 1000), unit: "s" });
  }
  const peak = peakIdle(r);
  if (peak) {
    f({
      id: `${db}.idle.peak.perSecond`,
      group: "Idle connects",
      label: "peak idle connects/s (best of 1, 8, 32, 128 concurrent)",
      value: round(peak.perSecond),
      unit: "/s",
      target: db === "sqlite" ? TARGETS.idleConnectsSqlite : TARGETS.idleConnectsPostgres,
      note: `at ${peak.concurrency} concurrent, ${peak.fleetDescription}`,
    });
    f({
      id: `${db}.idle.peak.serverCpuUs`,
      group: "Idle connects",
      label: "server CPU per idle connect (at the peak)",
      value: round(peak.serverCpuUs),
      unit: "µs",
      ...(db === "sqlite" ? { target: TARGETS.idleCpuUsSqlite } : {}),
      note: peak.databaseCpuUs !== undefined ? `plus ${round(peak.databaseCpuUs)} µs in PostgreSQL's backends` : "SQLite runs inside the server process",
    });
  }

  const largest = r.idle[r.idle.length - 1];
  if (largest && peak && largest.fleet > peak.fleet) {
    f({
      id: `${db}.idle.largest.perSecond`,
      group: "Idle connects",
      label: `idle connects/s at ${largest.fleet.toLocaleString("en-US")} enrollments (${largest.concurrency} concurrent)`,
      value: round(largest.perSecond),
      unit: "/s",
      target: db === "sqlite" ? TARGETS.idleConnectsSqlite : TARGETS.idleConnectsPostgres,
      note: `${round(largest.serverCpuUs)} µs server CPU per connect; ${largest.fleetDescription}`,
    });
  }

  for (const x of r.rounds) {
    const key = `${db}.round.${x.targets}`;
    f({ id: `${key}.queueSeconds`, group: "Command round", label: `time to queue one command to ${x.targets.toLocaleString("en-US")}`, value: round(x.queueSeconds), unit: "s", ...(x.targets >= 100_000 ? { target: TARGETS.queue100kSeconds } : {}) });
    f({ id: `${key}.roundSeconds`, group: "Command round", label: `round to ${x.targets.toLocaleString("en-US")}: every device connects, receives, acknowledges`, value: round(x.roundSeconds), unit: "s", note: x.fleetDescription });
    f({ id: `${key}.devicesPerSecond`, group: "Command round", label: `round to ${x.targets.toLocaleString("en-US")}: devices/s`, value: round(x.devicesPerSecond), unit: "/s" });
    f({ id: `${key}.serverCpuUs`, group: "Command round", label: `round to ${x.targets.toLocaleString("en-US")}: server CPU per device (2 requests)`, value: round(x.serverCpuUsPerDevice), unit: "µs" });
    f({ id: `${key}.bytesPerResult`, group: "Database", label: `database bytes per stored result (round to ${x.targets.toLocaleString("en-US")})`, value: Math.round(x.databaseBytesPerResult), unit: "B" });
  }

  for (const m of r.rss) {
    f({
      id: `${db}.rss.${m.enrollments}.${m.phase}`,
      group: "Memory",
      label: `server RSS at ${m.enrollments.toLocaleString("en-US")} enrollments, ${m.when}`,
      value: round(m.bytes / MB),
      unit: "MB",
      ...(m.enrollments >= 100_000 ? { target: TARGETS.rss100kMb } : {}),
      ...(m.heapUsedBytes !== undefined ? { note: `V8 heap in use ${round(m.heapUsedBytes / MB)} MB` } : {}),
    });
  }
  return out;
}

export function peakIdle(r: DatabaseResults): DatabaseResults["idle"][number] | undefined {
  const first = r.idle[0];
  if (!first) return undefined;
  // The sweep over concurrencies is on the first fleet; later stages add single points.
  const sweep = r.idle.filter((i) => i.fleet === first.fleet);
  return sweep.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
}

export function pushFigures(p: PushResult): Figure[] {
  return [
    figure({ id: "push.perSecond", group: "Push", label: `pushes/s to the local APNs endpoint (${p.pushes.toLocaleString("en-US")} tokens)`, value: round(p.pushesPerSecond), unit: "/s", target: TARGETS.pushesPerSecond, note: `${p.failed} failed; HTTP/2 + TLS, endpoint in another process` }),
    figure({ id: "push.seconds", group: "Push", label: `time for ${p.pushes.toLocaleString("en-US")} pushes`, value: round(p.seconds), unit: "s" }),
    figure({ id: "push.p99Ms", group: "Push", label: "push latency p99 (all in flight at once)", value: round(p.latencyMs.p99), unit: "ms" }),
    figure({ id: "push.clientRssMb", group: "Push", label: "sender RSS after the run", value: round(p.clientRssMb.after), unit: "MB", note: `${round(p.clientRssMb.before)} MB before` }),
  ];
}
