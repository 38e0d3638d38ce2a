// /api/v1/enrollment-profiles: the enrollment profiles admins hand out, their .mobileconfig and devices.
import { Type } from "typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AppContext } from "../../app-context.ts";
import { PROFILE_DEFAULTS, ProfileError, type ProfileInput } from "../../manage/enrollment-profiles/enrollment-profiles.ts";
import { ApiError } from "../errors.ts";
import { roleAllows, type Principal, type Role } from "../../auth/api-tokens.ts";
import { authErrors } from "./schemas.ts";
import { actorOf } from "./auth.ts";
import { decodeOptionalCursor, encodeCursor } from "./cursor.ts";
import { enrollmentView } from "./enrollments-routes.ts";

export const MOBILECONFIG_TYPE = "application/x-apple-aspen-config";

const Fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.String({ maxLength: 2000, description: "Shown to admins only" }),
  userAffinity: Type.Union([Type.Literal("none"), Type.Literal("user")], { description: "none: corporate userless, shared or kiosk devices; user: the device belongs to a named user" }),
  ownership: Type.Union([Type.Literal("corporate"), Type.Literal("personal")]),
  accessRights: Type.Integer({ description: "The MDM payload's AccessRights (default 8191, everything)" }),
  signMessage: Type.Boolean({ description: "Devices sign every request with Mdm-Signature" }),
  checkOutWhenRemoved: Type.Boolean(),
  serverCapabilities: Type.Array(Type.String()),
  separateCheckInUrl: Type.Boolean({ description: "Give devices a CheckInURL separate from the ServerURL" }),
  useDevelopmentApns: Type.Boolean(),
  removalDisallowed: Type.Boolean({ description: "PayloadRemovalDisallowed (honoured on supervised devices)" }),
  signed: Type.Boolean({ description: "Serve the .mobileconfig CMS-signed (default)" }),
  validityDays: Type.Integer({ description: "Days the download link and the profile's SCEP challenge work (default 14)" }),
  keySize: Type.Union([Type.Literal(2048), Type.Literal(4096)]),
  subjectTemplate: Type.String({
    description:
      "Identity certificate subject; variables %SerialNumber%, %UDID%, %DeviceName%, %ProfileName%. The device variables are filled when Orchard knows the device (identity renewal); in a generic download their RDNs are left out and a CN becomes \"Orchard MDM identity\"",
  }),
};
const CreateBody = Type.Object(
  {
    name: Fields.name,
    description: Type.Optional(Fields.description),
    userAffinity: Type.Optional(Fields.userAffinity),
    ownership: Type.Optional(Fields.ownership),
    accessRights: Type.Optional(Fields.accessRights),
    signMessage: Type.Optional(Fields.signMessage),
    checkOutWhenRemoved: Type.Optional(Fields.checkOutWhenRemoved),
    serverCapabilities: Type.Optional(Fields.serverCapabilities),
    separateCheckInUrl: Type.Optional(Fields.separateCheckInUrl),
    useDevelopmentApns: Type.Optional(Fields.useDevelopmentApns),
    removalDisallowed: Type.Optional(Fields.removalDisallowed),
    signed: Type.Optional(Fields.signed),
    validityDays: Type.Optional(Fields.validityDays),
    keySize: Type.Optional(Fields.keySize),
    subjectTemplate: Type.Optional(Fields.subjectTemplate),
  },
  { additionalProperties: false },
);
const UpdateBody = Type.Partial(Type.Object(Fields), { additionalProperties: false });
const Profile = Type.Object({
  id: Type.String(),
  ...Fields,
  version: Type.Integer(),
  topic: Type.String(),
  deliverable: Type.Boolean(),
  notDeliverableReason: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.String({ format: "date-time" }),
  lapsed: Type.Boolean(),
  links: Type.Object({
    enroll: Type.Optional(Type.String({ description: "Public download link of the signed profile (it enrolls devices): shown to operator and admin tokens only" })),
    mobileconfig: Type.String(),
  }),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
});

/**
 * Enrollment material (the public enroll link, the .mobileconfig with its SCEP challenge) enrolls devices, which
 * is an operator's act: a readonly token sees a profile without its enroll link.
 */
const ENROLLMENT_MATERIAL_ROLE: Role = "operator";

function forPrincipal<P extends { links: { enroll?: string; mobileconfig: string } }>(profile: P, principal: Principal | undefined): P {
  if (principal && roleAllows(principal.role, ENROLLMENT_MATERIAL_ROLE)) return profile;
  return { ...profile, links: { mobileconfig: profile.links.mobileconfig } };
}

function rethrow(e: unknown): never {
  if (e instanceof ProfileError) {
    const code = { 400: "invalid_request", 404: "not_found", 409: "conflict", 410: "gone" }[e.status];
    throw new ApiError(e.status, code, e.message);
  }
  throw e;
}

export function enrollmentProfilesRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  const profiles = ctx.enrollmentProfiles;
  const Id = Type.Object({ id: Type.String() });
  return async (app) => {
    app.get("/enrollment-profiles", { schema: { tags: ["enrollment profiles"], summary: "List enrollment profiles", response: { 200: Type.Object({ profiles: Type.Array(Profile) }), ...authErrors } } }, async (req) => ({
      profiles: (await profiles.list()).map((p) => forPrincipal(p, req.principal)),
    }));

    app.post(
      "/enrollment-profiles",
      { config: { minRole: "admin", auditAction: "enrollment_profile.create" }, schema: { tags: ["enrollment profiles"], summary: "Create an enrollment profile", body: CreateBody, response: { 201: Profile, ...authErrors, 400: Type.Ref("Error"), 409: Type.Ref("Error") } } },
      async (req, reply) => {
        const input: ProfileInput = { ...PROFILE_DEFAULTS, ...req.body };
        return reply.status(201).send(await profiles.create(input, actorOf(req)).catch(rethrow));
      },
    );

    app.get("/enrollment-profiles/:id", { schema: { tags: ["enrollment profiles"], summary: "One enrollment profile", params: Id, response: { 200: Profile, ...authErrors, 404: Type.Ref("Error") } } }, async (req) =>
      forPrincipal(await profiles.get(req.params.id).catch(rethrow), req.principal),
    );

    app.patch(
      "/enrollment-profiles/:id",
      { config: { minRole: "admin", auditAction: "enrollment_profile.update" }, schema: { tags: ["enrollment profiles"], summary: "Change an enrollment profile (its payload UUIDs change with its version)", params: Id, body: UpdateBody, response: { 200: Profile, ...authErrors, 400: Type.Ref("Error"), 404: Type.Ref("Error"), 409: Type.Ref("Error") } } },
      async (req) => profiles.update(req.params.id, req.body, actorOf(req)).catch(rethrow),
    );

    app.delete(
      "/enrollment-profiles/:id",
      { config: { minRole: "admin", auditAction: "enrollment_profile.delete" }, schema: { tags: ["enrollment profiles"], summary: "Delete an enrollment profile (enrolled devices keep working)", params: Id, response: { 204: Type.Null(), ...authErrors, 404: Type.Ref("Error") } } },
      async (req, reply) => {
        await profiles.delete(req.params.id, actorOf(req)).catch(rethrow);
        return reply.status(204).send(null);
      },
    );

    app.post(
      "/enrollment-profiles/:id/renew",
      { config: { minRole: "admin", auditAction: "enrollment_profile.renew" }, schema: { tags: ["enrollment profiles"], summary: "Issue a new download link and SCEP challenge; the old ones stop working", params: Id, response: { 200: Profile, ...authErrors, 404: Type.Ref("Error") } } },
      async (req) => profiles.renew(req.params.id, actorOf(req)).catch(rethrow),
    );

    app.get(
      "/enrollment-profiles/:id/mobileconfig",
      {
        // The profile carries a usable SCEP challenge: whoever downloads it can enroll devices.
        config: { minRole: ENROLLMENT_MATERIAL_ROLE },
        schema: {
          tags: ["enrollment profiles"],
          summary: "Download the .mobileconfig (signed unless ?signed=false); needs the operator role, since it enrolls devices",
          params: Id,
          querystring: Type.Object({ signed: Type.Optional(Type.Boolean()) }),
          response: { 200: Type.Unknown(), ...authErrors, 404: Type.Ref("Error"), 410: Type.Ref("Error") },
        },
      },
      async (req, reply) => {
        const row = await profiles.row(req.params.id).catch(rethrow);
        const bytes = await profiles.mobileconfig(row, { signed: req.query.signed ?? row.signed === 1 });
        return reply
          .type(MOBILECONFIG_TYPE)
          .header("content-disposition", `attachment; filename="${row.name.replace(/[^A-Za-z0-9._-]+/g, "_")}.mobileconfig"`)
          .send(Buffer.from(bytes));
      },
    );

    app.get(
      "/enrollment-profiles/:id/devices",
      {
        schema: {
          tags: ["enrollment profiles"],
          summary: "Devices enrolled through this profile",
          params: Id,
          querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }), cursor: Type.Optional(Type.String({ description: "nextCursor of the previous page" })) }),
          response: { 200: Type.Object({ enrollments: Type.Array(Type.Unknown()), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...authErrors, 400: Type.Ref("Error"), 404: Type.Ref("Error") },
        },
      },
      async (req) => {
        const after = decodeOptionalCursor(req.query.cursor, ["string"]);
        const profile = await profiles.row(req.params.id).catch(rethrow);
        const rows = await ctx.mdm.enrollments.list({ enrollmentProfileId: req.params.id, channel: "device" }, req.query.limit + 1, after?.[0]);
        const page = rows.slice(0, req.query.limit);
        const last = page[page.length - 1];
        return {
          // Ownership and user affinity come from the profile the device enrolled through.
          enrollments: page.map((r) => ({ ...enrollmentView(r), ownership: profile.ownership, userAffinity: profile.user_affinity })),
          nextCursor: rows.length > req.query.limit && last ? encodeCursor([last.id]) : null,
        };
      },
    );

    app.post(
      "/scep/challenges",
      {
        config: { minRole: ENROLLMENT_MATERIAL_ROLE, auditAction: "scep_challenge.create" },
        schema: {
          tags: ["enrollment profiles"],
          summary: "Create a one-time SCEP challenge",
          body: Type.Optional(Type.Object({ enrollmentProfileId: Type.Optional(Type.String()), ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 30 * 86400 })) }, { additionalProperties: false })),
          response: { 201: Type.Object({ challenge: Type.String(), expiresAt: Type.String({ format: "date-time" }) }), ...authErrors, 404: Type.Ref("Error") },
        },
      },
      async (req, reply) => {
        const profileId = req.body?.enrollmentProfileId;
        if (profileId) await profiles.row(profileId).catch(rethrow);
        const c = await profiles.createChallenge({ ...(profileId ? { profileId } : {}), ttlMs: (req.body?.ttlSeconds ?? 3600) * 1000 }, actorOf(req));
        return reply.status(201).send(c);
      },
    );
  };
}
