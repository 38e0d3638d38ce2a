// Every admin route's access rule, walked from the app's own route table: no token is refused (401) except on
// public routes, a role below the route's is refused (403), and the route's role and those above it get past the
// check. The expected roles are written out here, one line per route: a new route fails this test until someone
// decides, in this table, who may call it.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../databases.ts";
import { buildTestContext, type TestContext } from "../context.ts";
import { buildHttpApp, routeTableOf } from "../../src/http/app.ts";

type Rule = "public" | "readonly" | "operator" | "admin";

const EXPECTED: Record<string, Rule> = {
  "GET /api/v1/openapi.json": "public",
  "PUT /api/v1/push-certificates": "admin",
  "GET /api/v1/push-certificates": "readonly",
  "GET /api/v1/push-certificates/:topic": "readonly",
  "DELETE /api/v1/push-certificates/:topic": "admin",
  "POST /api/v1/push-certificates/csr": "admin",
  "POST /api/v1/push": "operator",
  "GET /api/v1/enrollment-profiles": "readonly",
  "POST /api/v1/enrollment-profiles": "admin",
  "GET /api/v1/enrollment-profiles/:id": "readonly",
  "PATCH /api/v1/enrollment-profiles/:id": "admin",
  "DELETE /api/v1/enrollment-profiles/:id": "admin",
  "POST /api/v1/enrollment-profiles/:id/renew": "admin",
  // Enrollment material (a profile with a usable SCEP challenge) enrolls devices: not for readonly tokens.
  "GET /api/v1/enrollment-profiles/:id/mobileconfig": "operator",
  "GET /api/v1/enrollment-profiles/:id/devices": "readonly",
  "POST /api/v1/scep/challenges": "operator",
  "GET /api/v1/certificates": "readonly",
  "POST /api/v1/certificates/:serial/revoke": "admin",
  "GET /api/v1/enrollments": "readonly",
  "GET /api/v1/enrollments/:id": "readonly",
  "GET /api/v1/enrollments/:id/commands": "readonly",
  "POST /api/v1/enrollments/:id/renew-identity": "operator",
  "POST /api/v1/commands": "operator",
  "GET /api/v1/commands/:uuid": "readonly",
  "DELETE /api/v1/commands/:uuid": "operator",
  "GET /api/v1/webhooks": "admin",
  "POST /api/v1/webhooks": "admin",
  "DELETE /api/v1/webhooks/:id": "admin",
  "GET /api/v1/webhooks/:id/deliveries": "admin",
  "GET /api/v1/audit": "readonly",
  "GET /api/v1/devices": "readonly",
  "GET /api/v1/devices/:id": "readonly",
  "GET /api/v1/devices/:id/apps": "readonly",
  "GET /api/v1/devices/:id/profiles": "readonly",
  "GET /api/v1/devices/:id/certificates": "readonly",
  "GET /api/v1/devices/:id/history": "readonly",
  "POST /api/v1/devices/:id/refresh": "operator",
  "GET /api/v1/tokens": "admin",
  "POST /api/v1/tokens": "admin",
  "DELETE /api/v1/tokens/:id": "admin",
};

const RANK: Record<Exclude<Rule, "public">, number> = { readonly: 0, operator: 1, admin: 2 };

describeEachDatabase("every admin route's role", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    t = await buildTestContext(database);
    app = await buildHttpApp(t.ctx);
    await app.ready();
    for (const role of ["readonly", "operator", "admin"] as const) tokens[role] = (await t.ctx.tokens.create(`walk-${role}`, role, "system:test")).token;
  });
  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  it("declares a rule for every route under /api/v1, and no rule for a route that is gone", () => {
    const routes = routeTableOf(app)
      .filter((r) => r.url.startsWith("/api/v1/"))
      .map((r) => `${r.method} ${r.url}`);
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((r) => !(r in EXPECTED)), "routes without a rule in this test's table").toEqual([]);
    expect(Object.keys(EXPECTED).filter((r) => !routes.includes(r)), "rules for routes that no longer exist").toEqual([]);
  });

  it("refuses no token and lower roles, and lets the route's role and higher ones past the check", async () => {
    const seen: string[] = [];
    for (const route of routeTableOf(app).filter((r) => r.url.startsWith("/api/v1/"))) {
      const key = `${route.method} ${route.url}`;
      const rule = EXPECTED[key]!;
      // Ids that do not exist: a request that gets past the role check changes nothing.
      const url = route.url.replace(/:[A-Za-z]+/g, "does-not-exist");
      const send = (token?: string) =>
        app.inject({ method: route.method as "GET", url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(route.method === "GET" || route.method === "DELETE" ? {} : { payload: {} }) });
      const anonymous = await send();
      if (rule === "public") {
        expect(anonymous.statusCode, key).not.toBe(401);
        continue;
      }
      expect(anonymous.statusCode, `${key} without a token`).toBe(401);
      for (const role of ["readonly", "operator", "admin"] as const) {
        const r = await send(tokens[role]);
        if (RANK[role] < RANK[rule]) {
          expect(r.statusCode, `${key} as ${role}`).toBe(403);
          expect(r.json().error.message, `${key} as ${role}`).toContain(`needs the ${rule} role`);
        } else {
          expect([401, 403], `${key} as ${role}: ${r.body.slice(0, 200)}`).not.toContain(r.statusCode);
        }
      }
      seen.push(key);
    }
    expect(seen.length).toBe(Object.values(EXPECTED).filter((r) => r !== "public").length);
  });
});
