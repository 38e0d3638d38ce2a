// The PKI module: SCEP issuance of device identities, the issued-certificate list and revocation (checked on
// every device request, on every replica, within seconds).
import type { OrchardModule } from "../server/module.ts";
import { scepRoutes } from "../http/scep-routes.ts";
import { certificatesRoutes } from "../http/api/certificates-routes.ts";
import { ScepIssuance } from "./scep-issuance.ts";
import { CertificateService } from "./certificate-service.ts";

export const pkiModule: OrchardModule = {
  name: "pki",
  setup(ctx) {
    const { credentials } = ctx;
    ctx.certificates = new CertificateService(ctx.store, ctx.audit);
    ctx.scep = new ScepIssuance({
      store: ctx.store,
      ca: () => credentials.ca,
      ra: () => credentials.scepRa,
      allowLegacyDes: ctx.config.scepAllowLegacyDes,
      identityValidityDays: 365,
      checkChallenge: (c) => ctx.enrollmentProfiles.checkChallenge(c),
      redeemChallenge: (c, tx) => ctx.enrollmentProfiles.redeemChallenge(c, tx),
      logger: ctx.logger,
    });
    return {
      apiRoutes: [certificatesRoutes(ctx)],
      publicRoutes: [scepRoutes({ issuance: ctx.scep, ca: () => credentials.ca, ra: () => credentials.scepRa, bodyLimit: 256 * 1024, metrics: ctx.metrics })],
      start: () => ctx.certificates.start((err) => ctx.logger.error({ err }, "could not read certificate revocations")),
      stop: async () => ctx.certificates.stop(),
    };
  },
};
