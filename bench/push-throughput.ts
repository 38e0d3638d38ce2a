// Push throughput: N MDM pushes from Orchard's APNs client to the local APNs endpoint (HTTP/2 over TLS
// with a client certificate), the endpoint in a child process so client and server each have a core.
// Prints JSON (and a markdown line): pushes/s, elapsed, latency percentiles, client memory.
//   node bin/run-ts.js bench/push-throughput.ts [--count 100000] [--threads 2] [--connections 1] [--streams 1000] [--window 20000]
// --threads: push worker threads (default: the server's default for this machine, see ORCHARD_PUSH_THREADS); 0 sends
// on the main thread.
// ORCHARD_BENCH_ENDPOINT_NODE_ARGS: node flags for the endpoint process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { ApnsClient } from "../src/push/apns-client.ts";
import type { ApnsTransport } from "../src/push/apns-transport.ts";
import { ApnsWorkerPool } from "../src/push/apns-worker-pool.ts";
import { certificateFingerprint, pemToDer } from "../src/pki/pem.ts";
import { defaultPushThreads } from "../src/config.ts";
import { startEndpointProcess } from "./lib/apns-endpoint-process.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: "string", default: "100000" }, threads: { type: "string", default: String(defaultPushThreads(availableParallelism())) }, connections: { type: "string", default: "1" }, streams: { type: "string", default: "1000" }, window: { type: "string", default: "20000" }, json: { type: "boolean", default: false } } });
  const count = Number(values.count);
  const window = Number(values.window);
  const endpoint = await startEndpointProcess((process.env.ORCHARD_BENCH_ENDPOINT_NODE_ARGS ?? "").split(" ").filter(Boolean));
  const { ready } = endpoint;
  const clientOptions = { url: ready.url, extraCaPem: [ready.caPem], expirationSeconds: 604800, maxStreams: Number(values.streams), connectionsPerCertificate: Number(values.connections), pingIntervalMs: 0 };
  const threads = Number(values.threads);
  const client: ApnsTransport = threads > 0 ? new ApnsWorkerPool({ ...clientOptions, threads }) : new ApnsClient(clientOptions);
  const identity = { topic: ready.topic, fingerprint: certificateFingerprint(pemToDer(ready.certPem)), certPem: ready.certPem, keyPem: ready.keyPem };
  const tokens = Array.from({ length: count }, (_, i) => i.toString(16).padStart(64, "0"));
  // Warm up: the TLS handshake and JIT are not what is measured.
  await Promise.all(Array.from({ length: 2000 }, (_, i) => client.send(identity, false, tokens[i % count]!, "warm")));
  const rssBefore = process.memoryUsage.rss();
  const cpuBefore = process.cpuUsage();
  const latencies = new Float64Array(count);
  let failed = 0;
  const t0 = performance.now();
  // Keep `window` pushes outstanding, as the dispatcher does (jobs of 1,000 enrollments, 20 jobs a batch),
  // rather than creating all of them at once.
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const r = await client.send(identity, false, tokens[i]!, "B6E0C1A4-4C4F-4D1D-9A7E-0D1A2B3C4D5E");
      latencies[i] = r.latencyMs;
      if (r.status !== 200) failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(count, window) }, lane));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const rssPeak = process.memoryUsage.rss();
  latencies.sort();
  const pct = (p: number) => Math.round(latencies[Math.min(count - 1, Math.floor((p / 100) * count))]! * 10) / 10;
  const endpointStats = await endpoint.stats();
  endpoint.stop();
  await client.close();
  const result = {
    benchmark: "push-throughput",
    pushes: count,
    failed,
    seconds: Math.round(elapsed * 1000) / 1000,
    pushesPerSecond: Math.round(count / elapsed),
    latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: pct(100) },
    clientCpuSeconds: Math.round(((cpu.user + cpu.system) / 1e6) * 100) / 100,
    clientRssMb: { before: Math.round(rssBefore / 1048576), after: Math.round(rssPeak / 1048576) },
    threads,
    connections: Number(values.connections),
    maxStreams: Number(values.streams),
    window,
    endpoint: endpointStats,
    node: process.version,
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(`\n| pushes | seconds | pushes/s | p50 ms | p99 ms | client RSS MB |\n|---|---|---|---|---|---|\n| ${count} | ${result.seconds} | ${result.pushesPerSecond} | ${result.latencyMs.p50} | ${result.latencyMs.p99} | ${result.clientRssMb.after} |`);
}

await main();
