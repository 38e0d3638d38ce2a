// Builds the fastify application: one instance serves devices (/mdm, /scep, /enroll), admins (/api/v1)
// and operators (/healthz, /readyz, /metrics). On its sockets, PUT /mdm/checkin and /mdm/connect are taken
// before fastify by mdm-fast-path.ts, the one device front end. The other routes come from the modules
// (server/modules.ts): each module's apiRoutes under /api/v1, its publicRoutes at the root. Listening (HTTPS,
// plain HTTP) is serve.ts's business.
import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from "node:https";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { AppContext } from "../app-context.ts";
import type { OrchardConfig } from "../config.ts";
import { handleError, errorBody } from "./errors.ts";
import { installRequestMetrics, requestRecorder } from "./request-metrics.ts";
import { requestLog } from "./request-log.ts";
import { healthRoutes } from "./health-routes.ts";
import { installApiAuth } from "./api/auth.ts";
import { installQueryRules } from "./api/query-rules.ts";
import { ErrorResponse } from "./api/schemas.ts";
import { deviceRequestHandler } from "./mdm-device-request.ts";
import { mdmFastPath } from "./mdm-fast-path.ts";
import type { RouteModule } from "../server/module.ts";

export type { RouteModule };

export interface HttpAppOptions {
  /** The https server options when fastify itself terminates TLS. */
  https?: HttpsServerOptions;
  /** Extra route modules mounted under /api/v1 (authenticated). */
  apiModules?: RouteModule[];
  /** Extra device-facing or public route modules mounted at the root. */
  publicModules?: RouteModule[];
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

const listeners = new WeakMap<FastifyInstance, RequestListener>();

/** A route as the server declared it: what role it needs (config.minRole), whether it is public. */
export interface RouteEntry {
  method: string;
  url: string;
  minRole?: "readonly" | "operator" | "admin";
  public?: boolean;
}

const routeTables = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Every route of an app built by buildHttpApp (the rule-per-route tests walk it). */
export function routeTableOf(app: FastifyInstance): readonly RouteEntry[] {
  return routeTables.get(app) ?? [];
}

/**
 * The timeouts of every listener serving the app (HTTPS here, plain HTTP in serve.ts). Keep-alive outlasts the
 * idle timeout of common load balancers (60 s), so a proxy never reuses a connection Orchard is closing (a 502).
 *
 * A client has `requestTimeoutSeconds` to send its headers and its whole body, else 408 and the connection is
 * closed: without a bound, one trickling a byte a second (or declaring a body and stalling) held a socket for
 * ever. Node tracks this in the HTTP parser from the moment a connection is accepted (a client that connects and
 * sends nothing is covered too) until the body's last byte, whoever reads the body (the device fast path reads
 * it itself), and not while a handler works on a complete request or a keep-alive connection waits for the
 * next one. No socket inactivity timeout: it would also cut a handler that is slow to answer.
 */
export function configureListener<S extends HttpServer>(server: S, limits: Pick<OrchardConfig, "requestTimeoutSeconds">): S {
  const requestTimeoutMs = limits.requestTimeoutSeconds * 1000;
  server.keepAliveTimeout = 72_000;
  server.requestTimeout = requestTimeoutMs;
  // Headers are part of the request: the same bound (node requires headersTimeout <= requestTimeout).
  server.headersTimeout = requestTimeoutMs;
  // How often node looks for requests past their bound (default 30 s, which would stretch a 60 s bound to 90 s).
  // Read when the server starts listening, so setting it here, before listen, takes effect.
  (server as S & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(5_000, Math.max(100, Math.floor(requestTimeoutMs / 10)));
  server.setTimeout(0);
  return server;
}

/** What the app's own server runs for each request: for further servers (plain HTTP) to run the same. */
export function requestListenerOf(app: FastifyInstance): RequestListener {
  const listener = listeners.get(app);
  if (listener === undefined) throw new Error("not an app built by buildHttpApp");
  return listener;
}

export async function buildHttpApp(ctx: AppContext, options: HttpAppOptions = {}): Promise<FastifyInstance> {
  const record = requestRecorder(ctx.metrics);
  const handleDevice = deviceRequestHandler({
    checkin: ctx.mdm.checkin,
    connect: ctx.mdm.connect,
    verifier: ctx.mdm.verifier,
    ...(ctx.config.certHeader ? { certHeader: ctx.config.certHeader.toLowerCase() } : {}),
    metrics: ctx.metrics,
  });
  let closing = false;
  const fastPath = mdmFastPath({ handle: handleDevice, bodyLimit: ctx.config.mdmBodyLimit, record, logger: ctx.logger, closing: () => closing });
  let listener: RequestListener | undefined;

  const app = Fastify({
    loggerInstance: ctx.logger,
    logController: requestLog(), // one log line per request, not fastify's two
    requestIdHeader: "x-request-id",
    genReqId: () => randomUUID(),
    bodyLimit: ctx.config.apiBodyLimit,
    // Refuse fields a schema does not allow (additionalProperties: false) instead of silently dropping them.
    ajv: { customOptions: { removeAdditional: false } },
    return503OnClosing: true,
    forceCloseConnections: "idle",
    // Device requests are taken before fastify (mdm-fast-path.ts).
    serverFactory: (fastifyHandler: RequestListener) => {
      listener = (req, res) => {
        if (!fastPath(req, res)) fastifyHandler(req, res);
      };
      return configureListener(options.https ? createHttpsServer(options.https, listener) : createHttpServer(listener), ctx.config);
    },
  } as FastifyServerOptions).withTypeProvider<TypeBoxTypeProvider>();
  listeners.set(app, listener!);
  const table: RouteEntry[] = [];
  routeTables.set(app, table);
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) {
      if (method === "HEAD") continue;
      const cfg = route.config as { minRole?: RouteEntry["minRole"]; public?: boolean } | undefined;
      table.push({ method, url: route.url, ...(cfg?.minRole ? { minRole: cfg.minRole } : {}), ...(cfg?.public ? { public: true } : {}) });
    }
  });
  app.addHook("preClose", (done) => {
    closing = true;
    done();
  });

  app.setErrorHandler(handleError);
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(errorBody("not_found", `no route for ${req.method} ${req.url.split("?")[0]}`));
  });
  installRequestMetrics(app, record);
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
  for (const { parts } of ctx.modules) for (const mod of parts.publicRoutes ?? []) await app.register(mod as (app: FastifyInstance) => Promise<void>);
  for (const mod of options.publicModules ?? []) await app.register(mod as (app: FastifyInstance) => Promise<void>);

  await app.register(
    async (api) => {
      installApiAuth(api, ctx);
      installQueryRules(api);
      api.get("/openapi.json", { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
      for (const { parts } of ctx.modules) for (const mod of parts.apiRoutes ?? []) await api.register(mod as (app: FastifyInstance) => Promise<void>);
      for (const mod of options.apiModules ?? []) await api.register(mod as (app: FastifyInstance) => Promise<void>);
    },
    { prefix: "/api/v1" },
  );
  return app;
}

