// Bearer-token authentication and role checks for /api/v1, and the audit record of every change.
// A route states the least role it needs in its config ({ minRole }); otherwise reads need readonly
// and changes need operator.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { roleAllows, type Principal, type Role } from "../../auth/api-tokens.ts";
import type { AppContext } from "../../app-context.ts";
import { ApiError } from "../errors.ts";

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    minRole?: Role;
    /** Public routes under /api/v1 (the OpenAPI document). */
    public?: boolean;
    /** Audit action name; defaults to "METHOD /route/pattern". */
    auditAction?: string;
  }
}

const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function installApiAuth(app: FastifyInstance, ctx: AppContext): void {
  app.addHook("onRequest", async (req) => {
    const cfg = req.routeOptions.config;
    if (cfg?.public) return;
    const header = req.headers.authorization;
    const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!m?.[1]) throw new ApiError(401, "unauthorized", "missing or malformed Authorization: Bearer token");
    const principal = await ctx.tokens.authenticate(m[1]);
    if (!principal) throw new ApiError(401, "unauthorized", "invalid or revoked API token");
    req.principal = principal;
    const need: Role = cfg?.minRole ?? (CHANGES.has(req.method) ? "operator" : "readonly");
    if (!roleAllows(principal.role, need)) {
      throw new ApiError(403, "forbidden", `this action needs the ${need} role; token "${principal.name}" has ${principal.role}`);
    }
  });

  app.addHook("onResponse", async (req, reply) => {
    if (!CHANGES.has(req.method) || !req.principal) return;
    try {
      await ctx.audit.record({
        actor: `token:${req.principal.name}`,
        action: req.routeOptions.config?.auditAction ?? `${req.method} ${req.routeOptions.url ?? req.url}`,
        target: auditTarget(req),
        statusCode: reply.statusCode,
      });
    } catch (err) {
      req.log.error({ err }, "could not write audit record");
    }
  });
}

function auditTarget(req: FastifyRequest): string | null {
  const params = req.params as Record<string, string> | undefined;
  if (!params) return null;
  const values = Object.values(params).filter((v) => typeof v === "string");
  return values.length ? values.join("/") : null;
}
