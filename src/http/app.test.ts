import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../../test/databases.ts";
import { buildTestContext, type TestContext } from "../../test/context.ts";
import { buildHttpApp } from "./app.ts";

describeEachDatabase("admin API basics", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let admin: string;
  let readonly: string;

  beforeAll(async () => {
    t = await buildTestContext(database);
    app = await buildHttpApp(t.ctx);
    admin = (await t.ctx.tokens.create("admin", "admin", "system:test")).token;
    readonly = (await t.ctx.tokens.create("viewer", "readonly", "system:test")).token;
  });
  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  it("answers health, readiness and metrics without a token", async () => {
    expect((await app.inject("/healthz")).statusCode).toBe(200);
    expect((await app.inject("/readyz")).json()).toEqual({ status: "ready", database: "ok" });
    const metrics = await app.inject("/metrics");
    expect(metrics.headers["content-type"]).toMatch(/^text\/plain/);
    expect(metrics.body).toMatch(/orchard_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
    expect(metrics.body).toMatch(/orchard_http_request_duration_seconds_bucket\{method="GET",route="\/healthz",le="0.5"\} 1/);
    expect(metrics.body).toMatch(/process_resident_memory_bytes \d+/);
    // Where resident memory goes: V8's spaces (committed ≥ used) and buffers outside the heap.
    const space = (kind: string, name: string) => Number(new RegExp(`nodejs_heap_space_size_${kind}_bytes\\{space="${name}"\\} (\\d+)`).exec(metrics.body)?.[1]);
    expect(space("used", "old_space")).toBeGreaterThan(0);
    expect(space("total", "old_space")).toBeGreaterThanOrEqual(space("used", "old_space"));
    expect(metrics.body).toMatch(/nodejs_external_memory_bytes \d+/);
  });

  it("rejects /api/v1 without or with a bad token, with the JSON error shape", async () => {
    const none = await app.inject("/api/v1/tokens");
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ error: { code: "unauthorized", message: expect.stringContaining("Bearer") } });
    const bad = await app.inject({ url: "/api/v1/tokens", headers: { authorization: "Bearer orch_nope" } });
    expect(bad.statusCode).toBe(401);
  });

  it("creates, lists and revokes tokens; a revoked token stops working", async () => {
    const auth = { authorization: `Bearer ${admin}` };
    const created = await app.inject({ method: "POST", url: "/api/v1/tokens", headers: auth, payload: { name: "ci", role: "operator" } });
    expect(created.statusCode).toBe(201);
    const { token, info } = created.json();
    expect(token).toMatch(/^orch_/);
    const listed = await app.inject({ url: "/api/v1/tokens", headers: auth });
    expect(listed.json().tokens.map((x: { name: string }) => x.name)).toContain("ci");
    expect(JSON.stringify(listed.json())).not.toContain(token);
    expect((await app.inject({ url: "/api/v1/audit", headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    expect((await app.inject({ method: "DELETE", url: `/api/v1/tokens/${info.id}`, headers: auth })).statusCode).toBe(204);
    expect((await app.inject({ url: "/api/v1/audit", headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401);
    expect((await app.inject({ method: "DELETE", url: `/api/v1/tokens/${info.id}`, headers: auth })).statusCode).toBe(404);
  });

  it("refuses a second live token of one name with 409 naming it", async () => {
    const auth = { authorization: `Bearer ${admin}` };
    const first = await app.inject({ method: "POST", url: "/api/v1/tokens", headers: auth, payload: { name: "deploy", role: "operator" } });
    expect(first.statusCode).toBe(201);
    const second = await app.inject({ method: "POST", url: "/api/v1/tokens", headers: auth, payload: { name: "deploy", role: "admin" } });
    expect(second.statusCode).toBe(409);
    expect(second.json().error).toEqual({ code: "conflict", message: 'a live token named "deploy" already exists: pick another name, or revoke that one first' });
  });

  it("enforces roles: readonly cannot change anything or manage tokens", async () => {
    const auth = { authorization: `Bearer ${readonly}` };
    const create = await app.inject({ method: "POST", url: "/api/v1/tokens", headers: auth, payload: { name: "x", role: "admin" } });
    expect(create.statusCode).toBe(403);
    expect(create.json().error.code).toBe("forbidden");
    expect((await app.inject({ url: "/api/v1/audit", headers: auth })).statusCode).toBe(200);
  });

  it("validates bodies with a clear 400", async () => {
    const r = await app.inject({ method: "POST", url: "/api/v1/tokens", headers: { authorization: `Bearer ${admin}` }, payload: { name: "x", role: "root" } });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe("invalid_request");
  });

  it("records changes in the audit log with actor and outcome", async () => {
    const r = await app.inject({ url: "/api/v1/audit?action=token.create", headers: { authorization: `Bearer ${admin}` } });
    const entries = r.json().entries as Array<{ actor: string; outcome: string; statusCode: number }>;
    // Recorded by the token service in the change's transaction: no HTTP status (0), the same from the CLI.
    expect(entries.some((e) => e.actor === "token:admin" && e.outcome === "ok" && e.statusCode === 0)).toBe(true);
    // Refused attempts are recorded too: an auditor wants to see who tried.
    expect(entries.some((e) => e.actor === "token:viewer" && e.outcome === "error" && e.statusCode === 403)).toBe(true);
  });

  it("serves the OpenAPI document generated from the route schemas", async () => {
    const r = await app.inject("/api/v1/openapi.json");
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toContain("/api/v1/tokens");
    expect((await app.inject("/api/docs/")).statusCode).toBe(200);
  });
});
