// An AppContext on a fresh test database, with a random master key and a silent logger.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AppContext } from "../src/app-context.ts";
import { loadConfig, type OrchardConfig } from "../src/config.ts";
import { createLogger } from "../src/log/logger.ts";
import { buildContext } from "../src/server/context.ts";
import type { TestDatabase } from "./databases.ts";

export interface TestContext {
  ctx: AppContext;
  dataDir: string;
  cleanup(): Promise<void>;
}

export async function buildTestContext(database: TestDatabase, overrides: Partial<OrchardConfig> = {}): Promise<TestContext> {
  const dataDir = mkdtempSync(join(tmpdir(), "orchard-ctx-"));
  const fresh = await database.freshUrl();
  const config: OrchardConfig = {
    ...loadConfig({ ORCHARD_DATA_DIR: dataDir, ORCHARD_MASTER_KEY: randomBytes(32).toString("base64"), ORCHARD_PUBLIC_URL: "https://orchard.test:8443" }),
    databaseUrl: fresh.url,
    logLevel: "silent",
    ...overrides,
  };
  const ctx = await buildContext(config, createLogger("silent"));
  return {
    ctx,
    dataDir,
    async cleanup() {
      await ctx.store.close();
      await fresh.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
