// orchard serve | migrate | config
import type { Command } from "commander";
import { loadConfig, redactedConfig, unknownSettingVariables } from "../config.ts";
import { openStore } from "../store/db.ts";
import { migrateAll as migrate } from "../server/modules.ts";
import { startServer } from "../server/serve.ts";
import { createLogger, logDestination } from "../log/logger.ts";
import { DEMO_PROFILE_NAME, startDemo } from "../server/demo.ts";
import { enrollmentLink } from "../server/first-start.ts";

export function registerServeCommands(program: Command): void {
  program
    .command("serve")
    .description("run the Orchard server")
    .option("--demo", "also run the local APNs endpoint and 25 virtual devices that enroll and stay online")
    .action(async (opts: { demo?: boolean }) => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel, logDestination(config.logFormat));
      // Before anything starts: the operator should read this first, not find it among the startup lines.
      for (const variable of unknownSettingVariables(process.env)) {
        logger.warn({ variable }, "ignoring an ORCHARD_ variable that is no setting (`orchard config` lists the settings)");
      }
      const server = await startServer(config, { logger, handleSignals: true, ...(opts.demo ? { apnsDev: true } : {}) });
      const base = config.publicUrl;
      console.log(`Orchard is running.`);
      console.log(`  Base URL:        ${base}`);
      console.log(`  Listening:       https://${config.host}:${server.httpsPort}${server.httpPort ? `, http://${config.host}:${server.httpPort}` : ""}`);
      const link = await enrollmentLink(server.ctx);
      console.log(`  Enrollment URL:  ${link ?? "(no live enrollment profile: orchard enrollment-profile create --name NAME)"}`);
      console.log(`  Admin API:       ${base}/api/v1 (reference at ${base}/api/docs)`);
      if (server.adminTokenFile) console.log(`  Admin token file: ${server.adminTokenFile}`);
      console.log(`  CA certificate:  ${server.caFile}`);
      if (opts.demo) {
        const demo = await startDemo(server, server.ctx.logger);
        server.onStop(() => demo.stop());
        console.log(`  Demo:            ${demo.fleet.devices.length} virtual devices enrolled through "${DEMO_PROFILE_NAME}"; try:`);
        console.log(`    curl -k -H "Authorization: Bearer $(cat ${server.adminTokenFile ?? "data/admin-token"})" ${base}/api/v1/enrollments`);
      }
    });

  program
    .command("migrate")
    .description("apply database migrations (serve does this at start too)")
    .action(async () => {
      const config = loadConfig();
      const store = await openStore(config.databaseUrl);
      try {
        const { applied } = await migrate(store);
        console.log(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
      } finally {
        await store.close();
      }
    });

  program
    .command("config")
    .description("print the effective configuration, secrets redacted")
    .option("--json", "print JSON")
    .action((opts: { json?: boolean }) => {
      const rows = redactedConfig(loadConfig());
      if (opts.json) return console.log(JSON.stringify(Object.fromEntries(rows.map((r) => [r.key, r.value])), null, 2));
      for (const r of rows) console.log(`${r.env.padEnd(34)} ${r.value}`);
    });
}
