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
  statusCode: Type.Integer({ description: "The HTTP status of a refused attempt or failed sign-in; 0 for a change its service recorded (from the API, the CLI or a job)" }),
  detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: "What changed, as JSON (never a secret)" }),
});

/** The actions the log holds, for the OpenAPI description (the services name them; see events/audit-log.ts). */
const ACTIONS: ReadonlyArray<[string, string]> = [
  ["token.create", "an API token was created (detail: name, role, prefix)"],
  ["token.revoke", "an API token was revoked (detail: name, role)"],
  ["push_certificate.upload", "a push certificate was uploaded or renewed (target: topic; detail: kind, previousTopic, serial, fingerprint, notAfter)"],
  ["push_certificate.delete", "a push certificate was removed (target: topic)"],
  ["push_certificate.csr", "a push key and CSR were made (detail: subject, publicKeySha256)"],
  ["push.send", "pushes were requested (detail: how many enrollments, how many unknown ids)"],
  ["webhook.create", "a webhook was created (detail: url without credentials or query, events, format)"],
  ["webhook.delete", "a webhook was deleted"],
  ["enrollment_profile.create", "an enrollment profile was created (detail: its settings)"],
  ["enrollment_profile.update", "an enrollment profile was changed (detail: changed fields with from and to)"],
  ["enrollment_profile.delete", "an enrollment profile was deleted"],
  ["enrollment_profile.renew", "an enrollment profile got a new link and challenge (detail: version, expiresAt)"],
  ["scep_challenge.create", "a one-time SCEP challenge was made (target: its profile; detail: challengeId, expiresAt)"],
  ["certificate.revoke", "an issued certificate was revoked (target: serial)"],
  ["identity.renew", "a device's identity renewal was started (target: enrollment; detail: trigger, profile, challengeId)"],
  ["command.queue, command.cancel", "commands queued or cancelled through the API"],
  ["auth.sign_in_failed", "a request to /api/v1 with a missing, unknown or revoked token (actor anonymous; detail: route, ip, the token's first 8 characters)"],
];

const DESCRIPTION =
  "Who did what to which target, and how it ended, whatever the entry point. Actors: `token:<name>` (the API), `cli:<user>@<host>` (the orchard command), " +
  "`system:<job>` (background jobs and start-up), `anonymous` (failed sign-ins). A change that succeeded is recorded once, in its own transaction " +
  '(outcome "ok", statusCode 0); a refused or failed API change is recorded with its HTTP status (outcome "error"). Actions:\n\n' +
  ACTIONS.map(([a, d]) => `- \`${a}\`: ${d}`).join("\n");

export function auditRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      "/audit",
      {
        schema: {
          tags: ["audit"],
          summary: "The audit log: every change, refused change and failed sign-in",
          description: DESCRIPTION,
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
