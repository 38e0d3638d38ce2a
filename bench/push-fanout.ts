// Push fan-out through the whole push path: N enrollments in the database, one request to push to all of
// them (as a command to N targets does), the jobs it becomes claimed and run, pushes over HTTP/2 to the local
// APNs endpoint (a child process, so it has its own core), outcomes written back. Prints JSON and a table.
//   node bin/run-ts.js bench/push-fanout.ts [--count 100000] [--database-url postgres://…]
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { sql } from "kysely";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/log/logger.ts";
import { buildContext } from "../src/server/context.ts";
import { insertPushableEnrollments } from "./lib/push-enrollments.ts";

interface Ready {
  url: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  topic: string;
}

async function endpointProcess(): Promise<void> {
  const { startApnsDev } = await import("../src/push/apns-dev/apns-dev.ts");
  const { issuePushCertificate } = await import("../src/push/apns-dev/authority.ts");
  const dev = await startApnsDev({ devicePort: false, recordLimit: 1000 });
  const cert = await issuePushCertificate(dev.authority.ca);
  process.send!({ url: dev.url, caPem: dev.caPem, certPem: cert.certPem, keyPem: cert.keyPem, topic: cert.topic } satisfies Ready);
  process.on("message", (m) => {
    if (m === "stats") process.send!({ stats: dev.apns.stats });
    if (m === "exit") void dev.close().then(() => process.exit(0));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: "string", default: "100000" }, "database-url": { type: "string" } } });
  const count = Number(values.count);
  const runTs = fileURLToPath(new URL("../bin/run-ts.js", import.meta.url));
  const child = fork(runTs, [fileURLToPath(import.meta.url), "--endpoint"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const ready = await new Promise<Ready>((resolve) => child.once("message", (m) => resolve(m as Ready)));
  const stats = () =>
    new Promise<{ received: number; accepted: number }>((resolve) => {
      const on = (m: unknown) => {
        if (typeof m === "object" && m !== null && "stats" in m) {
          child.off("message", on);
          resolve((m as { stats: { received: number; accepted: number } }).stats);
        }
      };
      child.on("message", on);
      child.send("stats");
    });

  const dir = mkdtempSync(join(tmpdir(), "orchard-push-fanout-"));
  const config = {
    ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_MASTER_KEY: randomBytes(32).toString("base64"), ORCHARD_PUBLIC_URL: "https://orchard.test" }),
    ...(values["database-url"] ? { databaseUrl: values["database-url"] } : {}),
    logLevel: "warn" as const,
  };
  const ctx = await buildContext(config, createLogger("warn"));
  try {
    if (ctx.store.dialect === "postgres") await sql`TRUNCATE enrollments, jobs, push_retries, push_certificates`.execute(ctx.store.db);
    ctx.push.client.useGateway(ready.url, [ready.caPem]);
    await ctx.push.certificates.upload({ certificate: ready.certPem, privateKey: ready.keyPem });

    const ids = await insertPushableEnrollments(ctx.store, count, ready.topic);

    const rssBefore = process.memoryUsage.rss();
    const cpuBefore = process.cpuUsage();
    const t0 = performance.now();
    const jobs = await ctx.push.dispatcher.request(ids, "command");
    const tQueued = performance.now();
    await ctx.jobs.runDue();
    const tDone = performance.now();
    const cpu = process.cpuUsage(cpuBefore);
    const endpoint = await stats();
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
      endpointAccepted: endpoint.accepted,
      recordedOk: Number(ok?.n ?? 0),
      repushRowsScheduled: Number(retries?.n ?? 0),
      serverCpuSeconds: round((cpu.user + cpu.system) / 1e6),
      rssMb: { before: Math.round(rssBefore / 1048576), after: Math.round(process.memoryUsage.rss() / 1048576) },
      node: process.version,
    };
    console.log(JSON.stringify(result, null, 2));
    console.log(`\n| database | enrollments | queue jobs s | all pushed s | pushes/s | CPU s | RSS MB |\n|---|---|---|---|---|---|---|\n| ${result.database} | ${count} | ${result.queueJobsSeconds} | ${result.allPushedSeconds} | ${result.pushesPerSecond} | ${result.serverCpuSeconds} | ${result.rssMb.after} |`);
  } finally {
    child.send("exit");
    await ctx.push.client.close();
    await ctx.store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

if (process.argv.includes("--endpoint")) await endpointProcess();
else await main();
