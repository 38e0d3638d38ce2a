// One log line per request the app answers ("request completed" with method, url, status and ms) in place of
// fastify's two ("incoming request" then "request completed" with the whole reply object). It is fastify's own
// hook for its request log lines (the logController option), so no line is written twice and fastify's other
// lines (stream errors, writeHead failures) stay as they are. Device requests taken before fastify
// (mdm-fast-path.ts) are not logged here: they are the hot path.
import { LogController, type FastifyReply, type FastifyRequest } from "fastify";
import { maskUrl } from "../log/logger.ts";

class OneLineRequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    // reply.log carries the request id; the URL is masked because enrollment links carry their secret in it.
    const line = { method: req.method, url: maskUrl(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (error) reply.log.error({ ...line, err: error }, "request errored");
    else reply.log.info(line, "request completed");
  }
}

/** For fastify's logController option. */
export function requestLog(): LogController {
  return new OneLineRequestLog();
}
