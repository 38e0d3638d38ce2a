// Builds the fastify application: one instance serves devices (/mdm, /scep, /enroll), admins (/api/v1)
// and operators (/healthz, /readyz, /metrics). Listening (HTTPS, plain HTTP) is server.ts's business.
import { randomUUID } from "node:crypto";
import type { ServerOptions as HttpsServerOptions } from "node:https";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { AppContext } from "../app-context.ts";
import { handleError, errorBody } from "./errors.ts";
import { installRequestMetrics } from "./request-metrics.ts";
import { healthRoutes } from "./health-routes.ts";
import { installApiAuth } from "./api/auth.ts";
import { ErrorResponse } from "./api/schemas.ts";
import { tokensRoutes } from "./api/tokens-routes.ts";
import { auditRoutes } from "./api/audit-routes.ts";
import { commandsRoutes } from "./api/commands-routes.ts";
import { enrollmentsRoutes } from "./api/enrollments-routes.ts";
import { mdmRoutes } from "./mdm-routes.ts";
import { webhooksRoutes } from "./api/webhooks-routes.ts";
import { enrollmentProfilesRoutes } from "./api/enrollment-profiles-routes.ts";
import { enrollRoutes } from "./enroll-routes.ts";
import { scepRoutes } from "./scep-routes.ts";
import { certificatesRoutes } from "./api/certificates-routes.ts";
import { pushRoutes } from "./api/push-routes.ts";

export type RouteModule = (app: FastifyInstance) => Promise<void>;

export interface HttpAppOptions {
  /** The https server options when fastify itself terminates TLS. */
  https?: HttpsServerOptions;
  /** Extra route modules mounted under /api/v1 (authenticated). */
  apiModules?: RouteModule[];
  /** Extra device-facing or public route modules mounted at the root. */
  publicModules?: RouteModule[];
}

export async function buildHttpApp(ctx: AppContext, options: HttpAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.logger,
    requestIdHeader: "x-request-id",
    genReqId: () => randomUUID(),
    bodyLimit: ctx.config.apiBodyLimit,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    ...(options.https ? { https: options.https } : {}),
  } as FastifyServerOptions).withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler(handleError);
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(errorBody("not_found", `no route for ${req.method} ${req.url.split("?")[0]}`));
  });
  installRequestMetrics(app, ctx.metrics);
  app.addSchema(ErrorResponse);

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "Orchard admin API", version: "1", description: "Manage Apple devices enrolled in Orchard." },
      servers: [{ url: ctx.config.publicUrl }],
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/api/docs" });

  await app.register(healthRoutes(ctx));
  await app.register(
    mdmRoutes({
      checkin: ctx.mdm.checkin,
      connect: ctx.mdm.connect,
      verifier: ctx.mdm.verifier,
      bodyLimit: ctx.config.mdmBodyLimit,
      ...(ctx.config.certHeader ? { certHeader: ctx.config.certHeader.toLowerCase() } : {}),
      metrics: ctx.metrics,
      logger: ctx.logger,
    }),
  );
  await app.register(enrollRoutes(ctx.enrollmentProfiles));
  await app.register(scepRoutes({ issuance: ctx.scep, ca: () => ctx.credentials.ca, ra: () => ctx.credentials.scepRa, bodyLimit: 256 * 1024, metrics: ctx.metrics }));
  for (const mod of options.publicModules ?? []) await app.register(mod);

  await app.register(
    async (api) => {
      installApiAuth(api, ctx);
      api.get("/openapi.json", { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
      await api.register(tokensRoutes(ctx));
      await api.register(auditRoutes(ctx));
      await api.register(enrollmentsRoutes(ctx));
      await api.register(commandsRoutes(ctx));
      await api.register(webhooksRoutes(ctx));
      await api.register(enrollmentProfilesRoutes(ctx));
      await api.register(certificatesRoutes(ctx));
      await api.register(pushRoutes(ctx));
      for (const mod of options.apiModules ?? []) await api.register(mod);
    },
    { prefix: "/api/v1" },
  );
  return app;
}
