// /api/v1/webhooks: subscribe URLs to Orchard's events; the secret for the HMAC signature is shown once.
import { Type } from "typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AppContext } from "../../app-context.ts";
import { badRequest, notFound } from "../errors.ts";
import { authErrors } from "./schemas.ts";
import { actorOf } from "./auth.ts";
import { SUBSCRIBABLE_EVENTS, subscriptionProblem } from "../../events/webhooks.ts";

/** An event name, a NanoMDM topic (nanomdm format) or "*": an enum, so the OpenAPI document lists them. */
const EventName = Type.Unsafe<string>({ type: "string", enum: [...SUBSCRIBABLE_EVENTS] });

const Webhook = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  format: Type.Union([Type.Literal("orchard"), Type.Literal("nanomdm")]),
  enabled: Type.Boolean(),
  createdAt: Type.String({ format: "date-time" }),
});

export function webhooksRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get("/webhooks", { config: { minRole: "admin" }, schema: { tags: ["webhooks"], summary: "List webhooks", response: { 200: Type.Object({ webhooks: Type.Array(Webhook) }), ...authErrors } } }, async () => ({
      webhooks: await ctx.webhooks.list(),
    }));

    app.post(
      "/webhooks",
      {
        config: { minRole: "admin", auditAction: "webhook.create" },
        // The handler words the refusal of an unknown event itself (with the nearest known name).
        attachValidation: true,
        schema: {
          tags: ["webhooks"],
          summary: "Subscribe a URL to events",
          description: 'events: Orchard event names (e.g. "command.completed"), NanoMDM topics (e.g. "mdm.Connect") for the nanomdm format, or ["*"].',
          body: Type.Object(
            {
              url: Type.String({ minLength: 1, maxLength: 2000 }),
              events: Type.Array(EventName, { default: ["*"], maxItems: 50 }),
              format: Type.Union([Type.Literal("orchard"), Type.Literal("nanomdm")], { default: "orchard" }),
              secret: Type.Optional(Type.String({ minLength: 16, maxLength: 200 })),
            },
            { additionalProperties: false },
          ),
          response: { 201: Type.Object({ webhook: Webhook, secret: Type.String() }), ...authErrors, 400: Type.Ref("Error") },
        },
      },
      async (req, reply) => {
        if (req.validationError) {
          const body = req.body as { events?: unknown; format?: unknown } | null;
          const events = Array.isArray(body?.events) ? body.events.filter((e): e is string => typeof e === "string") : [];
          const format = body?.format ?? "orchard";
          // Only with a valid format can the events be judged; otherwise the validator's sentence says it all.
          const problem = format === "orchard" || format === "nanomdm" ? subscriptionProblem(events, format) : undefined;
          throw problem ? badRequest(problem) : req.validationError;
        }
        const problem = subscriptionProblem(req.body.events, req.body.format);
        if (problem) throw badRequest(problem);
        let url: URL;
        try {
          url = new URL(req.body.url);
        } catch {
          throw badRequest(`url is not a URL: ${req.body.url}`);
        }
        if (url.protocol !== "https:" && url.protocol !== "http:") throw badRequest("url must be http or https");
        const events = req.body.events.includes("*") ? [] : req.body.events;
        return reply.status(201).send(await ctx.webhooks.create({ url: url.toString(), events, format: req.body.format, ...(req.body.secret ? { secret: req.body.secret } : {}) }, actorOf(req)));
      },
    );

    app.delete(
      "/webhooks/:id",
      { config: { minRole: "admin", auditAction: "webhook.delete" }, schema: { tags: ["webhooks"], summary: "Delete a webhook", params: Type.Object({ id: Type.String() }), response: { 204: Type.Null(), ...authErrors, 404: Type.Ref("Error") } } },
      async (req, reply) => {
        if (!(await ctx.webhooks.remove(req.params.id, actorOf(req)))) throw notFound(`webhook ${req.params.id}`);
        return reply.status(204).send(null);
      },
    );

    app.get(
      "/webhooks/:id/deliveries",
      {
        config: { minRole: "admin" },
        schema: {
          tags: ["webhooks"],
          summary: "The delivery log of a webhook, newest first",
          params: Type.Object({ id: Type.String() }),
          querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) }),
          response: {
            200: Type.Object({
              deliveries: Type.Array(
                Type.Object({
                  id: Type.String(),
                  event: Type.String(),
                  status: Type.String(),
                  attempts: Type.Integer(),
                  responseStatus: Type.Union([Type.Integer(), Type.Null()]),
                  lastError: Type.Union([Type.String(), Type.Null()]),
                  createdAt: Type.String({ format: "date-time" }),
                  completedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
                }),
              ),
            }),
            ...authErrors,
          },
        },
      },
      async (req) => ({
        deliveries: (await ctx.webhooks.deliveries(req.params.id, req.query.limit)).map((d) => ({
          id: d.id,
          event: d.event,
          status: d.status,
          attempts: d.attempts,
          responseStatus: d.response_status,
          lastError: d.last_error,
          createdAt: new Date(d.created_at).toISOString(),
          completedAt: d.completed_at === null ? null : new Date(d.completed_at).toISOString(),
        })),
      }),
    );
  };
}
