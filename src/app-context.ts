// What the server is built of: the kernel every module may use (configuration, the store, the outbox, the job
// runner, the result-processing registry, audit, tokens, credentials) and the services the modules provide.
// Built once in server/context.ts from the module list (server/modules.ts); nothing here is a global.
// Route modules take the few services they use (a Pick of this), not the whole context.
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
import type { DeviceCertificateVerifier } from "./mdm/device-identity.ts";
import type { Outbox } from "./events/outbox.ts";
import type { ResultProcessors } from "./mdm/result-processors.ts";
import type { OrchardModule, ModuleParts } from "./server/module.ts";
import type { CertificateService } from "./pki/certificate-service.ts";
import type { EnrollmentQueries } from "./mdm/enrollment-queries.ts";
import type { WebhookService } from "./events/webhooks.ts";
import type { JobRunner } from "./jobs/runner.ts";
import type { EnrollmentProfileService } from "./manage/enrollment-profiles/enrollment-profiles.ts";
import type { ScepIssuance } from "./pki/scep-issuance.ts";
import type { IdentityRenewal } from "./manage/enrollment-profiles/identity-renewal.ts";
import type { PushServices } from "./push/push-services.ts";
import type { DeviceService } from "./manage/devices/devices.ts";

export interface MdmServices {
  checkin: CheckinService;
  connect: ConnectService;
  commands: CommandService;
  binding: IdentityBinding;
  verifier: DeviceCertificateVerifier;
  enrollments: EnrollmentQueries;
}

export interface AppContext {
  config: OrchardConfig;
  store: Store;
  secrets: SecretBox;
  logger: Logger;
  metrics: MetricsRegistry;
  /** In-process wake-ups and observers; never the only record of work (that is the outbox). */
  events: EventBus;
  /** Durable reactions, recorded in the transaction of the change that causes them. */
  outbox: Outbox;
  /** Reactions to command results by RequestType, run in the result's transaction. */
  results: ResultProcessors;
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
  certificates: CertificateService;
  /** Devices, their inventory and history (src/manage/devices). */
  devices: DeviceService;
  /** The modules the server is built of, with the parts each set up. */
  modules: ReadonlyArray<{ module: OrchardModule; parts: ModuleParts }>;
}
