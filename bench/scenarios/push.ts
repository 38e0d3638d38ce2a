// Push throughput, from the push subsystem's own bench (bench/push-throughput.ts: Orchard's APNs client
// sending MDM pushes over HTTP/2 + TLS to the local APNs endpoint in another process). Run as a child process
// and read from its JSON, so the suite does not depend on its internals; killed if it overruns.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

export interface PushResult {
  pushes: number;
  failed: number;
  seconds: number;
  pushesPerSecond: number;
  latencyMs: { p50: number; p99: number };
  clientCpuSeconds: number;
  clientRssMb: { before: number; after: number };
  /** Push worker threads in the sender (0: the main thread sends). */
  threads?: number;
  /** CPU the local APNs endpoint used, start-up included. */
  endpointCpuSeconds?: number;
  endpoint?: unknown;
}

export const PUSH_BENCH = "bench/push-throughput.ts";

export async function pushThroughput(count: number, timeoutMs: number): Promise<PushResult | { skipped: string }> {
  if (!existsSync(resolve(PUSH_BENCH))) return { skipped: `${PUSH_BENCH} is not in this checkout` };
  const child = spawn(process.execPath, [resolve("bin/run-ts.js"), PUSH_BENCH, "--count", String(count)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((res) => child.once("exit", (c) => res(c)));
  clearTimeout(timer);
  if (code !== 0) return { skipped: `${PUSH_BENCH} exited with ${code ?? "a signal (timeout)"}` };
  const json = /^\{[\s\S]*?^\}/m.exec(out);
  if (!json) return { skipped: `${PUSH_BENCH} printed no JSON result` };
  const r = JSON.parse(json[0]) as Partial<PushResult> & { latencyMs?: { p50?: number; p99?: number } };
  if (typeof r.pushesPerSecond !== "number" || typeof r.pushes !== "number") return { skipped: `${PUSH_BENCH}'s JSON has no pushes/pushesPerSecond` };
  return {
    pushes: r.pushes,
    failed: r.failed ?? 0,
    seconds: r.seconds ?? r.pushes / r.pushesPerSecond,
    pushesPerSecond: r.pushesPerSecond,
    latencyMs: { p50: r.latencyMs?.p50 ?? NaN, p99: r.latencyMs?.p99 ?? NaN },
    clientCpuSeconds: r.clientCpuSeconds ?? NaN,
    clientRssMb: r.clientRssMb ?? { before: NaN, after: NaN },
    ...(typeof r.threads === "number" ? { threads: r.threads } : {}),
    ...(typeof (r.endpoint as { cpuSeconds?: unknown } | undefined)?.cpuSeconds === "number" ? { endpointCpuSeconds: (r.endpoint as { cpuSeconds: number }).cpuSeconds } : {}),
    endpoint: r.endpoint,
  };
}
