// `orchard serve`: builds the context and the HTTP app, listens on HTTPS (and plain HTTP when asked),
// and shuts down gracefully on SIGTERM/SIGINT (stop accepting, drain in-flight requests, close the store).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { AppContext } from "../app-context.ts";
import type { OrchardConfig } from "../config.ts";
import { createLogger, logDestination } from "../log/logger.ts";
import { logLifecycle } from "../log/lifecycle-log.ts";
import { buildHttpApp, configureListener, requestListenerOf } from "../http/app.ts";
import { buildContext } from "./context.ts";
import { startSchedules } from "../jobs/schedules.ts";
import { ensureAdminToken, writeCaCertificate } from "./first-start.ts";
import { startPushRuntime, type PushRuntime } from "../push/push-runtime.ts";
import { startMemoryTrimmer } from "./memory-trim.ts";
import { rsaNative, rsaNativeStatus } from "../pki/rsa-native.ts";
import { recordServerSettings } from "../store/server-settings.ts";

export interface RunningServer {
  ctx: AppContext;
  app: FastifyInstance;
  httpsPort: number;
  httpPort: number | undefined;
  caPem: string;
  adminTokenFile: string | undefined;
  /** DATA_DIR/ca.pem: the CA certificate, for clients that must trust the server. */
  caFile: string;
  /** The push machinery; `push.apnsDev` is the in-process local APNs endpoint in development mode. */
  push: PushRuntime;
  /** Runs `fn` first when the server stops (e.g. the demo fleet). */
  onStop(fn: () => Promise<void>): void;
  stop(): Promise<void>;
}

export interface ServeOptions {
  logger?: Logger;
  /** Install SIGTERM/SIGINT handlers (the CLI does; tests don't). */
  handleSignals?: boolean;
  /** Run the local APNs endpoint in-process and push through it (also ORCHARD_APNS_DEV). */
  apnsDev?: boolean;
}

export async function startServer(config: OrchardConfig, options: ServeOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel, logDestination(config.logFormat));
  const ctx = await buildContext(config, logger);
  logLifecycle(ctx.events, logger);
  const adminTokenFile = await ensureAdminToken(ctx);
  const creds = ctx.credentials;
  const caFile = writeCaCertificate(ctx, creds.caPem);

  const app = await buildHttpApp(ctx, {
    https: {
      key: creds.tlsKeyPem,
      cert: creds.tlsCertChainPem,
      // Ask for (but don't require) a client certificate: devices may present their identity over TLS;
      // the MDM layer verifies it, everything else ignores it.
      requestCert: true,
      rejectUnauthorized: false,
      ca: [creds.caPem],
    },
  });
  // fastify names the scheme from its own https option, which is unset here (the HTTPS server comes from
  // serverFactory), so it said "http://" for the HTTPS port.
  await app.listen({ host: config.host, port: config.httpsPort, listenTextResolver: (address) => `Server listening at ${address.replace(/^http:/, "https:")}` });
  const httpsPort = (app.server.address() as AddressInfo).port;

  if (config.workers) ctx.jobs.start();
  const push = await startPushRuntime(ctx, logger, { apnsDev: options.apnsDev ?? config.apnsDev });
  for (const { module, parts } of ctx.modules) {
    if (parts.start) await parts.start().catch((err: unknown) => logger.error({ err, module: module.name }, "module failed to start"));
  }
  const schedules = ctx.modules.flatMap(({ parts }) => parts.schedules ?? []);
  const stopSchedules = config.workers ? startSchedules(ctx.store, schedules, (err) => logger.error({ err }, "could not schedule periodic work")) : () => {};
  // Said once at startup: without the helper every RSA device signature costs more CPU (docs/deployment.md).
  if (rsaNative() === undefined) logger.info({ reason: rsaNativeStatus() }, "RSA device signatures are checked with node:crypto");
  const trimmer =
    config.memoryTrimSeconds > 0 ? startMemoryTrimmer({ intervalMs: config.memoryTrimSeconds * 1000, growthBytes: 16 * 2 ** 20, metrics: ctx.metrics, logger }) : undefined;

  let plain: Server | undefined;
  let httpPort: number | undefined;
  if (config.httpPort !== undefined) {
    plain = configureListener(createServer(requestListenerOf(app)), config);
    await new Promise<void>((resolve, reject) => {
      plain!.once("error", reject);
      plain!.listen(config.httpPort, config.host, () => resolve());
    });
    httpPort = (plain.address() as AddressInfo).port;
    logger.info(`Server listening at http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${httpPort} (plain HTTP)`);
  }
  // For CLI commands run from another shell: enrollment profiles they build must point where this server listens.
  await recordServerSettings(ctx.store, { publicUrl: config.publicUrl, httpsPort, httpPort: httpPort ?? null, dev: config.dev });

  const beforeStop: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      logger.info("shutting down: draining in-flight requests");
      for (const fn of beforeStop) await fn().catch((err: unknown) => logger.error({ err }, "shutdown step failed"));
      if (plain) {
        const p = plain;
        await new Promise<void>((resolve) => {
          p.close(() => resolve());
          p.closeIdleConnections();
        });
      }
      await app.close();
      await push.stop();
      stopSchedules();
      for (const { module, parts } of [...ctx.modules].reverse()) {
        if (parts.stop) await parts.stop().catch((err: unknown) => logger.error({ err, module: module.name }, "module failed to stop"));
      }
      trimmer?.stop();
      await ctx.jobs.stop();
      await ctx.events.drain();
      await ctx.store.close();
      logger.info("stopped");
    })();
    return stopping;
  };

  if (options.handleSignals) {
    const onSignal = (signal: string) => {
      logger.info({ signal }, "signal received");
      stop().then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }

  return { ctx, app, httpsPort, httpPort, caPem: creds.caPem, caFile, adminTokenFile, push, onStop: (fn) => void beforeStop.push(fn), stop };
}
