// Who may hand out enrollment material, and that admins cannot lock themselves out of the API.
// - Enrollment material (the signed .mobileconfig, which carries a usable SCEP challenge; the public enroll link;
//   one-time SCEP challenges) enrolls devices: it needs the operator role. A readonly token still sees profiles.
// - The last live admin token cannot be revoked through the API: 409 naming the problem.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../../../test/databases.ts";
import { buildTestContext, type TestContext } from "../../../test/context.ts";
import { buildHttpApp } from "../app.ts";
import { PROFILE_DEFAULTS } from "../../manage/enrollment-profiles/enrollment-profiles.ts";

describeEachDatabase("enrollment material and admin tokens", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  let admin: { authorization: string };
  let operator: { authorization: string };
  let readonly: { authorization: string };
  let profileId: string;

  beforeAll(async () => {
    t = await buildTestContext(database);
    app = await buildHttpApp(t.ctx);
    admin = bearer((await t.ctx.tokens.create("first-admin", "admin", "system:test")).token);
    operator = bearer((await t.ctx.tokens.create("operator", "operator", "system:test")).token);
    readonly = bearer((await t.ctx.tokens.create("viewer", "readonly", "system:test")).token);
    profileId = (await t.ctx.enrollmentProfiles.create({ ...PROFILE_DEFAULTS, name: "Staff" }, "system:test")).id;
  });
  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  it("refuses the .mobileconfig to a readonly token with 403, and serves it to operators and admins", async () => {
    for (const signed of ["", "?signed=false"]) {
      const r = await app.inject({ url: `/api/v1/enrollment-profiles/${profileId}/mobileconfig${signed}`, headers: readonly });
      expect(r.statusCode).toBe(403);
      expect(r.json()).toMatchObject({ error: { code: "forbidden", message: expect.stringMatching(/needs the operator role.*has readonly/) } });
      expect(r.body).not.toMatch(/Challenge/);
    }
    for (const headers of [operator, admin]) {
      const r = await app.inject({ url: `/api/v1/enrollment-profiles/${profileId}/mobileconfig`, headers });
      expect(r.statusCode).toBe(200);
      expect(r.headers["content-type"]).toBe("application/x-apple-aspen-config");
    }
  });

  it("shows a readonly token profiles without their enroll link; operators and admins get it", async () => {
    const one = await app.inject({ url: `/api/v1/enrollment-profiles/${profileId}`, headers: readonly });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ id: profileId, name: "Staff", links: { mobileconfig: expect.any(String) } });
    expect(one.json().links.enroll).toBeUndefined();
    expect(one.body).not.toMatch(/\/enroll\//);
    const list = await app.inject({ url: "/api/v1/enrollment-profiles", headers: readonly });
    expect(list.statusCode).toBe(200);
    expect(list.json().profiles.length).toBeGreaterThan(0);
    expect(list.body).not.toMatch(/\/enroll\//);

    for (const headers of [operator, admin]) {
      const r = await app.inject({ url: `/api/v1/enrollment-profiles/${profileId}`, headers });
      expect(r.json().links.enroll).toMatch(/^https:\/\/orchard\.test:8443\/enroll\/.+/);
      const l = await app.inject({ url: "/api/v1/enrollment-profiles", headers });
      expect(l.json().profiles[0].links.enroll).toMatch(/\/enroll\//);
    }
  });

  it("refuses a one-time SCEP challenge to a readonly token", async () => {
    const r = await app.inject({ method: "POST", url: "/api/v1/scep/challenges", headers: readonly, payload: { enrollmentProfileId: profileId } });
    expect(r.statusCode).toBe(403);
    expect((await app.inject({ method: "POST", url: "/api/v1/scep/challenges", headers: operator, payload: { enrollmentProfileId: profileId } })).statusCode).toBe(201);
  });

  it("refuses to revoke the last live admin token with 409, by id or by name, and allows it once another admin exists", async () => {
    const tokens = (await app.inject({ url: "/api/v1/tokens", headers: admin })).json().tokens as Array<{ id: string; name: string; role: string }>;
    const first = tokens.find((x) => x.name === "first-admin")!;

    for (const which of [first.id, first.name]) {
      const r = await app.inject({ method: "DELETE", url: `/api/v1/tokens/${encodeURIComponent(which)}`, headers: admin });
      expect(r.statusCode).toBe(409);
      expect(r.json()).toMatchObject({ error: { code: "conflict", message: expect.stringMatching(/last live admin token.*create another admin token first/) } });
    }
    // Still works.
    expect((await app.inject({ url: "/api/v1/tokens", headers: admin })).statusCode).toBe(200);

    // A revoked admin token does not count: with a second admin revoked, the first is still the last live one.
    const second = (await app.inject({ method: "POST", url: "/api/v1/tokens", headers: admin, payload: { name: "second-admin", role: "admin" } })).json() as { token: string; info: { id: string } };
    expect((await app.inject({ method: "DELETE", url: `/api/v1/tokens/${second.info.id}`, headers: admin })).statusCode).toBe(204);
    expect((await app.inject({ method: "DELETE", url: `/api/v1/tokens/${first.id}`, headers: admin })).statusCode).toBe(409);

    // With another live admin, the first can go; then the new one is the last and is kept.
    const third = (await app.inject({ method: "POST", url: "/api/v1/tokens", headers: admin, payload: { name: "third-admin", role: "admin" } })).json() as { token: string; info: { id: string } };
    expect((await app.inject({ method: "DELETE", url: `/api/v1/tokens/${first.id}`, headers: bearer(third.token) })).statusCode).toBe(204);
    expect((await app.inject({ method: "DELETE", url: `/api/v1/tokens/${third.info.id}`, headers: bearer(third.token) })).statusCode).toBe(409);
    // Other roles' tokens are revoked as before.
    const op = (await app.inject({ url: "/api/v1/tokens", headers: bearer(third.token) })).json().tokens.find((x: { name: string }) => x.name === "operator");
    expect((await app.inject({ method: "DELETE", url: `/api/v1/tokens/${op.id}`, headers: bearer(third.token) })).statusCode).toBe(204);
  });

  it("keeps one admin when the last two are revoked at the same time", async () => {
    const a = await t.ctx.tokens.create("race-a", "admin", "system:test");
    const b = await t.ctx.tokens.create("race-b", "admin", "system:test");
    // Every other admin token goes first, so race-a and race-b are the last two.
    for (const x of await t.ctx.tokens.list()) if (x.role === "admin" && x.revokedAt === null && x.id !== a.info.id && x.id !== b.info.id) await t.ctx.tokens.revoke(x.id, "system:test");
    const answers = await Promise.all([a, b].map((x) => app.inject({ method: "DELETE", url: `/api/v1/tokens/${x.info.id}`, headers: bearer(x.token) })));
    expect(answers.map((r) => r.statusCode).sort()).toEqual([204, 409]);
    expect((await t.ctx.tokens.list()).filter((x) => x.role === "admin" && x.revokedAt === null)).toHaveLength(1);
  });
});
