import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../../../test/databases.ts";
import type { TestContext } from "../../../test/context.ts";
import { startApiApp, stopApiApp, type ApiApp } from "../../../test/api-app.ts";

describeEachDatabase("validation messages", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let auth: ApiApp["auth"];

  beforeAll(async () => {
    ({ t, app, auth } = await startApiApp(database));
  });
  afterAll(() => stopApiApp({ t, app }));

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
