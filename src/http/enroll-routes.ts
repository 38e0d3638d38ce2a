// The public enrollment link: GET /enroll/{token} serves the enrollment profile's .mobileconfig to whoever
// holds the link (emailed, in a portal, as a QR code), while the profile is live.
import type { FastifyInstance } from "fastify";
import type { EnrollmentProfileService } from "../manage/enrollment-profiles/enrollment-profiles.ts";
import { ProfileError } from "../manage/enrollment-profiles/enrollment-profiles.ts";
import { MOBILECONFIG_TYPE } from "./api/enrollment-profiles-routes.ts";

export function enrollRoutes(profiles: EnrollmentProfileService) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Params: { token: string } }>("/enroll/:token", { schema: { hide: true } }, async (req, reply) => {
      try {
        const row = await profiles.byLinkToken(req.params.token);
        const bytes = await profiles.mobileconfig(row, { signed: row.signed === 1 });
        return reply.type(MOBILECONFIG_TYPE).header("content-disposition", 'attachment; filename="enroll.mobileconfig"').send(Buffer.from(bytes));
      } catch (e) {
        if (e instanceof ProfileError) return reply.status(e.status).type("text/plain; charset=utf-8").send(`${e.message}\n`);
        throw e;
      }
    });
  };
}
