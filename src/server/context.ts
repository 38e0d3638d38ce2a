// The composition root: opens the store, applies migrations and builds the services from configuration.
import type { Logger } from "pino";
import type { AppContext } from "../app-context.ts";
import type { OrchardConfig } from "../config.ts";
import { openStore } from "../store/db.ts";
import { migrate } from "../store/migrate.ts";
import { loadOrCreateKeyring } from "../secrets/keyring.ts";
import { SecretBox } from "../secrets/envelope.ts";
import { ApiTokenService } from "../auth/api-tokens.ts";
import { MetricsRegistry, registerProcessMetrics } from "../metrics/registry.ts";
import { AuditLog } from "../events/audit-log.ts";

export async function buildContext(config: OrchardConfig, logger: Logger): Promise<AppContext> {
  const secrets = new SecretBox(loadOrCreateKeyring(config.dataDir, config.masterKey));
  const store = await openStore(config.databaseUrl);
  try {
    const { applied } = await migrate(store);
    if (applied.length) logger.info({ applied }, "database migrations applied");
  } catch (err) {
    await store.close();
    throw err;
  }
  const metrics = new MetricsRegistry();
  registerProcessMetrics(metrics);
  return {
    config,
    store,
    secrets,
    logger,
    metrics,
    tokens: new ApiTokenService(store),
    audit: new AuditLog(store),
  };
}
