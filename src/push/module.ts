// The push module: push certificates, the APNs client, the dispatcher (pushes owed by queued commands are
// recorded in the command's transaction), the re-push sweep and the certificate-expiry check.
import type { OrchardModule } from "../server/module.ts";
import { pushRoutes } from "../http/api/push-routes.ts";
import { buildPushServices } from "./push-services.ts";
import { PUSH_SCHEDULES } from "./push-dispatcher.ts";

export const pushModule: OrchardModule = {
  name: "push",
  setup(ctx) {
    ctx.push = buildPushServices(ctx);
    return { apiRoutes: [pushRoutes(ctx)], schedules: PUSH_SCHEDULES };
  },
};
