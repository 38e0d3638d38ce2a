// /api/v1/commands: queue a command to one or many enrollments, follow it per target, cancel it.
import { Type } from "typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AppContext } from "../../app-context.ts";
import { CANCEL_LIST_LIMIT, CommandError, MAX_TARGETS, REFUSED_LIST_LIMIT, type QueueOptions } from "../../mdm/commands.ts";
import { actorOf } from "./auth.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { commandRequestTypes } from "../../wire/schema/index.ts";
import { didYouMean } from "../../wire/schema/did-you-mean.ts";
import { authErrors } from "./schemas.ts";

import { decodeOptionalCursor, encodeCursor } from "./cursor.ts";

const Queued = Type.Object({
  commandUuid: Type.String(),
  requestType: Type.String(),
  targets: Type.Integer({ description: "How many targets the command was queued to" }),
  refused: Type.Optional(
    Type.Array(Type.Object({ enrollmentId: Type.String(), reason: Type.String() }), {
      description: `With skipRefused: the targets the command was not queued to, and why (at most ${REFUSED_LIST_LIMIT})`,
    }),
  ),
});
const TargetStatus = Type.Union(
  ["pending", "acknowledged", "error", "commandformaterror", "notnow", "expired", "cancelled"].map((s) => Type.Literal(s)) as [ReturnType<typeof Type.Literal>],
);
const Target = Type.Object({
  enrollmentId: Type.String(),
  status: TargetStatus,
  delivered: Type.Boolean({ description: "pending: whether the device has been handed the command (and not answered yet)" }),
  updatedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: "The device's full report, as JSON (data as base64)" }),
  errorChain: Type.Union([Type.Array(Type.Unknown()), Type.Null()]),
});

/**
 * The JSON body, for the OpenAPI document only: the route checks it by hand (parseJsonCommand), because the same
 * route takes raw plists, and the hand check gives the messages admins rely on (and MAX_TARGETS).
 */
export const JsonCommandBody = Type.Object(
  {
    targets: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: MAX_TARGETS, description: "Enrollment ids to queue the command to" }),
    requestType: Type.Unsafe<string>({ type: "string", enum: [...commandRequestTypes()], description: "The command's RequestType, as in Apple's device-management schema" }),
    params: Type.Optional(
      Type.Object({}, { additionalProperties: true, description: "The command's keys besides RequestType, validated against Apple's schema for requestType (data as base64, dates as ISO 8601)" }),
    ),
    priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100, default: 0, description: "Higher is delivered first" })),
    expiresAt: Type.Optional(Type.String({ format: "date-time", description: "After this, the command is no longer delivered; must be in the future" })),
    skipRefused: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          "When some targets may not receive the command (unknown, checked out, wrong platform or channel, missing supervision or access right, " +
          "a key that does not exist for them), queue it to the others and list the refused ones with reasons in the 201 answer, " +
          "instead of refusing the whole batch (409/404)",
      }),
    ),
  },
  { additionalProperties: false },
);
const RawCommandPlist = Type.String({
  format: "binary",
  description: "A raw command plist (a dictionary with Command and, optionally, CommandUUID); the targets go in ?target=ID&target=ID",
});
const PLIST_TYPES = ["application/x-apple-plist", "application/xml", "text/xml"];

/** The request body as the OpenAPI document shows it: one schema per Content-Type the route accepts. */
const commandBodyDocument = {
  content: {
    "application/json": { schema: JsonCommandBody },
    ...Object.fromEntries(PLIST_TYPES.map((type) => [type, { schema: RawCommandPlist }])),
  },
};

function toApiError(e: unknown): never {
  if (e instanceof CommandError) throw new ApiError(e.status, e.status === 409 ? "conflict" : e.status === 404 ? "not_found" : "invalid_request", e.message, e.details);
  throw e;
}

export function commandsRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    // Raw command plists are accepted as they are; JSON is the default.
    app.addContentTypeParser(PLIST_TYPES, { parseAs: "buffer" }, (_req, body, done) => done(null, body));

    app.post(
      "/commands",
      {
        // Validation sees `body: Type.Unknown()`; the document shows commandBodyDocument.
        config: { auditAction: "command.queue", swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, body: commandBodyDocument }, url }) },
        schema: {
          tags: ["commands"],
          summary: "Queue a command",
          description:
            "JSON body {targets, requestType, params}: params are validated against Apple's schema (data as base64, dates as ISO 8601). " +
            "Or a raw command plist with Content-Type application/x-apple-plist and ?target=ID&target=ID.",
          querystring: Type.Object({ target: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])) }),
          body: Type.Unknown(),
          response: { 201: Queued, ...authErrors, 400: Type.Ref("Error"), 404: Type.Ref("Error"), 409: Type.Ref("Error") },
        },
      },
      async (req, reply) => {
        const createdBy = actorOf(req);
        try {
          if (Buffer.isBuffer(req.body)) {
            const t = req.query.target;
            const targets = t === undefined ? [] : Array.isArray(t) ? t : [t];
            return reply.status(201).send(await ctx.mdm.commands.queueRaw(req.body, { targets, createdBy }));
          }
          const body = parseJsonCommand(req.body);
          const opts: QueueOptions = { targets: body.targets, createdBy, priority: body.priority ?? 0, expiresAt: body.expiresAt ?? null, skipRefused: body.skipRefused ?? false };
          return reply.status(201).send(await ctx.mdm.commands.queue(body.requestType, body.params, opts));
        } catch (e) {
          return toApiError(e);
        }
      },
    );

    app.get(
      "/commands/:uuid",
      {
        schema: {
          tags: ["commands"],
          summary: "A command: how many targets are in each state, and its targets page by page",
          params: Type.Object({ uuid: Type.String() }),
          querystring: Type.Object({
            limit: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
            cursor: Type.Optional(Type.String({ description: "nextCursor of the previous page" })),
          }),
          response: {
            200: Type.Object({
              commandUuid: Type.String(),
              requestType: Type.String(),
              createdAt: Type.String({ format: "date-time" }),
              expiresAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
              total: Type.Integer(),
              counts: Type.Record(Type.String(), Type.Integer()),
              targets: Type.Array(Target),
              nextCursor: Type.Union([Type.String(), Type.Null()]),
            }),
            ...authErrors,
            400: Type.Ref("Error"),
            404: Type.Ref("Error"),
          },
        },
      },
      async (req) => {
        const after = decodeOptionalCursor(req.query.cursor, ["string"]);
        const s = await ctx.mdm.commands.status(req.params.uuid, { limit: req.query.limit, ...(after ? { after: after[0] } : {}) });
        if (!s) throw notFound(`command ${req.params.uuid}`);
        return {
          ...s,
          createdAt: new Date(s.createdAt).toISOString(),
          expiresAt: s.expiresAt === null ? null : new Date(s.expiresAt).toISOString(),
          nextCursor: s.nextCursor === null ? null : encodeCursor([s.nextCursor]),
        };
      },
    );

    app.delete(
      "/commands/:uuid",
      {
        config: { auditAction: "command.cancel" },
        schema: {
          tags: ["commands"],
          summary: "Cancel a command for every target that has not been sent it yet",
          description:
            "Targets that were sent the command and have not answered keep it (the device may be executing it) and are listed in notCancelled " +
            "with the reason, as are targets that already answered. force=true also drops the delivered, unanswered ones: they get the terminal " +
            "result 'cancelled' and are not sent the command again (a late answer from the device is ignored).",
          params: Type.Object({ uuid: Type.String() }),
          querystring: Type.Object({ force: Type.Boolean({ default: false, description: "Also cancel for targets that were sent the command and have not answered" }) }),
          response: {
            200: Type.Object({
              cancelled: Type.Integer(),
              notCancelled: Type.Array(Type.Object({ enrollmentId: Type.String(), reason: Type.String() }), { description: `At most ${CANCEL_LIST_LIMIT} targets` }),
              notCancelledTotal: Type.Integer(),
            }),
            ...authErrors,
            400: Type.Ref("Error"),
            404: Type.Ref("Error"),
          },
        },
      },
      async (req) => {
        const outcome = await ctx.mdm.commands.cancel(req.params.uuid, actorOf(req), { force: req.query.force });
        if (outcome === undefined) throw notFound(`command ${req.params.uuid}`);
        return outcome;
      },
    );
  };
}

interface JsonCommand {
  targets: string[];
  requestType: string;
  params: Record<string, unknown>;
  priority?: number;
  expiresAt?: number;
  skipRefused?: boolean;
}

/** Checked by hand rather than by route schema: the same route also takes raw plists. */
function parseJsonCommand(body: unknown): JsonCommand {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("expected a JSON object {targets, requestType, params}");
  const b = body as Record<string, unknown>;
  const known = new Set(Object.keys(JsonCommandBody.properties));
  const extra = Object.keys(b).filter((k) => !known.has(k));
  if (extra.length) throw badRequest(`unknown field${extra.length > 1 ? "s" : ""}: ${extra.map((k) => `${k}${didYouMean(k, known)}`).join(", ")}`);
  if (!Array.isArray(b.targets) || !b.targets.every((t) => typeof t === "string" && t.length > 0 && t.length <= 200)) {
    throw badRequest("targets must be an array of enrollment ids");
  }
  if (b.targets.length > MAX_TARGETS) throw badRequest(`at most ${MAX_TARGETS} targets per command`);
  if (typeof b.requestType !== "string" || !b.requestType) throw badRequest("requestType must be a string, e.g. \"DeviceInformation\"");
  const params = b.params ?? {};
  if (typeof params !== "object" || params === null || Array.isArray(params)) throw badRequest("params must be an object");
  let priority: number | undefined;
  if (b.priority !== undefined) {
    if (!Number.isInteger(b.priority) || (b.priority as number) < -100 || (b.priority as number) > 100) throw badRequest("priority must be an integer from -100 to 100");
    priority = b.priority as number;
  }
  let expiresAt: number | undefined;
  if (b.expiresAt !== undefined) {
    const t = typeof b.expiresAt === "string" ? Date.parse(b.expiresAt) : NaN;
    if (Number.isNaN(t)) throw badRequest("expiresAt must be an ISO 8601 date-time");
    expiresAt = t;
  }
  if (b.skipRefused !== undefined && typeof b.skipRefused !== "boolean") throw badRequest("skipRefused must be true or false");
  return {
    targets: b.targets as string[],
    requestType: b.requestType,
    params: params as Record<string, unknown>,
    ...(priority !== undefined ? { priority } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    ...(b.skipRefused !== undefined ? { skipRefused: b.skipRefused } : {}),
  };
}
