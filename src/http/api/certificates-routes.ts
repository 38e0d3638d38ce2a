// /api/v1/certificates: identity certificates Orchard issued, those near expiry, and revocation.
import { Type } from "typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AppContext } from "../../app-context.ts";
import type { IssuedCertificateRow } from "../../store/issued-certificates.ts";
import { notFound } from "../errors.ts";
import { authErrors } from "./schemas.ts";

const Certificate = Type.Object({
  serial: Type.String(),
  kind: Type.String(),
  subject: Type.String(),
  notBefore: Type.String({ format: "date-time" }),
  notAfter: Type.String({ format: "date-time" }),
  fingerprint: Type.String({ description: "SHA-256 of the DER, hex" }),
  enrollmentId: Type.Union([Type.String(), Type.Null()]),
  enrollmentProfileId: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});

function view(r: IssuedCertificateRow) {
  return {
    serial: r.serial,
    kind: r.kind,
    subject: r.subject,
    notBefore: new Date(r.not_before).toISOString(),
    notAfter: new Date(r.not_after).toISOString(),
    fingerprint: r.fingerprint,
    enrollmentId: r.enrollment_id,
    enrollmentProfileId: r.enrollment_profile_id,
    revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at).toISOString(),
  };
}

export function certificatesRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      "/certificates",
      {
        schema: {
          tags: ["certificates"],
          summary: "Unrevoked identity certificates expiring within the given number of days (already expired ones included)",
          querystring: Type.Object({
            expiringWithinDays: Type.Integer({ minimum: 0, maximum: 36500, default: 30 }),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
            cursor: Type.Optional(Type.String()),
          }),
          response: { 200: Type.Object({ certificates: Type.Array(Certificate), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...authErrors },
        },
      },
      async (req) => {
        const before = Date.now() + req.query.expiringWithinDays * 86_400_000;
        const rows = await ctx.certificates.identitiesExpiringBefore(before, req.query.limit + 1, req.query.cursor);
        const page = rows.slice(0, req.query.limit);
        return { certificates: page.map(view), nextCursor: rows.length > req.query.limit ? (page[page.length - 1]?.serial ?? null) : null };
      },
    );

    app.post(
      "/certificates/:serial/revoke",
      {
        config: { minRole: "admin", auditAction: "certificate.revoke" },
        schema: { tags: ["certificates"], summary: "Revoke a certificate: it can no longer renew", params: Type.Object({ serial: Type.String() }), response: { 200: Certificate, ...authErrors, 404: Type.Ref("Error") } },
      },
      async (req) => {
        const row = await ctx.certificates.revoke(req.params.serial.toLowerCase());
        if (!row) throw notFound(`certificate ${req.params.serial}`);
        return view(row);
      },
    );
  };
}
