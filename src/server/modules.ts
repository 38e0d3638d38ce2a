// The server is this list of modules, set up in this order (a module may use the services of those above it).
// Adding a concept: write its folder with a module.ts (see server/module.ts), then add one line here.
import type { Store } from "../store/db.ts";
import { migrate, type MigrateOutcome } from "../store/migrate.ts";
import type { OrchardModule } from "./module.ts";
import { pushModule } from "../push/module.ts";
import { enrollmentProfilesModule } from "../manage/enrollment-profiles/module.ts";
import { pkiModule } from "../pki/module.ts";
import { mdmModule } from "../mdm/module.ts";
import { webhooksModule } from "../events/webhooks-module.ts";
import { auditModule } from "../events/audit-module.ts";
import { tokensModule } from "../auth/module.ts";
import { devicesModule } from "../manage/devices/module.ts";

export const MODULES: readonly OrchardModule[] = [pushModule, enrollmentProfilesModule, pkiModule, mdmModule, webhooksModule, auditModule, tokensModule, devicesModule];

/** Applies the core migrations and every module's. */
export function migrateAll(store: Store, modules: readonly OrchardModule[] = MODULES): Promise<MigrateOutcome> {
  return migrate(
    store,
    modules.flatMap((m) => (m.migrations ? [m.migrations] : [])),
  );
}
