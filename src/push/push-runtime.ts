// Starting and stopping the push machinery inside `orchard serve`: prompt push jobs on this replica (the
// schedules, re-push sweep and expiry check, are the push module's), and in development the in-process local APNs endpoint with a
// push certificate it trusts, so push -> device connects works on one machine with no Apple account.
import { join } from "node:path";
import type { Logger } from "pino";
import type { AppContext } from "../app-context.ts";
import { startApnsDev, type ApnsDev } from "./apns-dev/apns-dev.ts";
import { issuePushCertificate } from "./apns-dev/authority.ts";
import { systemActor } from "../events/actor.ts";

export interface PushRuntime {
  /** The in-process local APNs endpoint, when running in development mode. */
  apnsDev: ApnsDev | undefined;
  stop(): Promise<void>;
}

export async function startPushRuntime(ctx: AppContext, logger: Logger, opts: { apnsDev: boolean }): Promise<PushRuntime> {
  let apnsDev: ApnsDev | undefined;
  if (opts.apnsDev) apnsDev = await startLocalApns(ctx, logger);
  // Without workers the push jobs wait in the database for a replica that runs them.
  if (ctx.config.workers) ctx.push.dispatcher.start();
  await ctx.push.certificates.checkExpiry().catch((err: unknown) => logger.error({ err }, "could not check push certificate expiry"));
  return {
    apnsDev,
    async stop() {
      await ctx.push.dispatcher.stop();
      await ctx.push.client.close();
      await apnsDev?.close();
    },
  };
}

async function startLocalApns(ctx: AppContext, logger: Logger): Promise<ApnsDev> {
  const dev = await startApnsDev({
    dir: join(ctx.config.dataDir, "apns-dev"),
    port: ctx.config.apnsDevPort ?? 0,
    devicePort: ctx.config.apnsDevFeedPort ?? 0,
  });
  ctx.push.client.useGateway(dev.url, [dev.caPem]);
  if (!(await ctx.push.certificates.hasAny())) {
    const cert = await issuePushCertificate(dev.authority.ca);
    await ctx.push.certificates.upload({ certificate: cert.certPem, privateKey: cert.keyPem }, systemActor("apns-dev"));
    logger.info({ topic: cert.topic }, "development push certificate issued by the local APNs endpoint and made active");
  }
  logger.info({ provider: dev.url, deviceFeed: dev.feed?.url }, "local APNs endpoint running: pushes go there, virtual devices listen on the device feed");
  return dev;
}
