// What the HTTP layer and the jobs are handed: configuration, the store and the services.
// Built once in server/context.ts (the composition root); nothing here is a global.
import type { Logger } from "pino";
import type { OrchardConfig } from "./config.ts";
import type { Store } from "./store/db.ts";
import type { SecretBox } from "./secrets/envelope.ts";
import type { ApiTokenService } from "./auth/api-tokens.ts";
import type { MetricsRegistry } from "./metrics/registry.ts";
import type { AuditLog } from "./events/audit-log.ts";
import type { EventBus } from "./events/bus.ts";
import type { ServerCredentials } from "./server/credentials.ts";
import type { CheckinService } from "./mdm/checkin.ts";
import type { ConnectService } from "./mdm/connect.ts";
import type { CommandService } from "./mdm/commands.ts";
import type { IdentityBinding } from "./mdm/identity-binding.ts";
import type { DeviceCertificateVerifier } from "./http/mdm-device-request.ts";
import type { WebhookService } from "./events/webhooks.ts";
import type { JobRunner } from "./jobs/runner.ts";
import type { EnrollmentProfileService } from "./manage/enrollment-profiles/enrollment-profiles.ts";
import type { ScepIssuance } from "./pki/scep-issuance.ts";
import type { IdentityRenewal } from "./manage/enrollment-profiles/identity-renewal.ts";
import type { PushServices } from "./push/push-services.ts";

export interface MdmServices {
  checkin: CheckinService;
  connect: ConnectService;
  commands: CommandService;
  binding: IdentityBinding;
  verifier: DeviceCertificateVerifier;
}

export interface AppContext {
  config: OrchardConfig;
  store: Store;
  secrets: SecretBox;
  logger: Logger;
  metrics: MetricsRegistry;
  events: EventBus;
  tokens: ApiTokenService;
  audit: AuditLog;
  credentials: ServerCredentials;
  mdm: MdmServices;
  webhooks: WebhookService;
  enrollmentProfiles: EnrollmentProfileService;
  scep: ScepIssuance;
  identityRenewal: IdentityRenewal;
  jobs: JobRunner;
  push: PushServices;
}
