// The enrollment profiles module: profiles and their links, one-time SCEP challenges, and identity renewal.
import type { OrchardModule } from "../../server/module.ts";
import { enrollmentProfilesRoutes } from "../../http/api/enrollment-profiles-routes.ts";
import { enrollRoutes } from "../../http/enroll-routes.ts";
import { EnrollmentProfileService } from "./enrollment-profiles.ts";
import { IdentityRenewal } from "./identity-renewal.ts";

export const IDENTITY_RENEW_JOB = "identity.renew";

export const enrollmentProfilesModule: OrchardModule = {
  name: "enrollment-profiles",
  setup(ctx) {
    const { config, credentials } = ctx;
    ctx.enrollmentProfiles = new EnrollmentProfileService({
      store: ctx.store,
      audit: ctx.audit,
      secrets: ctx.secrets,
      publicUrl: config.publicUrl,
      organization: config.organization,
      dev: config.dev,
      ca: () => credentials.ca,
      signer: () => credentials.profileSigning,
      activeTopic: () => ctx.push.certificates.activeTopic(),
    });
    ctx.identityRenewal = new IdentityRenewal(ctx.store, ctx.enrollmentProfiles, () => ctx.mdm.commands, ctx.logger, ctx.audit);
    return {
      apiRoutes: [enrollmentProfilesRoutes(ctx)],
      publicRoutes: [enrollRoutes(ctx.enrollmentProfiles)],
      jobs: {
        [IDENTITY_RENEW_JOB]: async () => {
          await ctx.identityRenewal.run();
        },
      },
      schedules: [{ kind: IDENTITY_RENEW_JOB, pattern: "41 3 * * *" }],
    };
  },
};
