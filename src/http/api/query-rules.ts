// Every /api/v1 route refuses query parameters it does not declare. A misspelt or unsupported filter
// (`?deviceName=`, `?q=`) would otherwise be ignored and the route would answer for the whole fleet, which an
// admin may then act on. Enforced once for the whole API, by an onRoute hook, so a new route cannot forget it.
import type { FastifyInstance, FastifyRequest, onRouteHookHandler, preValidationAsyncHookHandler } from "fastify";
import { badRequest } from "../errors.ts";

/** The query parameters a route's querystring schema declares: none when it has no querystring schema. */
export function declaredQueryParameters(querystring: unknown, route: string): ReadonlySet<string> {
  if (querystring === undefined) return new Set();
  const properties = typeof querystring === "object" && querystring !== null ? (querystring as { properties?: unknown }).properties : undefined;
  // A querystring schema that is not an object of named properties cannot be checked by name: refuse it at start-up.
  if (typeof properties !== "object" || properties === null) throw new Error(`${route}: the querystring schema must be an object schema with properties`);
  return new Set(Object.keys(properties));
}

function refuseUnknown(allowed: ReadonlySet<string>): preValidationAsyncHookHandler {
  return async (req: FastifyRequest) => {
    const query = req.query as Record<string, unknown> | undefined;
    if (!query) return;
    const unknown = Object.keys(query).filter((k) => !allowed.has(k));
    if (unknown.length === 0) return;
    const takes = allowed.size ? `this route takes: ${[...allowed].join(", ")}` : "this route takes no query parameters";
    throw badRequest(`unknown query parameter${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")} (${takes})`, { unknownParameters: unknown });
  };
}

/** Installs the rule on every route registered after this call in `app` and its children. */
export function refuseUnknownQueryParameters(app: FastifyInstance): void {
  const onRoute: onRouteHookHandler = (route) => {
    const check = refuseUnknown(declaredQueryParameters(route.schema?.querystring, `${route.method} ${route.url}`));
    const existing = route.preValidation;
    route.preValidation = existing === undefined ? [check] : Array.isArray(existing) ? [check, ...existing] : [check, existing];
  };
  app.addHook("onRoute", onRoute);
}
