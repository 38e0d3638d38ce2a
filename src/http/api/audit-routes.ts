// /api/v1/audit: the audit log, newest first, cursor-paginated.
import { Type } from "typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AppContext } from "../../app-context.ts";
import { authErrors } from "./schemas.ts";
import { decodeOptionalCursor, encodeCursor } from "./cursor.ts";

const Entry = Type.Object({
  id: Type.String(),
  at: Type.String({ format: "date-time" }),
  actor: Type.String(),
  action: Type.String(),
  target: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.Union([Type.Literal("ok"), Type.Literal("error")]),
  statusCode: Type.Integer(),
  detail: Type.Union([Type.String(), Type.Null()]),
});

export function auditRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      "/audit",
      {
        schema: {
          tags: ["audit"],
          summary: "The audit log of changes made through the admin API",
          querystring: Type.Object({
            limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
            cursor: Type.Optional(Type.String({ description: "nextCursor of the previous page" })),
            actor: Type.Optional(Type.String()),
            action: Type.Optional(Type.String()),
            target: Type.Optional(Type.String()),
          }),
          response: { 200: Type.Object({ entries: Type.Array(Entry), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...authErrors, 400: Type.Ref("Error") },
        },
      },
      async (req) => {
        const { limit, cursor, actor, action, target } = req.query;
        const before = decodeOptionalCursor(cursor, ["string"]);
        const r = await ctx.audit.list({ limit, ...(before ? { before: before[0] } : {}), ...(actor ? { actor } : {}), ...(action ? { action } : {}), ...(target ? { target } : {}) });
        return { ...r, nextCursor: r.nextCursor === null ? null : encodeCursor([r.nextCursor]) };
      },
    );
  };
}
