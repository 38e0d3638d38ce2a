// The SCEP endpoint (RFC 8894) at /scep: GetCACaps, GetCACert, and PKIOperation by POST (the body is the
// message; a copy some clients also put in the query string is ignored) or by GET (base64 in `message`,
// standard or URL-safe alphabet, percent-encoded).
import type { FastifyInstance, FastifyReply } from "fastify";
import type { MetricsRegistry } from "../metrics/registry.ts";
import { getCaCapsText, getCaCertResponse, ScepMessageError } from "../pki/scep-server.ts";
import type { ScepIssuance } from "../pki/scep-issuance.ts";
import type { SigningIdentity } from "../pki/issue.ts";

export interface ScepRouteDeps {
  issuance: ScepIssuance;
  ca: () => SigningIdentity;
  ra: () => SigningIdentity;
  bodyLimit: number;
  metrics: MetricsRegistry;
}

const PKI_MESSAGE = "application/x-pki-message";

/** The query string as parsed: a parameter given twice arrives as an array. */
type ScepQuery = { operation?: string | string[]; message?: string | string[] };

/**
 * The SCEP parameters, each given at most once, or the name of one given more than once (which copy
 * would be meant cannot be told, so the request is refused).
 */
function scepParameters(query: ScepQuery): { operation?: string; message?: string } | { repeated: string } {
  const { operation, message } = query;
  if (Array.isArray(operation)) return { repeated: "operation" };
  if (Array.isArray(message)) return { repeated: "message" };
  return { ...(operation === undefined ? {} : { operation }), ...(message === undefined ? {} : { message }) };
}

export function scepRoutes(deps: ScepRouteDeps) {
  const outcomes = deps.metrics.counter("orchard_scep_requests_total", "SCEP PKIOperations by message type and outcome.");
  return async (app: FastifyInstance): Promise<void> => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: deps.bodyLimit }, (_req, body, done) => done(null, body));

    const pkiOperation = async (message: Uint8Array, reply: FastifyReply) => {
      try {
        const { reply: certRep, outcome } = await deps.issuance.pkiOperation(message);
        outcomes.inc({ type: String(outcome.messageType), status: outcome.status });
        if (outcome.status === "FAILURE") reply.log.warn({ transactionId: outcome.transactionId, failInfo: outcome.failInfo, reason: outcome.reason }, "SCEP request refused");
        return reply.type(PKI_MESSAGE).send(Buffer.from(certRep));
      } catch (e) {
        if (e instanceof ScepMessageError) {
          outcomes.inc({ type: "unreadable", status: "400" });
          return reply.status(400).type("text/plain; charset=utf-8").send(`not a SCEP message: ${e.message}\n`);
        }
        throw e;
      }
    };

    app.get<{ Querystring: ScepQuery }>("/scep", { schema: { hide: true } }, async (req, reply) => {
      const q = scepParameters(req.query);
      if ("repeated" in q) return reply.status(400).type("text/plain; charset=utf-8").send(`the ${q.repeated} parameter is given more than once\n`);
      const op = q.operation;
      if (op === "GetCACaps") return reply.type("text/plain; charset=utf-8").send(getCaCapsText());
      if (op === "GetCACert") {
        const r = getCaCertResponse(deps.ca(), deps.ra());
        return reply.type(r.contentType).send(Buffer.from(r.body));
      }
      if (op === "PKIOperation") {
        const m = q.message;
        if (!m) return reply.status(400).type("text/plain; charset=utf-8").send("PKIOperation by GET needs the message parameter\n");
        const compact = m.replace(/\s+/g, "");
        if (!/^[A-Za-z0-9+/_-]+=*$/.test(compact)) return reply.status(400).type("text/plain; charset=utf-8").send("message is not base64\n");
        return pkiOperation(new Uint8Array(Buffer.from(compact, /[-_]/.test(compact) ? "base64url" : "base64")), reply);
      }
      return reply.status(400).type("text/plain; charset=utf-8").send(`unknown SCEP operation "${op ?? ""}" (GetCACaps, GetCACert, PKIOperation)\n`);
    });

    app.post<{ Querystring: ScepQuery }>("/scep", { schema: { hide: true } }, async (req, reply) => {
      // A copy of the message in the query string is ignored (see above), repeated or not.
      if (req.query.operation !== "PKIOperation") return reply.status(400).type("text/plain; charset=utf-8").send("POST supports operation=PKIOperation only\n");
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (body.length === 0) return reply.status(400).type("text/plain; charset=utf-8").send("empty PKIOperation body\n");
      return pkiOperation(new Uint8Array(body), reply);
    });
  };
}
