// Bearer-token authentication and role checks for /api/v1, and the audit record of the attempts that did not change
// anything: refused or failed changes and failed sign-ins. A change that succeeds is recorded by its service, in
// its own transaction (events/audit-log.ts), so it is in the log once whether it came through the API, the CLI or
// a job. A route states the least role it needs in its config ({ minRole }); otherwise reads need readonly and
// changes need operator.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { roleAllows, type Principal, type Role } from "../../auth/api-tokens.ts";
import type { AppContext } from "../../app-context.ts";
import { ANONYMOUS, tokenActor, type Actor } from "../../events/actor.ts";
import { ApiError } from "../errors.ts";

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    minRole?: Role;
    /** Public routes under /api/v1 (the OpenAPI document). */
    public?: boolean;
    /** Audit action name of the change (as its service records it); defaults to "METHOD /route/pattern". */
    auditAction?: string;
  }
}

const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);


/** How much of a presented token a failed sign-in keeps: enough to tell which one was tried, never the token. */
const TOKEN_PREFIX_KEPT = 8;

/** The actor of an authenticated API request, for the services' audit entries. */
export function actorOf(req: FastifyRequest): Actor {
  if (!req.principal) throw new ApiError(401, "unauthorized", "missing or malformed Authorization: Bearer token");
  return tokenActor(req.principal.name);
}

function presentedToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return m?.[1];
}

export function installApiAuth(app: FastifyInstance, ctx: AppContext): void {
  app.addHook("onRequest", async (req) => {
    const cfg = req.routeOptions.config;
    if (cfg?.public) return;
    const token = presentedToken(req);
    if (!token) throw new ApiError(401, "unauthorized", "missing or malformed Authorization: Bearer token");
    const principal = await ctx.tokens.authenticate(token);
    if (!principal) throw new ApiError(401, "unauthorized", "invalid or revoked API token");
    req.principal = principal;
    const need: Role = cfg?.minRole ?? (CHANGES.has(req.method) ? "operator" : "readonly");
    if (!roleAllows(principal.role, need)) {
      throw new ApiError(403, "forbidden", `this action needs the ${need} role; token "${principal.name}" has ${principal.role}`);
    }
  });

  // Before the response leaves (onSend, not onResponse): whoever sees the refusal can already find it in the log.
  app.addHook("onSend", async (req, reply, payload) => {
    await recordAttempt(req, reply.statusCode);
    return payload;
  });

  async function recordAttempt(req: FastifyRequest, statusCode: number): Promise<void> {
    const action = req.routeOptions.config?.auditAction ?? `${req.method} ${req.routeOptions.url ?? req.url}`;
    try {
      if (statusCode === 401 && !req.principal) {
        // A failed sign-in, on any route: who tried from where, with the token's first characters at most.
        const token = presentedToken(req);
        await ctx.audit.record(ctx.store, {
          actor: ANONYMOUS,
          action: "auth.sign_in_failed",
          target: null,
          statusCode: 401,
          detail: { route: `${req.method} ${req.routeOptions.url ?? req.url.split("?")[0]}`, ip: req.ip, tokenPrefix: token ? token.slice(0, TOKEN_PREFIX_KEPT) : null },
        });
        return;
      }
      if (!CHANGES.has(req.method) || !req.principal) return;
      if (statusCode < 400) return;
      await ctx.audit.record(ctx.store, { actor: tokenActor(req.principal.name), action, target: auditTarget(req), statusCode });
    } catch (err) {
      req.log.error({ err }, "could not write audit record");
    }
  }
}

function auditTarget(req: FastifyRequest): string | null {
  const params = req.params as Record<string, string> | undefined;
  if (!params) return null;
  const values = Object.values(params).filter((v) => typeof v === "string");
  return values.length ? values.join("/") : null;
}
