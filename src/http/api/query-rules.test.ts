import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../../../test/databases.ts";
import type { TestContext } from "../../../test/context.ts";
import { startApiApp, stopApiApp, type ApiApp } from "../../../test/api-app.ts";

/** Every GET path in the app's route table (fastify's own printout), path parameters filled with "x". */
function getPaths(app: FastifyInstance): string[] {
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false, method: "GET" }).split("\n")) {
    const m = /^((?:[│ ] {3})*)[├└]── (.+?) \(([^)]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const path = (depth ? stack[depth - 1]! : "") + m[2]!;
    stack[depth] = path;
    if (m[3]!.split(", ").includes("GET")) out.push(path.replace(/:[A-Za-z]+/g, "x").replace(/\*$/, "x"));
  }
  return out;
}

describeEachDatabase("unknown query parameters", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let auth: ApiApp["auth"];

  beforeAll(async () => {
    ({ t, app, auth } = await startApiApp(database));
  });
  afterAll(() => stopApiApp({ t, app }));

  it("every GET under /api/v1 answers 400 naming an unknown query parameter", async () => {
    const paths = getPaths(app).filter((p) => p.startsWith("/api/v1/"));
    // The walk must see the routes, or the test proves nothing.
    expect(paths).toEqual(expect.arrayContaining(["/api/v1/enrollments", "/api/v1/certificates", "/api/v1/tokens", "/api/v1/openapi.json", "/api/v1/enrollments/x/commands"]));
    const answered: Record<string, string> = {};
    for (const path of paths) {
      const r = await app.inject({ url: `${path}?deviceName=phone`, headers: auth });
      answered[path] = `${r.statusCode} ${r.statusCode === 400 ? r.json().error.message : r.body.slice(0, 200)}`;
    }
    for (const path of paths) expect(answered[path], path).toMatch(/^400 unknown query parameter: deviceName \(this route takes/);
  });

  it("names every unknown parameter and what the route takes, and still accepts the declared ones", async () => {
    const r = await app.inject({ url: "/api/v1/enrollments?limit=5&q=iphone&deviceName=x", headers: auth });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toEqual({
      code: "invalid_request",
      message: expect.stringMatching(/^unknown query parameters: q, deviceName \(this route takes: limit, cursor, status, /),
      details: { unknownParameters: ["q", "deviceName"] },
    });
    expect((await app.inject({ url: "/api/v1/enrollments?limit=5", headers: auth })).statusCode).toBe(200);
  });

  it("refuses any query parameter on a route that declares none", async () => {
    const r = await app.inject({ url: "/api/v1/tokens?all=1", headers: auth });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.message).toBe("unknown query parameter: all (this route takes no query parameters)");
    expect((await app.inject({ url: "/api/v1/tokens", headers: auth })).statusCode).toBe(200);
  });

  it("asks for a token before looking at the query", async () => {
    expect((await app.inject({ url: "/api/v1/enrollments?q=x" })).statusCode).toBe(401);
  });

  it("documents a query parameter with a default as optional, and still applies the default", async () => {
    const doc = (await app.inject("/api/v1/openapi.json")).json() as { paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; required: boolean; schema: { default?: unknown } }> }>> };
    const withDefault = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.values(ops).flatMap((op) => (op.parameters ?? []).filter((p) => p.in === "query" && p.schema.default !== undefined).map((p) => ({ path, name: p.name, required: p.required }))),
    );
    expect(withDefault).toContainEqual({ path: "/api/v1/enrollments", name: "limit", required: false });
    expect(withDefault.filter((p) => p.required)).toEqual([]);
    const page = await app.inject({ url: "/api/v1/audit", headers: auth });
    expect(page.statusCode).toBe(200);
  });
});
