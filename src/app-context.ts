// What the HTTP layer and the jobs are handed: configuration, the store and the services.
// Built once in server.ts (the composition root); nothing here is a global.
import type { Logger } from "pino";
import type { OrchardConfig } from "./config.ts";
import type { Store } from "./store/db.ts";
import type { SecretBox } from "./secrets/envelope.ts";
import type { ApiTokenService } from "./auth/api-tokens.ts";
import type { MetricsRegistry } from "./metrics/registry.ts";
import type { AuditLog } from "./events/audit-log.ts";

export interface AppContext {
  config: OrchardConfig;
  store: Store;
  secrets: SecretBox;
  logger: Logger;
  metrics: MetricsRegistry;
  tokens: ApiTokenService;
  audit: AuditLog;
}
