// Idle connects: the request Orchard serves most. K devices at a time PUT their signed Idle report to
// /mdm/connect over keep-alive connections (closed loop: each sends again as soon as it is answered) with
// nothing queued, so each answer is HTTP 200 with an empty body. Devices are drawn from the fleet by a seeded
// random sequence per worker.
import { seededRandom } from "../../sim/seeded-random.ts";
import type { BenchDevice } from "../lib/bench-device.ts";
import { runLoad } from "../lib/load.ts";
import type { ServerMeters } from "../lib/server-meters.ts";

export interface IdleResult {
  concurrency: number;
  fleet: number;
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Orchard's CPU per connect. */
  serverCpuUs: number;
  /** PostgreSQL's backends' CPU per connect (PostgreSQL only). */
  databaseCpuUs?: number;
  /** The load generator's own CPU per connect: it shares the machine with the server. */
  clientCpuUs: number;
}

export async function idleConnects(url: string, meters: ServerMeters, devices: readonly BenchDevice[], concurrency: number, seconds: number, seed: string): Promise<IdleResult> {
  const pickers = Array.from({ length: concurrency }, (_, w) => seededRandom(`${seed}/worker-${w}`));
  const before = await meters.read();
  const client0 = process.cpuUsage();
  const r = await runLoad(url, concurrency, seconds, (w) => {
    const d = devices[pickers[w]!.int(devices.length)]!;
    return { method: "PUT", path: "/mdm/connect", headers: { "mdm-signature": d.idle.signature }, body: d.idle.body };
  });
  const client = process.cpuUsage(client0);
  const after = await meters.read();
  const per = (s: number) => (s * 1e6) / Math.max(1, r.requests);
  return {
    concurrency,
    fleet: devices.length,
    requests: r.requests,
    errors: r.errors,
    seconds: r.seconds,
    perSecond: r.perSecond,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    serverCpuUs: per(after.serverCpu - before.serverCpu),
    ...(after.databaseCpu !== undefined && before.databaseCpu !== undefined ? { databaseCpuUs: per(after.databaseCpu - before.databaseCpu) } : {}),
    clientCpuUs: (client.user + client.system) / Math.max(1, r.requests),
  };
}
