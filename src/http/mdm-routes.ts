// The device-facing MDM endpoints inside fastify: what app.inject() reaches, and the route table's record of
// them. Requests on the listening sockets are taken before fastify by mdm-fast-path.ts; both hand them to
// mdm-device-request.ts.
import type { FastifyInstance } from "fastify";
import type { LevelWithSilent as LogLevel, Logger } from "pino";
import { MDM_ROUTES, type DeviceRequestHandler } from "./mdm-device-request.ts";

export function mdmRoutes(handle: DeviceRequestHandler, bodyLimit: number, logger: Logger) {
  return async (app: FastifyInstance): Promise<void> => {
    // Device bodies are plists whatever the Content-Type says (command reports may have none at all).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit }, (_req, body, done) => done(null, body));

    // Routine device traffic is counted in /metrics, not logged line by line; refusals are logged.
    const logLevel: LogLevel = logger.isLevelEnabled("warn") ? "warn" : (logger.level as LogLevel);
    for (const [path, endpoint] of Object.entries(MDM_ROUTES)) {
      app.put(path, { logLevel, schema: { hide: true } }, async (req, reply) => {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const answer = await handle(endpoint, { headers: req.headers, socket: req.raw.socket, body });
        if (answer.refusal !== undefined) req.log.warn({ status: answer.status, reason: answer.refusal }, "device request refused");
        reply.status(answer.status);
        if (answer.body === undefined) return reply.send("");
        return reply.type(answer.contentType ?? "application/xml").send(answer.body);
      });
    }
  };
}
