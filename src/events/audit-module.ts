// The audit module: the audit log's API (the log itself is part of the kernel: every module writes to it).
import type { OrchardModule } from "../server/module.ts";
import { auditRoutes } from "../http/api/audit-routes.ts";

export const auditModule: OrchardModule = {
  name: "audit",
  setup(ctx) {
    return { apiRoutes: [auditRoutes(ctx)] };
  },
};
