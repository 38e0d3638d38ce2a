// The push machinery as the rest of Orchard sees it, and its construction from configuration.
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { OrchardConfig } from "../config.ts";
import type { Store } from "../store/db.ts";
import type { SecretBox } from "../secrets/envelope.ts";
import type { MetricsRegistry } from "../metrics/registry.ts";
import type { Outbox } from "../events/outbox.ts";
import type { JobRunner } from "../jobs/runner.ts";
import type { AuditLog } from "../events/audit-log.ts";
import { ApnsClient, type ApnsClientOptions } from "./apns-client.ts";
import type { ApnsTransport } from "./apns-transport.ts";
import { ApnsWorkerPool } from "./apns-worker-pool.ts";
import { PushCertificateService } from "./push-certificates.ts";
import { PushDispatcher, type PushDispatcherOptions } from "./push-dispatcher.ts";

export interface PushServices {
  certificates: PushCertificateService;
  dispatcher: PushDispatcher;
  client: ApnsTransport;
}

export interface PushServiceDeps {
  config: OrchardConfig;
  store: Store;
  secrets: SecretBox;
  logger: Logger;
  metrics: MetricsRegistry;
  outbox: Outbox;
  jobs: JobRunner;
  audit: AuditLog;
}

export function buildPushServices(deps: PushServiceDeps, options: Partial<PushDispatcherOptions> = {}): PushServices {
  const { config } = deps;
  const certificates = new PushCertificateService(deps.store, deps.secrets, deps.logger, deps.metrics, deps.audit);
  const clientOptions: ApnsClientOptions = {
    ...(config.apnsUrl ? { url: config.apnsUrl } : {}),
    ...(config.apnsCaFile ? { extraCaPem: [readApnsCa(config.apnsCaFile)] } : {}),
    expirationSeconds: config.apnsExpirationSeconds,
  };
  const client: ApnsTransport = config.pushThreads > 0 ? new ApnsWorkerPool({ ...clientOptions, threads: config.pushThreads }) : new ApnsClient(clientOptions);
  const dispatcher = new PushDispatcher(
    { store: deps.store, outbox: deps.outbox, jobs: deps.jobs, certificates, client, logger: deps.logger, metrics: deps.metrics, audit: deps.audit },
    { repushAfterMs: config.pushRepushAfterSeconds * 1000, sweepLimit: config.pushSweepLimit, nudgeDelayMs: config.pushCoalesceMs, retryBaseMs: config.pushRetryBaseMs, ...options },
  );
  dispatcher.register();
  return { certificates, dispatcher, client };
}

function readApnsCa(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`ORCHARD_APNS_CA_FILE: cannot read ${path}: ${(e as Error).message}`);
  }
}
