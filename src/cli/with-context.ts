// Runs a CLI action against the configured database, then closes it.
import type { AppContext } from "../app-context.ts";
import { loadConfig } from "../config.ts";
import { createLogger, logDestination } from "../log/logger.ts";
import { buildContext } from "../server/context.ts";
import { serverSettingsConfig } from "./server-settings-config.ts";

export interface ContextOptions {
  /**
   * The action builds what devices use (enrollment profiles, their links): run it with the public settings the
   * server recorded, refusing when there are none and warning when the shell's disagree.
   */
  serverSettings?: boolean;
}

export async function withContext<T>(fn: (ctx: AppContext) => Promise<T>, options: ContextOptions = {}): Promise<T> {
  let config = loadConfig();
  if (options.serverSettings) {
    const applied = await serverSettingsConfig(config, process.env);
    for (const w of applied.warnings) console.error(`orchard: WARNING: ${w}`);
    config = applied.config;
  }
  const ctx = await buildContext(config, createLogger(config.logLevel === "info" ? "warn" : config.logLevel, logDestination(config.logFormat)));
  try {
    return await fn(ctx);
  } finally {
    await ctx.store.close();
  }
}
