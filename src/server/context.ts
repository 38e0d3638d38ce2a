// The composition root: opens the store, applies every module's migrations, builds the kernel (configuration,
// store, secrets, outbox, jobs, result processors, audit, tokens, credentials) and sets up the modules of
// server/modules.ts in order. Job kinds come from the modules; so do routes (http/app.ts) and schedules (serve).
import type { Logger } from "pino";
import type { AppContext } from "../app-context.ts";
import type { OrchardConfig } from "../config.ts";
import { openStore, type Store } from "../store/db.ts";
import { loadOrCreateKeyring } from "../secrets/keyring.ts";
import { SecretBox } from "../secrets/envelope.ts";
import { ApiTokenService } from "../auth/api-tokens.ts";
import { MetricsRegistry, registerProcessMetrics } from "../metrics/registry.ts";
import { AuditLog } from "../events/audit-log.ts";
import { EventBus } from "../events/bus.ts";
import { Outbox } from "../events/outbox.ts";
import { ResultProcessors } from "../mdm/result-processors.ts";
import { JobRunner } from "../jobs/runner.ts";
import { ensureServerCredentials } from "./credentials.ts";
import { MODULES, migrateAll } from "./modules.ts";
import type { ModuleParts, OrchardModule } from "./module.ts";

export async function buildContext(config: OrchardConfig, logger: Logger, modules: readonly OrchardModule[] = MODULES): Promise<AppContext> {
  const secrets = new SecretBox(loadOrCreateKeyring(config.dataDir, config.masterKey));
  const store = await openStore(config.databaseUrl);
  try {
    const { applied } = await migrateAll(store, modules);
    if (applied.length) logger.info({ applied }, "database migrations applied");
    return await assemble(config, logger, store, secrets, modules);
  } catch (err) {
    await store.close();
    throw err;
  }
}

async function assemble(config: OrchardConfig, logger: Logger, store: Store, secrets: SecretBox, modules: readonly OrchardModule[]): Promise<AppContext> {
  const metrics = new MetricsRegistry();
  registerProcessMetrics(metrics);
  const events = new EventBus(logger);
  const audit = new AuditLog(store);
  const kernel = {
    config,
    store,
    secrets,
    logger,
    metrics,
    events,
    outbox: new Outbox(events),
    results: new ResultProcessors(),
    tokens: new ApiTokenService(store, audit),
    audit,
    jobs: new JobRunner(store, logger, metrics),
  };
  const credentials = await ensureServerCredentials(kernel);
  // The modules fill in the services they own (see OrchardModule.setup); until then the context is partial.
  const ctx = { ...kernel, credentials, modules: [] } as unknown as AppContext;
  const set: Array<{ module: OrchardModule; parts: ModuleParts }> = [];
  for (const module of modules) {
    const parts = await module.setup(ctx);
    for (const [kind, handler] of Object.entries(parts.jobs ?? {})) ctx.jobs.register(kind, handler);
    set.push({ module, parts });
  }
  ctx.modules = set;
  return ctx;
}
