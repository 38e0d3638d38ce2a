// /api/v1/enrollments: device and user channels, their state, facts and commands.
import { Type } from "typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AppContext } from "../../app-context.ts";
import type { EnrollmentRow } from "../../store/enrollments.ts";
import { PLATFORM_FAMILIES, platformFamilyNamed } from "../../mdm/enrollment-id.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { authErrors } from "./schemas.ts";
import { actorOf } from "./auth.ts";
import { decodeOptionalCursor, encodeCursor } from "./cursor.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableDate = Type.Union([Type.String({ format: "date-time" }), Type.Null()]);

const Enrollment = Type.Object({
  id: Type.String(),
  deviceId: Type.String(),
  channel: Type.String(),
  kind: Type.String(),
  status: Type.String(),
  enrollmentProfileId: NullableString,
  serialNumber: NullableString,
  udid: NullableString,
  platform: NullableString,
  model: NullableString,
  modelName: NullableString,
  productName: NullableString,
  osVersion: NullableString,
  buildVersion: NullableString,
  deviceName: NullableString,
  imei: NullableString,
  meid: NullableString,
  userId: NullableString,
  userShortName: NullableString,
  userLongName: NullableString,
  supervised: Type.Union([Type.Boolean(), Type.Null()]),
  awaitingConfiguration: Type.Boolean(),
  hasUnlockToken: Type.Boolean(),
  hasBootstrapToken: Type.Boolean(),
  push: Type.Object({
    topic: NullableString,
    hasToken: Type.Boolean(),
    tokenInvalidAt: NullableDate,
    lastPushAt: NullableDate,
    lastPushResult: NullableString,
  }),
  certificateFingerprint: NullableString,
  lastSeenAt: NullableDate,
  authenticatedAt: NullableDate,
  activatedAt: NullableDate,
  checkedOutAt: NullableDate,
  createdAt: Type.String({ format: "date-time" }),
});

export function enrollmentView(r: EnrollmentRow) {
  return {
    id: r.id,
    deviceId: r.device_id,
    channel: r.channel,
    kind: r.kind,
    status: r.status,
    enrollmentProfileId: r.enrollment_profile_id,
    serialNumber: r.serial_number,
    udid: r.udid,
    platform: r.platform,
    model: r.model,
    modelName: r.model_name,
    productName: r.product_name,
    osVersion: r.os_version,
    buildVersion: r.build_version,
    deviceName: r.device_name,
    imei: r.imei,
    meid: r.meid,
    userId: r.user_id,
    userShortName: r.user_short_name,
    userLongName: r.user_long_name,
    supervised: r.supervised === null ? null : r.supervised === 1,
    awaitingConfiguration: r.awaiting_configuration === 1,
    hasUnlockToken: r.unlock_token_sealed !== null,
    hasBootstrapToken: r.bootstrap_token_sealed !== null,
    push: { topic: r.topic, hasToken: r.push_token !== null, tokenInvalidAt: iso(r.token_invalid_at), lastPushAt: iso(r.last_push_at), lastPushResult: r.last_push_result },
    certificateFingerprint: r.cert_fingerprint,
    lastSeenAt: iso(r.last_seen_at),
    authenticatedAt: iso(r.authenticated_at),
    activatedAt: iso(r.activated_at),
    checkedOutAt: iso(r.checked_out_at),
    createdAt: new Date(r.created_at).toISOString(),
  };
}

const CommandRow = Type.Object({
  commandUuid: Type.String(),
  requestType: Type.String(),
  status: Type.String(),
  queuedAt: Type.String({ format: "date-time" }),
  updatedAt: NullableDate,
});

export function enrollmentsRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      "/enrollments",
      {
        schema: {
          tags: ["enrollments"],
          summary: "List enrollments (cursor pagination)",
          querystring: Type.Object({
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
            cursor: Type.Optional(Type.String({ description: "nextCursor of the previous page" })),
            status: Type.Optional(Type.Union([Type.Literal("authenticated"), Type.Literal("active"), Type.Literal("checked_out")])),
            channel: Type.Optional(Type.Union([Type.Literal("device"), Type.Literal("user")])),
            serialNumber: Type.Optional(Type.String()),
            deviceId: Type.Optional(Type.String()),
            enrollmentProfileId: Type.Optional(Type.String()),
            platform: Type.Optional(Type.String({ description: `One of ${PLATFORM_FAMILIES.join(", ")}, in any case` })),
          }),
          response: { 200: Type.Object({ enrollments: Type.Array(Enrollment), nextCursor: NullableString }), ...authErrors, 400: Type.Ref("Error") },
        },
      },
      async (req) => {
        const { limit, cursor, platform, ...filter } = req.query;
        const after = decodeOptionalCursor(cursor, ["string"]);
        // Admins type "ios" or "macos"; enrollments store Apple's spelling.
        const family = platform === undefined ? undefined : platformFamilyNamed(platform);
        if (platform !== undefined && !family) throw badRequest(`querystring/platform must be one of: ${PLATFORM_FAMILIES.join(", ")}`);
        const rows = await ctx.mdm.enrollments.list({ ...filter, ...(family ? { platform: family } : {}) }, limit + 1, after?.[0]);
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        return { enrollments: page.map(enrollmentView), nextCursor: rows.length > limit && last ? encodeCursor([last.id]) : null };
      },
    );

    app.get(
      "/enrollments/:id",
      {
        schema: { tags: ["enrollments"], summary: "One enrollment", params: Type.Object({ id: Type.String() }), response: { 200: Enrollment, ...authErrors, 404: Type.Ref("Error") } },
      },
      async (req) => {
        const row = await ctx.mdm.enrollments.get(req.params.id);
        if (!row) throw notFound(`enrollment ${req.params.id}`);
        return enrollmentView(row);
      },
    );

    app.get(
      "/enrollments/:id/commands",
      {
        schema: {
          tags: ["enrollments"],
          summary: "An enrollment's queued commands and recent results",
          params: Type.Object({ id: Type.String() }),
          querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) }),
          response: { 200: Type.Object({ queue: Type.Array(CommandRow), history: Type.Array(CommandRow) }), ...authErrors, 404: Type.Ref("Error") },
        },
      },
      async (req) => {
        const found = await ctx.mdm.enrollments.commands(req.params.id, req.query.limit);
        if (!found) throw notFound(`enrollment ${req.params.id}`);
        const { queue, history } = found;
        const view = (r: (typeof queue)[number]) => ({ ...r, queuedAt: new Date(r.queuedAt).toISOString(), updatedAt: iso(r.updatedAt) });
        return { queue: queue.map(view), history: history.map(view) };
      },
    );

    app.post(
      "/enrollments/:id/renew-identity",
      {
        config: { auditAction: "identity.renew" },
        schema: {
          tags: ["enrollments"],
          summary: "Renew the device's identity certificate now",
          description: "Queues InstallProfile with the device's enrollment profile and a one-time SCEP challenge bound to this device; the device renews in place and keeps its queue.",
          params: Type.Object({ id: Type.String() }),
          response: { 201: Type.Object({ commandUuid: Type.String() }), ...authErrors, 404: Type.Ref("Error"), 409: Type.Ref("Error") },
        },
      },
      async (req, reply) => {
        const r = await ctx.identityRenewal.renewEnrollment(req.params.id, actorOf(req));
        if (!r.ok) throw new ApiError(r.status, r.status === 404 ? "not_found" : "conflict", r.reason);
        return reply.status(201).send({ commandUuid: r.commandUuid });
      },
    );
  };
}
