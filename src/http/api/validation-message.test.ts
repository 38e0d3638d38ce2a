import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../../../test/databases.ts";
import { buildTestContext, type TestContext } from "../../../test/context.ts";
import { buildHttpApp } from "../app.ts";

describeEachDatabase("validation messages", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let auth: { authorization: string };

  beforeAll(async () => {
    t = await buildTestContext(database);
    app = await buildHttpApp(t.ctx);
    auth = { authorization: `Bearer ${(await t.ctx.tokens.create("admin", "admin", "system:test")).token}` };
  });
  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  const messageOf = async (opts: { url: string; method?: "GET" | "POST"; payload?: object }) => {
    const r = await app.inject({ ...opts, headers: auth });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe("invalid_request");
    return r.json().error.message as string;
  };

  it("folds a union of literals into one 'must be one of' sentence", async () => {
    expect(await messageOf({ url: "/api/v1/enrollments?status=bogus" })).toBe("querystring/status must be one of: authenticated, active, checked_out");
    expect(await messageOf({ url: "/api/v1/tokens", method: "POST", payload: { name: "x", role: "root" } })).toBe("body/role must be one of: readonly, operator, admin");
  });

  it("names the part and the field, with single spaces, for other errors", async () => {
    expect(await messageOf({ url: "/api/v1/enrollments?limit=abc" })).toBe("querystring/limit must be integer");
    expect(await messageOf({ url: "/api/v1/enrollments?limit=0" })).toBe("querystring/limit must be >= 1");
    expect(await messageOf({ url: "/api/v1/tokens", method: "POST", payload: { role: "admin" } })).toBe("body is missing the field name");
  });

  it("refuses a body field the schema does not allow, naming it, rather than dropping it", async () => {
    expect(await messageOf({ url: "/api/v1/tokens", method: "POST", payload: { name: "x", role: "admin", expires: "2027-01-01" } })).toBe("body has an unknown field: expires");
    expect((await app.inject({ url: "/api/v1/tokens", headers: auth })).json().tokens.map((x: { name: string }) => x.name)).not.toContain("x");
  });
});
