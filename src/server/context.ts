// The composition root: opens the store, applies migrations, loads Orchard's credentials and builds the
// services from configuration.
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { AppContext } from "../app-context.ts";
import type { OrchardConfig } from "../config.ts";
import { openStore, type Store } from "../store/db.ts";
import { migrate } from "../store/migrate.ts";
import { loadOrCreateKeyring } from "../secrets/keyring.ts";
import { SecretBox } from "../secrets/envelope.ts";
import { ApiTokenService } from "../auth/api-tokens.ts";
import { MetricsRegistry, registerProcessMetrics } from "../metrics/registry.ts";
import { AuditLog } from "../events/audit-log.ts";
import { EventBus } from "../events/bus.ts";
import { pemBlocks } from "../pki/pem.ts";
import { CheckinService } from "../mdm/checkin.ts";
import { ConnectService } from "../mdm/connect.ts";
import { CommandService } from "../mdm/commands.ts";
import { IdentityBinding } from "../mdm/identity-binding.ts";
import { createDeviceCertificateVerifier } from "../mdm/device-certificate-verifier.ts";
import { ensureServerCredentials } from "./credentials.ts";
import { WebhookService, WEBHOOK_JOB } from "../events/webhooks.ts";
import { JobRunner } from "../jobs/runner.ts";
import { expireDue, pruneResults } from "../store/command-queue.ts";
import { EnrollmentProfileService } from "../manage/enrollment-profiles/enrollment-profiles.ts";
import { ScepIssuance } from "../pki/scep-issuance.ts";
import { buildPushServices } from "../push/push-services.ts";
import { IdentityRenewal } from "../manage/enrollment-profiles/identity-renewal.ts";

export async function buildContext(config: OrchardConfig, logger: Logger): Promise<AppContext> {
  const secrets = new SecretBox(loadOrCreateKeyring(config.dataDir, config.masterKey));
  const store = await openStore(config.databaseUrl);
  try {
    const { applied } = await migrate(store);
    if (applied.length) logger.info({ applied }, "database migrations applied");
    return await assemble(config, logger, store, secrets);
  } catch (err) {
    await store.close();
    throw err;
  }
}

async function assemble(config: OrchardConfig, logger: Logger, store: Store, secrets: SecretBox): Promise<AppContext> {
  const metrics = new MetricsRegistry();
  registerProcessMetrics(metrics);
  const events = new EventBus(logger);
  const base = { config, store, secrets, logger, metrics, events, tokens: new ApiTokenService(store), audit: new AuditLog(store) };
  const credentials = await ensureServerCredentials(base);

  const trusted = [credentials.ca.certDer, ...(credentials.ca.chainDer ?? []), ...config.extraCaFiles.flatMap((f) => pemBlocks(readFileSync(f, "utf8")).map((b) => b.der))];
  const verifier = createDeviceCertificateVerifier(trusted, config.certCacheSize);
  const issuedFor = async (fingerprint: string) => {
    const r = await store.db.selectFrom("issued_certificates").select(["enrollment_id", "created_at"]).where("fingerprint", "=", fingerprint).executeTakeFirst();
    return r ? { enrollmentId: r.enrollment_id, issuedAt: r.created_at } : undefined;
  };
  const binding = new IdentityBinding(store, events, issuedFor);
  const enrollmentProfiles = new EnrollmentProfileService({
    store,
    secrets,
    publicUrl: config.publicUrl,
    dev: config.dev,
    ca: () => credentials.ca,
    signer: () => credentials.profileSigning,
    activeTopic: () => push.certificates.activeTopic(),
  });
  const scep = new ScepIssuance({
    store,
    ca: () => credentials.ca,
    ra: () => credentials.scepRa,
    allowLegacyDes: config.scepAllowLegacyDes,
    identityValidityDays: 365,
    redeemChallenge: (c) => enrollmentProfiles.redeemChallenge(c),
    logger,
  });
  const profileOfCertificate = async (fingerprint: string) =>
    (await store.db.selectFrom("issued_certificates").select("enrollment_profile_id").where("fingerprint", "=", fingerprint).executeTakeFirst())?.enrollment_profile_id;
  const checkin = new CheckinService(store, secrets, events, binding, logger, { userAuthenticate: config.userAuthenticate, getToken: new Map() }, profileOfCertificate);
  const connect = new ConnectService(store, events, binding);
  const commands = new CommandService(store, events, (id) => enrollmentProfiles.accessRights(id), (id) => checkin.unlockToken(id));

  const webhooks = new WebhookService(store, secrets, logger);
  webhooks.subscribe(events);
  const jobs = new JobRunner(store, logger, metrics);
  jobs.register(WEBHOOK_JOB, (payload, job) => webhooks.deliver(payload, job.attempts, job.max_attempts));
  jobs.register("queue.expire", async () => {
    while ((await expireDue(store, Date.now())) > 0);
  });
  const renewal = new IdentityRenewal(store, enrollmentProfiles, commands, logger);
  jobs.register("identity.renew", async () => {
    await renewal.run();
  });
  jobs.register("results.prune", async () => {
    const pruned = await pruneResults(store, Date.now() - config.resultRetentionDays * 86_400_000);
    if (pruned.results || pruned.commands) logger.info(pruned, "pruned old command results");
  });
  const push = buildPushServices({ config, store, secrets, logger, metrics, events, jobs });
  return { ...base, credentials, mdm: { checkin, connect, commands, binding, verifier }, webhooks, jobs, enrollmentProfiles, scep, push, identityRenewal: renewal };
}
