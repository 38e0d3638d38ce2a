// /api/v1/tokens: list, create and revoke admin API tokens (admin role only).
import { Type } from "typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AppContext } from "../../app-context.ts";
import { ApiTokenError } from "../../auth/api-tokens.ts";
import { conflict, notFound } from "../errors.ts";
import { authErrors } from "./schemas.ts";
import { actorOf } from "./auth.ts";

const RoleSchema = Type.Union([Type.Literal("readonly"), Type.Literal("operator"), Type.Literal("admin")]);

const TokenInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  prefix: Type.String({ description: "First characters of the token, to tell tokens apart" }),
  createdAt: Type.String({ format: "date-time" }),
  lastUsedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});

/** A taken name, an ambiguous revoke or revoking the last admin token is the caller's to fix: 409 with the service's message. */
async function conflictOnTokenError<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ApiTokenError) throw conflict(e.message);
    throw e;
  }
}

export function tokensRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      "/tokens",
      {
        config: { minRole: "admin" },
        schema: { tags: ["tokens"], summary: "List API tokens", response: { 200: Type.Object({ tokens: Type.Array(TokenInfo) }), ...authErrors } },
      },
      async () => ({ tokens: await ctx.tokens.list() }),
    );

    app.post(
      "/tokens",
      {
        config: { minRole: "admin", auditAction: "token.create" },
        schema: {
          tags: ["tokens"],
          summary: "Create an API token (the token is shown only in this response)",
          body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), role: RoleSchema }, { additionalProperties: false }),
          response: { 201: Type.Object({ token: Type.String(), info: TokenInfo }), ...authErrors, 409: Type.Ref("Error") },
        },
      },
      async (req, reply) => reply.status(201).send(await conflictOnTokenError(ctx.tokens.create(req.body.name, req.body.role, actorOf(req)))),
    );

    app.delete(
      "/tokens/:id",
      {
        config: { minRole: "admin", auditAction: "token.revoke" },
        schema: { tags: ["tokens"], summary: "Revoke an API token (not the last live admin token: 409)", params: Type.Object({ id: Type.String() }), response: { 204: Type.Null(), ...authErrors, 404: Type.Ref("Error"), 409: Type.Ref("Error") } },
      },
      async (req, reply) => {
        if (!(await conflictOnTokenError(ctx.tokens.revoke(req.params.id, actorOf(req), { keepLastAdmin: true })))) throw notFound(`active token ${req.params.id}`);
        return reply.status(204).send(null);
      },
    );
  };
}
