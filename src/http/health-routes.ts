// Liveness, readiness and Prometheus metrics. Unauthenticated, as load balancers and scrapers expect.
import type { FastifyInstance } from "fastify";
import type { AppContext } from "../app-context.ts";
import { isReachable } from "../store/db.ts";

export function healthRoutes(ctx: AppContext) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get("/healthz", { schema: { hide: true } }, async () => ({ status: "ok" }));
    app.get("/readyz", { schema: { hide: true } }, async (_req, reply) => {
      if (await isReachable(ctx.store)) return { status: "ready", database: "ok" };
      return reply.status(503).send({ status: "unavailable", database: "unreachable" });
    });
    app.get("/metrics", { schema: { hide: true } }, async (_req, reply) => {
      return reply.type("text/plain; version=0.0.4; charset=utf-8").send(ctx.metrics.render());
    });
  };
}
