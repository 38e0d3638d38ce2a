// /api/v1/push-certificates: upload (PEM + key, or .p12), list, inspect, remove, make a CSR;
// /api/v1/push: wake enrollments now.
import { Type } from "typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AppContext } from "../../app-context.ts";
import { PushCertificateError } from "../../push/push-certificate.ts";
import { PushTopicChangeError, type PushUpload } from "../../push/push-certificates.ts";
import { NameError } from "../../pki/names.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { authErrors } from "./schemas.ts";
import { actorOf } from "./auth.ts";

const Certificate = Type.Object({
  topic: Type.String({ description: "The APNs topic (the certificate's UID), carried by enrollment profiles" }),
  subject: Type.String(),
  issuer: Type.String(),
  serial: Type.String(),
  fingerprint: Type.String({ description: "SHA-256 of the certificate, hex" }),
  notBefore: Type.String({ format: "date-time" }),
  notAfter: Type.String({ format: "date-time" }),
  active: Type.Boolean({ description: "Whether new enrollment profiles carry this topic" }),
  expiresInDays: Type.Integer(),
  expired: Type.Boolean(),
  expiringSoon: Type.Boolean({ description: "Expires within 30 days" }),
  warning: Type.Union([Type.String(), Type.Null()], { description: "What to do about an expiring or expired certificate" }),
  lastError: Type.Union([Type.String(), Type.Null()], { description: "APNs' last refusal of this certificate (403)" }),
  lastErrorAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});

const Upload = Type.Object(
  {
    certificate: Type.Optional(Type.String({ description: "PEM push certificate (chain may follow; the key may follow too)", maxLength: 65536 })),
    privateKey: Type.Optional(Type.String({ description: "PEM private key; omit when the key was made by `orchard push csr`", maxLength: 65536 })),
    p12: Type.Optional(Type.String({ description: "A .p12 holding the certificate and its key, base64", maxLength: 131072 })),
    password: Type.Optional(Type.String({ maxLength: 1024 })),
    force: Type.Optional(Type.Boolean({ description: "Accept a certificate whose topic differs from the active one (devices on the old topic must re-enroll)" })),
  },
  { additionalProperties: false },
);

function uploadOf(body: { certificate?: string | undefined; privateKey?: string | undefined; p12?: string | undefined; password?: string | undefined }): PushUpload {
  if ((body.certificate === undefined) === (body.p12 === undefined)) throw badRequest('send either "certificate" (PEM, with "privateKey") or "p12" (base64, with "password")');
  if (body.p12 !== undefined) {
    if (!/^[A-Za-z0-9+/=\s]+$/.test(body.p12)) throw badRequest('"p12" must be the .p12 file in base64');
    return { p12: new Uint8Array(Buffer.from(body.p12, "base64")), password: body.password ?? "" };
  }
  return body.privateKey !== undefined ? { certificate: body.certificate!, privateKey: body.privateKey } : { certificate: body.certificate! };
}

export function pushRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  const { certificates, dispatcher } = ctx.push;
  return async (app) => {
    app.put(
      "/push-certificates",
      {
        config: { minRole: "admin", auditAction: "push_certificate.upload" },
        schema: {
          tags: ["push"],
          summary: "Upload a push certificate (new, or a renewal of the one in use)",
          description:
            "JSON {certificate, privateKey} (PEM) or {p12, password} (base64). The topic is read from the certificate. " +
            "A certificate for a different topic than the active one is refused (409) unless force is true, because devices enrolled with the old topic would have to re-enroll. " +
            "Expired certificates are refused.",
          body: Upload,
          response: {
            200: Type.Object({ certificate: Certificate, kind: Type.Union([Type.Literal("first"), Type.Literal("renewal"), Type.Literal("new-topic")]), previousTopic: Type.Union([Type.String(), Type.Null()]) }),
            ...authErrors,
            400: Type.Ref("Error"),
            409: Type.Ref("Error"),
          },
        },
      },
      async (req) => {
        try {
          return await certificates.upload(uploadOf(req.body), actorOf(req), { force: req.body.force === true });
        } catch (e) {
          if (e instanceof PushCertificateError) throw new ApiError(400, "invalid_push_certificate", e.message, { problem: e.problem });
          if (e instanceof PushTopicChangeError) throw new ApiError(409, "push_topic_change", e.message, { activeTopic: e.activeTopic, newTopic: e.newTopic, enrollmentsOnActiveTopic: e.strandedEnrollments });
          throw e;
        }
      },
    );

    app.get(
      "/push-certificates",
      {
        schema: {
          tags: ["push"],
          summary: "Push certificates, the active one first",
          response: { 200: Type.Object({ activeTopic: Type.Union([Type.String(), Type.Null()]), certificates: Type.Array(Certificate) }), ...authErrors },
        },
      },
      async () => {
        const list = await certificates.list();
        return { activeTopic: list.find((c) => c.active)?.topic ?? null, certificates: list };
      },
    );

    app.get(
      "/push-certificates/:topic",
      { schema: { tags: ["push"], summary: "One push certificate", params: Type.Object({ topic: Type.String() }), response: { 200: Certificate, ...authErrors, 404: Type.Ref("Error") } } },
      async (req) => {
        const c = await certificates.get(req.params.topic);
        if (!c) throw notFound(`push certificate for topic ${req.params.topic}`);
        return c;
      },
    );

    app.delete(
      "/push-certificates/:topic",
      {
        config: { minRole: "admin", auditAction: "push_certificate.delete" },
        schema: { tags: ["push"], summary: "Remove a push certificate: devices on its topic can no longer be woken", params: Type.Object({ topic: Type.String() }), response: { 204: Type.Null(), ...authErrors, 404: Type.Ref("Error") } },
      },
      async (req, reply) => {
        if (!(await certificates.remove(req.params.topic, actorOf(req)))) throw notFound(`push certificate for topic ${req.params.topic}`);
        return reply.status(204).send(null);
      },
    );

    app.post(
      "/push-certificates/csr",
      {
        config: { minRole: "admin", auditAction: "push_certificate.csr" },
        schema: {
          tags: ["push"],
          summary: "Make a key and CSR for a push certificate; the key stays on the server, sealed",
          description: "Have the CSR signed by your MDM vendor (or `orchard push sign-request`), upload the result to Apple's Push Certificates Portal, then upload Apple's certificate here without a key.",
          body: Type.Object({ subject: Type.Optional(Type.String({ minLength: 3, maxLength: 500 })) }, { additionalProperties: false }),
          response: { 201: Type.Object({ csr: Type.String({ description: "PEM CERTIFICATE REQUEST" }) }), ...authErrors, 400: Type.Ref("Error") },
        },
      },
      async (req, reply) => {
        try {
          const r = await certificates.createRequest(actorOf(req), req.body.subject);
          return reply.status(201).send({ csr: r.csrPem });
        } catch (e) {
          if (e instanceof NameError) throw badRequest(e.message);
          throw e;
        }
      },
    );

    app.post(
      "/push",
      {
        config: { auditAction: "push.send" },
        schema: {
          tags: ["push"],
          summary: "Push to enrollments now, so that they connect",
          description: "Pushes go out in the background, coalesced with any other push to the same enrollment sent since this request.",
          body: Type.Object({ enrollmentIds: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 100_000 }) }, { additionalProperties: false }),
          response: {
            202: Type.Object({ queued: Type.Integer(), unknown: Type.Array(Type.String()) }),
            ...authErrors,
            400: Type.Ref("Error"),
            409: Type.Ref("Error"),
          },
        },
      },
      async (req, reply) => {
        if (!(await certificates.hasAny())) throw new ApiError(409, "no_push_certificate", "no push certificate has been uploaded: upload one with PUT /api/v1/push-certificates first");
        const r = await dispatcher.requestForApi(req.body.enrollmentIds, actorOf(req));
        return reply.status(202).send({ queued: r.queued, unknown: r.unknown.slice(0, 1000) });
      },
    );
  };
}
