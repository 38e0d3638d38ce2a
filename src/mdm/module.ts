// The MDM engine's module: device identity and its binding, check-ins, the command queue and its results, and
// the enrollments admins read. The device routes themselves (PUT /mdm/checkin, /mdm/connect) are served by the
// one device front end (src/http/mdm-fast-path.ts), which the HTTP app builds from ctx.mdm.
import { readFileSync } from "node:fs";
import type { OrchardModule } from "../server/module.ts";
import { pemBlocks } from "../pki/pem.ts";
import { expireDue, pruneResults } from "../store/command-queue.ts";
import { enrollmentProfileOfCertificate, issuedFor } from "../store/issued-certificates.ts";
import { enrollmentsRoutes } from "../http/api/enrollments-routes.ts";
import { commandsRoutes } from "../http/api/commands-routes.ts";
import { createDeviceCertificateVerifier } from "./device-certificate-verifier.ts";
import { IdentityBinding } from "./identity-binding.ts";
import { CheckinService } from "./checkin.ts";
import { ConnectService } from "./connect.ts";
import { CommandService } from "./commands.ts";
import { EnrollmentQueries } from "./enrollment-queries.ts";
import { applyDeviceInformation } from "./device-information-result.ts";

export const QUEUE_EXPIRE_JOB = "queue.expire";
export const RESULTS_PRUNE_JOB = "results.prune";

export const mdmModule: OrchardModule = {
  name: "mdm",
  setup(ctx) {
    const { config, credentials, store, logger } = ctx;
    const trusted = [credentials.ca.certDer, ...(credentials.ca.chainDer ?? []), ...config.extraCaFiles.flatMap((f) => pemBlocks(readFileSync(f, "utf8")).map((b) => b.der))];
    const verifier = createDeviceCertificateVerifier(trusted, config.certCacheSize, (fp) => ctx.certificates.isRevoked(fp));
    const binding = new IdentityBinding(store, ctx.outbox, issuedFor);
    const checkin = new CheckinService(store, ctx.secrets, ctx.outbox, binding, logger, { userAuthenticate: config.userAuthenticate, getToken: new Map(), maxUserChannels: config.maxUserChannelsPerDevice }, enrollmentProfileOfCertificate);
    const connect = new ConnectService(store, ctx.outbox, binding, ctx.results, ctx.secrets);
    const commands = new CommandService(store, ctx.outbox, ctx.secrets, ctx.audit, (id, ex) => ctx.enrollmentProfiles.accessRights(id, ex), (id, ex) => checkin.unlockToken(id, ex));
    ctx.mdm = { checkin, connect, commands, binding, verifier, enrollments: new EnrollmentQueries(store) };
    ctx.results.register("DeviceInformation", applyDeviceInformation);

    return {
      apiRoutes: [enrollmentsRoutes(ctx), commandsRoutes(ctx)],
      jobs: {
        [QUEUE_EXPIRE_JOB]: async () => {
          while ((await store.transaction((tx) => expireDue(tx, Date.now()))) > 0);
        },
        [RESULTS_PRUNE_JOB]: async () => {
          const pruned = await pruneResults(store, Date.now() - config.resultRetentionDays * 86_400_000);
          if (pruned.results || pruned.commands) logger.info(pruned, "pruned old command results");
        },
      },
      schedules: [
        { kind: QUEUE_EXPIRE_JOB, pattern: "*/30 * * * * *" },
        { kind: RESULTS_PRUNE_JOB, pattern: "17 * * * *" },
      ],
    };
  },
};
