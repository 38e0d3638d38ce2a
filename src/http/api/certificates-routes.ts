// /api/v1/certificates: the certificates Orchard issued, those near expiry, and revocation.
import { Type } from "typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AppContext } from "../../app-context.ts";
import type { IssuedCertificateRow } from "../../store/issued-certificates.ts";
import { notFound } from "../errors.ts";
import { authErrors } from "./schemas.ts";
import { actorOf } from "./auth.ts";
import { decodeOptionalCursor, encodeCursor } from "./cursor.ts";

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
          summary: "Certificates Orchard issued, soonest expiry first; with expiringWithinDays, only unrevoked identities expiring within that many days (already expired ones included)",
          querystring: Type.Object({
            expiringWithinDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 36500, description: "Only unrevoked identity certificates that expire within this many days" })),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
            cursor: Type.Optional(Type.String({ description: "nextCursor of the previous page" })),
          }),
          response: { 200: Type.Object({ certificates: Type.Array(Certificate), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...authErrors, 400: Type.Ref("Error") },
        },
      },
      async (req) => {
        const { expiringWithinDays, limit } = req.query;
        const after = decodeOptionalCursor(req.query.cursor, ["integer", "string"]);
        const filter = expiringWithinDays === undefined ? {} : { expiringBefore: Date.now() + expiringWithinDays * 86_400_000 };
        const rows = await ctx.certificates.list(filter, limit + 1, after && { notAfter: after[0], serial: after[1] });
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        return { certificates: page.map(view), nextCursor: rows.length > limit && last ? encodeCursor([last.not_after, last.serial]) : null };
      },
    );

    app.post(
      "/certificates/:serial/revoke",
      {
        config: { minRole: "admin", auditAction: "certificate.revoke" },
        schema: { tags: ["certificates"], summary: "Revoke a certificate: it can no longer renew", params: Type.Object({ serial: Type.String() }), response: { 200: Certificate, ...authErrors, 404: Type.Ref("Error") } },
      },
      async (req) => {
        const row = await ctx.certificates.revoke(req.params.serial.toLowerCase(), actorOf(req));
        if (!row) throw notFound(`certificate ${req.params.serial}`);
        return view(row);
      },
    );
  };
}
