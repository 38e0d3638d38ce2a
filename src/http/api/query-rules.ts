// Every /api/v1 route refuses query parameters it does not declare. A misspelt or unsupported filter
// (`?deviceName=`, `?q=`) would otherwise be ignored and the route would answer for the whole fleet, which an
// admin may then act on. Enforced once for the whole API, by an onRoute hook, so a new route cannot forget it.
// The same hook documents parameters with a default as optional.
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

/**
 * The querystring schema with parameters that have a default left out of `required`. TypeBox marks every
 * non-Optional property required, so `limit` (default 100) was documented as a parameter a client must send;
 * the validator fills defaults whether or not a property is required, so validation is unchanged.
 */
export function defaultsNotRequired<S>(querystring: S): S {
  const qs = querystring as { properties?: Record<string, { default?: unknown }>; required?: string[] } | undefined;
  if (!qs?.properties || !Array.isArray(qs.required)) return querystring;
  const required = qs.required.filter((name) => qs.properties?.[name]?.default === undefined);
  if (required.length === qs.required.length) return querystring;
  const copy: Record<string | symbol, unknown> = { ...qs, required };
  if (required.length === 0) delete copy.required;
  return copy as S;
}

/** Installs the rules on every route registered after this call in `app` and its children. */
export function installQueryRules(app: FastifyInstance): void {
  const onRoute: onRouteHookHandler = (route) => {
    if (route.schema?.querystring !== undefined) route.schema = { ...route.schema, querystring: defaultsNotRequired(route.schema.querystring) };
    const check = refuseUnknown(declaredQueryParameters(route.schema?.querystring, `${route.method} ${route.url}`));
    const existing = route.preValidation;
    route.preValidation = existing === undefined ? [check] : Array.isArray(existing) ? [check, ...existing] : [check, existing];
  };
  app.addHook("onRoute", onRoute);
}
