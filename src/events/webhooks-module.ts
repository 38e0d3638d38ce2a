// The webhooks module: subscriptions, deliveries recorded with every event (outbox) and sent by jobs.
import type { OrchardModule } from "../server/module.ts";
import { webhooksRoutes } from "../http/api/webhooks-routes.ts";
import { WebhookService, WEBHOOK_JOB } from "./webhooks.ts";

export const webhooksModule: OrchardModule = {
  name: "webhooks",
  setup(ctx) {
    const webhooks = new WebhookService(ctx.store, ctx.secrets, ctx.logger, ctx.audit);
    webhooks.subscribe(ctx.outbox);
    ctx.webhooks = webhooks;
    return {
      apiRoutes: [webhooksRoutes(ctx)],
      jobs: { [WEBHOOK_JOB]: (payload, job) => webhooks.deliver(payload, job.attempts, job.max_attempts) },
    };
  },
};
