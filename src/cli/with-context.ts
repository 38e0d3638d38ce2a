// Runs a CLI action against the configured database, then closes it.
import type { AppContext } from "../app-context.ts";
import { loadConfig } from "../config.ts";
import { createLogger } from "../log/logger.ts";
import { buildContext } from "../server/context.ts";

export async function withContext<T>(fn: (ctx: AppContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const ctx = await buildContext(config, createLogger(config.logLevel === "info" ? "warn" : config.logLevel));
  try {
    return await fn(ctx);
  } finally {
    await ctx.store.close();
  }
}
