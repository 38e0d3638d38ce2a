// `npm run bench [-- --quick] [--skip-postgres] [--only sqlite,postgres,crypto,push] [--out DIR]`
//
// Runs the benchmark suite and writes DIR/latest.json, DIR/latest.md and DIR/latest.svg (default
// bench/results), printing the JSON and the markdown. --quick (under 2 minutes on 2 cores) measures a
// 1,000-enrollment fleet; the full run adds 10,000 and 100,000 enrollments (about 20 minutes).
// PostgreSQL: ORCHARD_BENCH_DATABASE_URL (default postgres://orchard:orchard@127.0.0.1:5432/postgres) must let
// the bench create and drop a scratch database; when no server answers, PostgreSQL is skipped with a note.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { seededRandom } from "../sim/seeded-random.ts";
import type { Database, Figure, Skipped } from "./lib/figures.ts";
import { createLocalAuthority } from "./lib/local-identities.ts";
import { referenceRsaVerifyUs } from "./lib/calibration.ts";
import { currentLoadAverage, machineFacts } from "./lib/machine.ts";
import { DEFAULT_ADMIN_URL, probePostgres } from "./lib/postgres-scratch.ts";
import { buildServer } from "./lib/server-process.ts";
import { renderChart } from "./report/chart-svg.ts";
import { pushFigures, serverFigures } from "./report/figures-from-results.ts";
import { renderMarkdown } from "./report/markdown.ts";
import type { BenchReport } from "./report/report.ts";
import { mdmSignatureBench } from "./scenarios/mdm-signature.ts";
import { pushThroughput } from "./scenarios/push.ts";
import { scepIssuanceBench } from "./scenarios/scep-issuance.ts";
import { serverSuite, type ServerPlan, type Stage } from "./scenarios/server-suite.ts";

const SEED = "orchard-bench-1";
const PARTS = ["sqlite", "postgres", "crypto", "push"] as const;
type Part = (typeof PARTS)[number];

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    "skip-postgres": { type: "boolean", default: false },
    only: { type: "string" },
    out: { type: "string", default: "bench/results" },
  },
});
const quick = values.quick === true;
const only = new Set<Part>((values.only ?? PARTS.join(",")).split(",").map((s) => s.trim()) as Part[]);
for (const p of only) if (!PARTS.includes(p)) throw new Error(`--only takes ${PARTS.join(", ")}; got "${p}"`);
if (values["skip-postgres"]) only.delete("postgres");

const log = (s: string) => console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}`);
const t0 = performance.now();
const startedAt = new Date().toISOString();
// Bounded as a whole: a run that hangs is stopped (the exit hook kills every server it started).
const watchdog = setTimeout(
  () => {
    console.error(`bench: gave up after ${quick ? 5 : 45} minutes`);
    process.exit(2);
  },
  (quick ? 5 : 45) * 60_000,
);

const machine = machineFacts();
machine.referenceRsaVerifyUs = { start: await referenceRsaVerifyUs() };
const figures: Figure[] = [];
const skipped: Skipped[] = [];
const report: BenchReport = { suite: "orchard-bench", schemaVersion: 1, mode: quick ? "quick" : "full", startedAt, durationSeconds: 0, seed: SEED, machine, figures, results: {}, skipped, method: [] };
let failures = 0;

if (only.has("crypto")) {
  log("Mdm-Signature verification, in process");
  const sig = await mdmSignatureBench(quick ? { certificates: 200, cachedVerifications: 4_000 } : { certificates: 2_000, cachedVerifications: 30_000 });
  figures.push(...sig.figures);
  report.results.mdmSignature = sig.raw;
  log("SCEP issuance, in process");
  const scep = await scepIssuanceBench({ issuances: quick ? 60 : 300 });
  figures.push(...scep.figures);
  report.results.scep = scep.raw;
}

// Before the database suites: push needs no database, and after them PostgreSQL may still be writing out the
// scratch database's pages (a checkpoint) on the cores the push figure is measured on.
if (only.has("push")) {
  const count = quick ? 20_000 : 100_000;
  log(`push throughput (${count} pushes)`);
  const p = await pushThroughput(count, 180_000);
  if ("skipped" in p) skipped.push({ group: "Push", reason: p.skipped });
  else {
    report.results.push = p;
    figures.push(...pushFigures(p));
  }
}

const adminUrl = process.env.ORCHARD_BENCH_DATABASE_URL ?? DEFAULT_ADMIN_URL;
const databases: Database[] = [];
if (only.has("sqlite")) databases.push("sqlite");
if (only.has("postgres")) {
  const probe = await probePostgres(adminUrl);
  if (probe.ok) {
    databases.push("postgres");
    report.postgresVersion = probe.version;
  } else {
    skipped.push({ group: "Server suite", database: "postgres", reason: `no PostgreSQL server at ${redact(adminUrl)} (${probe.reason}); set ORCHARD_BENCH_DATABASE_URL to a role that may create databases` });
  }
}

if (databases.length) {
  const work = mkdtempSync(join(tmpdir(), "orchard-bench-ca-"));
  try {
    log("issuing the local fleet's identities");
    const authority = await createLocalAuthority(join(work, "bench-device-cas.pem"));
    log("building the server (npm run build): the bench runs it as production does, without the TypeScript loader");
    const plan = { ...planFor(quick, authority, join(work, "bench-device-cas.pem")), entry: buildServer() };
    log(`local identities ready (${plan.stages.reduce((a, s) => a + s.devices.length, 0)} devices)`);
    for (const db of databases) {
      try {
        const r = await serverSuite(db, plan, adminUrl, log);
        report.results[db] = r;
        figures.push(...serverFigures(r));
      } catch (e) {
        failures++;
        const reason = e instanceof Error ? (e.stack ?? e.message) : String(e);
        log(`${db} suite failed: ${reason}`);
        skipped.push({ group: "Server suite", database: db, reason: `failed: ${e instanceof Error ? e.message : String(e)}` });
      }
    }
    report.method.push(...methodNotes(quick, plan));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

report.durationSeconds = (performance.now() - t0) / 1000;
machine.loadAverageAtEnd = currentLoadAverage();
machine.referenceRsaVerifyUs.end = await referenceRsaVerifyUs();
report.method.push(...commonNotes());
const out = resolve(values.out ?? "bench/results");
mkdirSync(out, { recursive: true });
const json = JSON.stringify(report, null, 2);
const md = renderMarkdown(report);
writeFileSync(join(out, "latest.json"), json + "\n");
writeFileSync(join(out, "latest.md"), md);
const svg = renderChart(report);
if (svg) writeFileSync(join(out, "latest.svg"), svg);
console.log(json);
console.log();
console.log(md);
log(`wrote ${join(out, "latest.json")}, latest.md${svg ? ", latest.svg" : ""}`);
clearTimeout(watchdog);
process.exitCode = failures > 0 ? 1 : 0;

function planFor(quick: boolean, authority: Awaited<ReturnType<typeof createLocalAuthority>>, caFile: string): ServerPlan {
  const rnd = seededRandom(`${SEED}/local-fleet`);
  const scepDevices = quick ? 100 : 500;
  // The first 1,000 are all RSA-2048 (SCEP-enrolled, then from the bench CA): the idle sweep and the 1,000 round.
  const stages: Stage[] = [{ devices: authority.issue("rsa-2048-local", 1_000 - scepDevices, rnd, 0), how: "checkin", round: true, idle: [1, 8, 32, 128] }];
  if (!quick) {
    stages.push(
      { devices: authority.issue("p256-local", 9_000, rnd, 1_000), how: "checkin", round: true, idle: [32] },
      { devices: authority.issue("p256-local", 90_000, rnd, 10_000), how: "clone", round: true, idle: [32] },
    );
  }
  return {
    scepDevices,
    scepConcurrency: 8,
    checkinConcurrency: 16,
    roundConcurrency: 32,
    idleSeconds: quick ? 2 : 6,
    stages,
    extraCaFile: caFile,
    phaseDeadlineMs: quick ? 90_000 : 15 * 60_000,
    seed: SEED,
  };
}

function methodNotes(quick: boolean, plan: ServerPlan): string[] {
  const sig = (id: string) => figures.find((f) => f.id === id)?.value;
  const rsa = sig("mdmSignature.rsa2048.cached.cpuUs");
  const p256 = sig("mdmSignature.p256.cached.cpuUs");
  const cost = rsa !== undefined && p256 !== undefined ? ` (in process here: ${rsa} µs cached for RSA-2048, ${p256} µs for P-256)` : "";
  const notes = [
    `Server: \`orchard serve\` as a child process, ${plan.entry ? "compiled by \`npm run build\` and run as \`node dist/src/cli/main.js serve\` (as in production; \`npm start\` adds the TypeScript loader's thread, ~45 MB and some CPU) with the deployment guide's node flags and \`GLIBC_TUNABLES\` (the environment may set its own)" : "from the TypeScript sources (bin/orchard.js)"}, plain HTTP on loopback, a fresh data folder; SQLite in it, or a scratch PostgreSQL database created and dropped by the bench. Server CPU is read from /proc/PID/stat (10 ms ticks), PostgreSQL's as the sum over the backends connected to the scratch database. Latencies are measured by the load generator, which runs on the same 2 cores.`,
    `Enrollment rate: ${plan.scepDevices} devices, ${plan.scepConcurrency} at a time, each SCEP PKCSReq (RSA-2048 key from a pool of 8, AES-256, SHA-256, the profile's challenge) then Authenticate and TokenUpdate signed with Mdm-Signature. Its database bytes include the issued-certificate record.`,
    `Idle connects at 1/8/32/128 and the 1,000 round: the ${plan.scepDevices} SCEP-enrolled devices + ${1_000 - plan.scepDevices} devices whose RSA-2048 identities come from the bench's own CA (trusted via ORCHARD_EXTRA_CA_FILES) and that enroll by real Authenticate + TokenUpdate. Every device key is RSA-2048, as Apple devices get from SCEP.`,
    `Shortcut for large fleets: identities issued locally by the bench's own P-256 CA, which the server trusts through ORCHARD_EXTRA_CA_FILES; each device still signs every check-in and connect with Mdm-Signature and the server verifies it against that CA (the path once per certificate, the signature every time). Device keys come from small pools (8 RSA-2048, 64 P-256); every certificate is distinct.`,
  ];
  if (!quick) {
    notes.push(
      `10,000: those 1,000 RSA-2048 devices + 9,000 devices with P-256 keys from the bench's CA, enrolled by real Authenticate + TokenUpdate (16 at a time). P-256 keeps 100,000 devices' signing cheap for the load generator, but costs the server more per verification than RSA-2048${cost}: per-connect CPU at 10,000 and 100,000 is therefore a little pessimistic for an all-RSA fleet.`,
      `100,000: 90,000 more P-256 devices whose enrollment rows are cloned in the database from a row the server wrote for a real P-256 device (each with its own UDID, serial, push token and magic, and its own certificate's fingerprint); enrolling them by check-in would take several minutes per database at the rate measured above. The bench checks that a real enrollment writes no other table that cloning would miss (reported per stage). Every one of the 100,000 devices then connects for real in the command round, which is therefore the server's first sight of 90,000 certificates (path building included, as after a restart; a real device would have shown its certificate at Authenticate); the idle connects at 100,000 come after it, in the steady state.`,
    );
  }
  notes.push(
    `Command round: ${plan.roundConcurrency} devices at a time; the acknowledgements are signed after the command is queued (they carry its CommandUUID) and before the round's clock starts. Command bodies come from the API (\`DeviceInformation\`, three queries); ORCHARD_API_BODY_LIMIT is raised to 32 MB so one request can name 100,000 targets.`,
    `Idle connects: each worker draws devices from the fleet with its own seeded random sequence, ${plan.idleSeconds} s per concurrency. Before the first measurement the server is warmed up, unmeasured, by 1 s of idle connects and a command round to 300 devices (a freshly started Node process runs these paths cold).`,
  );
  return notes;
}

function commonNotes(): string[] {
  return [
    `Reproducible: UDIDs, serials, push tokens and device order come from seed \`${SEED}\`; keys and certificate dates do not (node:crypto). Figures vary with the machine's load (recorded above); nothing here asserts a timing, and the run fails only on a functional error (a refused request, a missing acknowledgement).`,
    `Targets are those of issues 3, 5, 6 and 8 for this 2-core machine with the fleet on the same machine. In-process figures (Mdm-Signature, SCEP) are per CPU second of one core.`,
  ];
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}
