// Push fan-out through the whole push path: N enrollments in the database, one request to push to all of
// them (as a command to N targets does), the jobs it becomes claimed and run, pushes over HTTP/2 to the local
// APNs endpoint (a child process, so it has its own core), outcomes written back. Prints JSON and a table.
//   node bin/run-ts.js bench/push-fanout.ts [--count 100000] [--database-url postgres://…]
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sql } from "kysely";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/log/logger.ts";
import { buildContext } from "../src/server/context.ts";
import { startEndpointProcess } from "./lib/apns-endpoint-process.ts";
import { insertPushableEnrollments } from "./lib/push-enrollments.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: "string", default: "100000" }, "database-url": { type: "string" } } });
  const count = Number(values.count);
  const endpoint = await startEndpointProcess();
  const { ready } = endpoint;

  const dir = mkdtempSync(join(tmpdir(), "orchard-push-fanout-"));
  const config = {
    ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_MASTER_KEY: randomBytes(32).toString("base64"), ORCHARD_PUBLIC_URL: "https://orchard.test" }),
    ...(values["database-url"] ? { databaseUrl: values["database-url"] } : {}),
    logLevel: "warn" as const,
    // The jobs are due at once: the coalescing delay only waits, and the bench runs the due jobs itself.
    pushCoalesceMs: 0,
  };
  const ctx = await buildContext(config, createLogger("warn"));
  try {
    if (ctx.store.dialect === "postgres") await sql`TRUNCATE enrollments, jobs, push_retries, push_certificates`.execute(ctx.store.db);
    ctx.push.client.useGateway(ready.url, [ready.caPem]);
    await ctx.push.certificates.upload({ certificate: ready.certPem, privateKey: ready.keyPem }, "system:bench");

    const ids = await insertPushableEnrollments(ctx.store, count, ready.topic);

    const rssBefore = process.memoryUsage.rss();
    const cpuBefore = process.cpuUsage();
    const t0 = performance.now();
    const jobs = await ctx.push.dispatcher.request(ids, "command");
    const tQueued = performance.now();
    await ctx.jobs.runDue();
    const tDone = performance.now();
    const cpu = process.cpuUsage(cpuBefore);
    const endpointStats = await endpoint.stats();
    const ok = await ctx.store.db.selectFrom("enrollments").select((eb) => eb.fn.countAll<number>().as("n")).where("last_push_result", "=", "ok").executeTakeFirst();
    const retries = await ctx.store.db.selectFrom("push_retries").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirst();
    const result = {
      benchmark: "push-fanout",
      database: ctx.store.dialect,
      enrollments: count,
      jobs,
      queueJobsSeconds: round((tQueued - t0) / 1000),
      allPushedSeconds: round((tDone - t0) / 1000),
      pushesPerSecond: Math.round(count / ((tDone - t0) / 1000)),
      endpointAccepted: endpointStats.accepted,
      recordedOk: Number(ok?.n ?? 0),
      repushRowsScheduled: Number(retries?.n ?? 0),
      serverCpuSeconds: round((cpu.user + cpu.system) / 1e6),
      rssMb: { before: Math.round(rssBefore / 1048576), after: Math.round(process.memoryUsage.rss() / 1048576) },
      node: process.version,
    };
    console.log(JSON.stringify(result, null, 2));
    console.log(`\n| database | enrollments | queue jobs s | all pushed s | pushes/s | CPU s | RSS MB |\n|---|---|---|---|---|---|---|\n| ${result.database} | ${count} | ${result.queueJobsSeconds} | ${result.allPushedSeconds} | ${result.pushesPerSecond} | ${result.serverCpuSeconds} | ${result.rssMb.after} |`);
  } finally {
    endpoint.stop();
    await ctx.push.client.close();
    await ctx.store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

await main();
