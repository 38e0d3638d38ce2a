import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../../../test/databases.ts";
import type { TestContext } from "../../../test/context.ts";
import { startApiApp, stopApiApp, type ApiApp } from "../../../test/api-app.ts";
import { insertEnrollment, type EnrollmentRow } from "../../store/enrollments.ts";

function enrollment(id: string, platform: string): EnrollmentRow {
  const now = Date.now();
  return {
    id, device_id: id, channel: "device", kind: "device", status: "active", cert_fingerprint: null, enrollment_profile_id: null, udid: id,
    enrollment_user_id: null, serial_number: `SN${id}`, platform, model: null, model_name: null, product_name: null, os_version: null,
    build_version: null, device_name: null, imei: null, meid: null, user_id: null, user_short_name: null, user_long_name: null, supervised: null,
    topic: null, push_token: null, push_magic: null, token_invalid_at: null, unlock_token_sealed: null, bootstrap_token_sealed: null,
    awaiting_configuration: 0, not_on_console: 0, last_seen_at: null, last_push_at: null, last_push_result: null, authenticated_at: now,
    activated_at: now, checked_out_at: null, created_at: now, updated_at: now,
  } as EnrollmentRow;
}

describeEachDatabase("GET /api/v1/enrollments filters and cursors", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let auth: ApiApp["auth"];

  beforeAll(async () => {
    ({ t, app, auth } = await startApiApp(database));
    for (const [id, platform] of [["E1", "iOS"], ["E2", "iPadOS"], ["E3", "macOS"], ["E4", "macOS"], ["E5", "tvOS"]] as const) await insertEnrollment(t.ctx.store, enrollment(id, platform));
  });
  afterAll(() => stopApiApp({ t, app }));

  const ids = async (query: string) => {
    const r = await app.inject({ url: `/api/v1/enrollments?${query}`, headers: auth });
    expect(r.statusCode, r.body).toBe(200);
    return (r.json().enrollments as Array<{ id: string }>).map((e) => e.id);
  };

  it("matches platform in any case", async () => {
    expect(await ids("platform=ios")).toEqual(["E1"]);
    expect(await ids("platform=iOS")).toEqual(["E1"]);
    expect(await ids("platform=MACOS")).toEqual(["E3", "E4"]);
    expect(await ids("platform=ipados")).toEqual(["E2"]);
  });

  it("refuses a platform that is none, rather than answering an empty list", async () => {
    const r = await app.inject({ url: "/api/v1/enrollments?platform=android", headers: auth });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.message).toBe("querystring/platform must be one of: iOS, iPadOS, macOS, tvOS, visionOS, watchOS");
  });

  it("pages with opaque cursors, each enrollment once", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await app.inject({ url: `/api/v1/enrollments?limit=2${cursor ? `&cursor=${cursor}` : ""}`, headers: auth });
      const body = r.json() as { enrollments: Array<{ id: string }>; nextCursor: string | null };
      seen.push(...body.enrollments.map((e) => e.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(["E1", "E2", "E3", "E4", "E5"]);
  });

  it("every paginated route refuses a malformed cursor with 400", async () => {
    const bad = ["E2", "%%%", Buffer.from('{"id":"E2"}').toString("base64url"), Buffer.from("[2]").toString("base64url")];
    for (const url of ["/api/v1/enrollments", "/api/v1/audit", "/api/v1/commands/00000000-0000-0000-0000-000000000000", "/api/v1/enrollment-profiles/nope/devices", "/api/v1/certificates"]) {
      for (const cursor of bad) {
        const r = await app.inject({ url: `${url}?cursor=${encodeURIComponent(cursor)}`, headers: auth });
        expect(`${r.statusCode} ${r.json().error?.message}`, `${url} ${cursor}`).toMatch(/^400 cursor is malformed/);
      }
    }
  });
});
