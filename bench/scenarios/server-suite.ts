// Everything measured against a running `orchard serve` on one database: enrollment (SCEP + Authenticate +
// TokenUpdate), idle connects at several concurrencies, command rounds, memory and database size as the fleet
// grows. Fleets beyond the SCEP-enrolled devices come pre-issued from the bench's local CAs (see
// local-identities.ts) and are shared by both databases.
import { join } from "node:path";
import { seededRandom } from "../../sim/seeded-random.ts";
import { describeFleet, type BenchDevice } from "../lib/bench-device.ts";
import { enrollByCheckin } from "../lib/checkin-enrollment.ts";
import { postgresCloner, sqliteCloner, type EnrollmentCloner } from "../lib/enrollment-clone.ts";
import type { Database } from "../lib/figures.ts";
import { createScratchDatabase, type ScratchDatabase } from "../lib/postgres-scratch.ts";
import { createProfile, enrollByScep, rsaKeyPool } from "../lib/scep-fleet.ts";
import { serverMeters, type ServerMeters } from "../lib/server-meters.ts";
import { startBenchServer, type BenchServer } from "../lib/server-process.ts";
import { commandRound, type RoundResult } from "./command-round.ts";
import { idleConnects, type IdleResult } from "./idle-connects.ts";

const WARM_UP_ROUND = 300;

export interface Stage {
  /** Devices added at this stage, with identities already issued. */
  devices: BenchDevice[];
  /** "checkin": real Authenticate + TokenUpdate; "clone": rows cloned from a real enrollment (enrollment-clone.ts). */
  how: "checkin" | "clone";
  /** Run a command round to the whole fleet after this stage. */
  round: boolean;
  /** Idle connects at these concurrencies over the whole fleet after this stage. */
  idle: number[];
}

export interface ServerPlan {
  scepDevices: number;
  scepConcurrency: number;
  checkinConcurrency: number;
  roundConcurrency: number;
  idleSeconds: number;
  stages: Stage[];
  extraCaFile: string;
  /** Bounds each phase (enrollment, round) in wall-clock time. */
  phaseDeadlineMs: number;
  seed: string;
  /** The compiled server to run (see buildServer); bin/orchard.js from the sources when absent. */
  entry?: string;
}

export interface EnrollmentResult {
  how: "scep" | "checkin" | "clone";
  devices: number;
  fleet: string;
  seconds: number;
  perSecond: number;
  serverCpuMsPerDevice: number;
  databaseCpuMsPerDevice?: number;
  bytesPerEnrollment: number;
  /** Tables other than enrollments that a real check-in enrollment wrote rows to (cloning copies none). */
  otherTablesWritten?: string[];
}

export interface DatabaseResults {
  database: Database;
  enrollment: EnrollmentResult[];
  idle: Array<IdleResult & { fleetDescription: string }>;
  /** firstSight: devices whose certificate the server had never seen before this round (cloned enrollments). */
  rounds: Array<RoundResult & { fleetDescription: string; firstSight?: number }>;
  /** Server memory and database size as the fleet grows. */
  rss: MemoryReading[];
}

export interface MemoryReading {
  enrollments: number;
  /** "start"; "idle": after enrollment and idle connects; "round": after a round to every device; "status": after its status fetch. */
  phase: "start" | "idle" | "round" | "status";
  bytes: number;
  heapUsedBytes?: number;
  databaseBytes: number;
  when: string;
}

async function memoryReading(meters: ServerMeters, enrollments: number, phase: MemoryReading["phase"], when: string): Promise<MemoryReading> {
  const heap = await meters.heapUsedBytes();
  return { enrollments, phase, bytes: meters.rssBytes(), ...(heap !== undefined ? { heapUsedBytes: heap } : {}), databaseBytes: await meters.databaseBytes(), when };
}

export async function serverSuite(database: Database, plan: ServerPlan, postgresAdminUrl?: string, log: (s: string) => void = console.error): Promise<DatabaseResults> {
  let pg: ScratchDatabase | undefined;
  let server: BenchServer | undefined;
  let cloner: EnrollmentCloner | undefined;
  try {
    if (database === "postgres") pg = await createScratchDatabase(postgresAdminUrl!, "suite");
    server = await startBenchServer({
      ...(pg ? { databaseUrl: pg.url } : {}),
      ...(plan.entry ? { entry: plan.entry } : {}),
      // 100,000 enrollment ids in one JSON body are ~4 MB; the default API limit is 1 MB.
      env: { ORCHARD_EXTRA_CA_FILES: plan.extraCaFile, ORCHARD_API_BODY_LIMIT: String(32 * 1024 * 1024) },
    });
    const meters = serverMeters(server, pg);
    const results: DatabaseResults = { database, enrollment: [], idle: [], rounds: [], rss: [] };
    await new Promise((r) => setTimeout(r, 500));
    results.rss.push(await memoryReading(meters, 0, "start", "after start"));

    const { challenge } = await createProfile(server.url, server.adminToken, "bench");
    const fleet: BenchDevice[] = [];

    log(`[${database}] SCEP enrollment of ${plan.scepDevices} devices`);
    const scep = await measureEnrollment(meters, plan.scepDevices, () =>
      enrollByScep(server!.url, challenge, plan.scepDevices, plan.scepConcurrency, rsaKeyPool(8), seededRandom(`${plan.seed}/scep`), plan.phaseDeadlineMs),
    );
    fleet.push(...scep.devices);
    results.enrollment.push({ how: "scep", fleet: describeFleet(scep.devices), ...scep.result });

    for (const [i, stage] of plan.stages.entries()) {
      if (stage.devices.length > 0) {
        if (stage.how === "checkin") {
          cloner ??= clonerFor(server, pg);
          const counts0 = await cloner.tableCounts();
          log(`[${database}] stage ${i + 1}: Authenticate + TokenUpdate for ${stage.devices.length} devices`);
          const r = await measureEnrollment(meters, stage.devices.length, async () => ({ seconds: await enrollByCheckin(server!.url, stage.devices, plan.checkinConcurrency, plan.phaseDeadlineMs), devices: stage.devices }));
          const counts1 = await cloner.tableCounts();
          const other = Object.keys(counts1).filter((t) => t !== "enrollments" && (counts1[t] ?? 0) - (counts0[t] ?? 0) >= stage.devices.length);
          results.enrollment.push({ how: "checkin", fleet: describeFleet(stage.devices), ...r.result, otherTablesWritten: other });
        } else {
          cloner ??= clonerFor(server, pg);
          const template = fleet.findLast((d) => d.kind === stage.devices[0]!.kind) ?? fleet[fleet.length - 1]!;
          log(`[${database}] stage ${i + 1}: cloning ${stage.devices.length} enrollments from ${template.udid}`);
          const r = await measureEnrollment(meters, stage.devices.length, async () => {
            const t0 = performance.now();
            await cloner!.clone(template.udid, stage.devices);
            return { seconds: (performance.now() - t0) / 1000, devices: stage.devices };
          });
          results.enrollment.push({ how: "clone", fleet: describeFleet(stage.devices), ...r.result });
        }
        fleet.push(...stage.devices);
      }
      const desc = describeFleet(fleet);
      if (i === 0) {
        // A server that has just started runs its connect and result paths cold (JIT); one that serves a
        // fleet runs them warm. Warm them, unmeasured, before the first measurements.
        log(`[${database}] warm-up: idle connects and a command round to ${Math.min(WARM_UP_ROUND, fleet.length)} devices (not measured)`);
        await idleConnects(server.url, meters, fleet, 8, 1, `${plan.seed}/warm-up`);
        await commandRound(server.url, server.adminToken, meters, fleet.slice(0, WARM_UP_ROUND), plan.roundConcurrency, plan.phaseDeadlineMs);
      }
      const idle = async () => {
        for (const c of stage.idle) {
          log(`[${database}] idle connects, ${c} concurrent, fleet ${fleet.length}`);
          const r = await idleConnects(server!.url, meters, fleet, c, plan.idleSeconds, `${plan.seed}/idle/${fleet.length}/${c}`);
          if (r.errors > 0) throw new Error(`[${database}] ${r.errors} of ${r.requests} idle connects failed`);
          results.idle.push({ ...r, fleetDescription: desc });
        }
        results.rss.push(await memoryReading(meters, fleet.length, "idle", stage.how === "clone" ? "after the round and idle connects" : "after enrollment and idle connects"));
      };
      const round = async () => {
        log(`[${database}] command round to ${fleet.length}`);
        const r = await commandRound(server!.url, server!.adminToken, meters, fleet, plan.roundConcurrency, plan.phaseDeadlineMs, async () => {
          results.rss.push(await memoryReading(meters, fleet.length, "round", "after a command round to every device"));
        });
        results.rounds.push({ ...r, fleetDescription: desc, ...(stage.how === "clone" ? { firstSight: stage.devices.length } : {}) });
        results.rss.push(await memoryReading(meters, fleet.length, "status", `after reading every target's state from GET /api/v1/commands/{uuid} (largest answer ${(r.statusResponseBytes / 2 ** 20).toFixed(1)} MB)`));
      };
      // Cloned devices have never shown the server their certificate (a real one would have at Authenticate), so
      // the round comes first: it is the server's first sight of them, as after a restart, and the idle
      // connects after it see the steady state.
      if (stage.how === "clone") {
        if (stage.round) await round();
        await idle();
      } else {
        await idle();
        if (stage.round) await round();
      }
    }
    return results;
  } finally {
    await cloner?.close();
    await server?.stop();
    await pg?.drop();
  }
}

function clonerFor(server: BenchServer, pg: ScratchDatabase | undefined): EnrollmentCloner {
  return pg ? postgresCloner(pg.url) : sqliteCloner(join(server.dataDir, "orchard.db"));
}

async function measureEnrollment(
  meters: ServerMeters,
  n: number,
  run: () => Promise<{ seconds: number; devices: BenchDevice[] }>,
): Promise<{ devices: BenchDevice[]; result: Omit<EnrollmentResult, "how" | "fleet"> }> {
  const bytes0 = await meters.databaseBytes();
  const m0 = await meters.read();
  const { seconds, devices } = await run();
  const m1 = await meters.read();
  const bytes1 = await meters.databaseBytes();
  return {
    devices,
    result: {
      devices: n,
      seconds,
      perSecond: n / seconds,
      serverCpuMsPerDevice: ((m1.serverCpu - m0.serverCpu) * 1000) / n,
      ...(m1.databaseCpu !== undefined && m0.databaseCpu !== undefined ? { databaseCpuMsPerDevice: ((m1.databaseCpu - m0.databaseCpu) * 1000) / n } : {}),
      bytesPerEnrollment: (bytes1 - bytes0) / n,
    },
  };
}
