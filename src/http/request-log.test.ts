// One log line per request answered by the app, not fastify's two, with what a person scanning logs needs.
import { Writable } from "node:stream";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../../test/databases.ts";
import { buildTestContext, type TestContext } from "../../test/context.ts";
import { createLogger } from "../log/logger.ts";
import { buildHttpApp } from "./app.ts";

describeEachDatabase("request log", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let admin: string;
  let logs = "";

  beforeAll(async () => {
    t = await buildTestContext(database);
    const sink = new Writable({ write(chunk, _enc, cb) { logs += chunk.toString(); cb(); } });
    app = await buildHttpApp({ ...t.ctx, logger: createLogger("info", sink) });
    admin = (await t.ctx.tokens.create("admin", "admin", "system:test")).token;
  });
  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  const linesOf = (reqId: string) => logs.split("\n").filter((l) => l.includes(`"reqId":"${reqId}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);

  it("logs one line per API call: method, url, status and duration, with the request id", async () => {
    const r = await app.inject({ url: "/api/v1/tokens", headers: { authorization: `Bearer ${admin}`, "x-request-id": "req-one" } });
    expect(r.statusCode).toBe(200);
    const lines = linesOf("req-one");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, msg: "request completed", method: "GET", url: "/api/v1/tokens", status: 200, ms: expect.any(Number) });
  });

  it("logs refused requests the same way, and masks the secret of an enrollment link", async () => {
    expect((await app.inject({ url: "/api/v1/tokens", headers: { "x-request-id": "req-401" } })).statusCode).toBe(401);
    expect(linesOf("req-401")).toEqual([expect.objectContaining({ status: 401, url: "/api/v1/tokens" })]);
    await app.inject({ url: "/enroll/s3cretLinkToken", headers: { "x-request-id": "req-link" } });
    expect(linesOf("req-link")).toEqual([expect.objectContaining({ url: "/enroll/***" })]);
    expect(logs).not.toContain("s3cretLinkToken");
  });
});
