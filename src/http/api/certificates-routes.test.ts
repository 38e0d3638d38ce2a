import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../../../test/databases.ts";
import { buildTestContext, type TestContext } from "../../../test/context.ts";
import { recordIssued, type IssuedCertificateRow } from "../../store/issued-certificates.ts";
import { buildHttpApp } from "../app.ts";

const DAY = 86_400_000;

describeEachDatabase("GET /api/v1/certificates", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let auth: { authorization: string };
  const now = Date.now();
  // Ties on not_after, and serials whose order is not the expiry order: a serial cursor skips and repeats here.
  const rows: Array<Partial<IssuedCertificateRow> & { serial: string; not_after: number }> = [
    { serial: "f1", not_after: now + 5 * DAY },
    { serial: "0a", not_after: now + 5 * DAY },
    { serial: "7c", not_after: now + 5 * DAY },
    { serial: "e2", not_after: now + 10 * DAY },
    { serial: "03", not_after: now + 10 * DAY },
    { serial: "9d", not_after: now + 10 * DAY },
    { serial: "01", not_after: now + 20 * DAY },
    { serial: "55", not_after: now - 2 * DAY },
    { serial: "aa", not_after: now + 400 * DAY },
    { serial: "bb", not_after: now + 3 * DAY, revoked_at: now },
    { serial: "cc", not_after: now + 3 * DAY, kind: "tls" },
  ];

  beforeAll(async () => {
    t = await buildTestContext(database);
    app = await buildHttpApp(t.ctx);
    auth = { authorization: `Bearer ${(await t.ctx.tokens.create("admin", "admin", "system:test")).token}` };
    for (const r of rows) {
      await recordIssued(t.ctx.store, {
        kind: "identity",
        subject: `CN=${r.serial}`,
        not_before: now - 30 * DAY,
        fingerprint: r.serial.repeat(32),
        enrollment_id: null,
        enrollment_profile_id: null,
        revoked_at: null,
        created_at: now,
        ...r,
      } as IssuedCertificateRow);
    }
  });
  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  async function walk(query: string): Promise<{ serials: string[]; pages: number }> {
    const serials: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await app.inject({ url: `/api/v1/certificates?limit=2${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, headers: auth });
      expect(r.statusCode, r.body).toBe(200);
      const body = r.json() as { certificates: Array<{ serial: string }>; nextCursor: string | null };
      serials.push(...body.certificates.map((c) => c.serial));
      cursor = body.nextCursor;
      pages++;
      expect(pages).toBeLessThan(50);
    } while (cursor);
    return { serials, pages };
  }

  const ordered = (list: Array<{ serial: string; not_after: number }>) =>
    [...list].sort((a, b) => a.not_after - b.not_after || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0)).map((r) => r.serial);

  it("without parameters lists every certificate, page after page, each once, in expiry order", async () => {
    // Certificates the server issued itself at start-up (TLS, SCEP RA) are listed too.
    const all = await t.ctx.store.db.selectFrom("issued_certificates").select(["serial", "not_after"]).execute();
    expect(all.length).toBeGreaterThanOrEqual(rows.length);
    const { serials, pages } = await walk("");
    expect(pages).toBeGreaterThan(2);
    expect(serials).toEqual(ordered(all));
  });

  it("with expiringWithinDays lists only unrevoked identities expiring within the window, expired ones included", async () => {
    const { serials, pages } = await walk("&expiringWithinDays=30");
    expect(pages).toBeGreaterThan(2);
    expect(serials).toEqual(["55", "0a", "7c", "f1", "03", "9d", "e2", "01"]);
  });

  it("refuses a malformed cursor with 400", async () => {
    for (const cursor of ["not*base64", Buffer.from("garbage").toString("base64url"), Buffer.from('["x","y"]').toString("base64url"), Buffer.from("[1]").toString("base64url")]) {
      const r = await app.inject({ url: `/api/v1/certificates?cursor=${encodeURIComponent(cursor)}`, headers: auth });
      expect(r.statusCode, cursor).toBe(400);
      expect(r.json().error).toEqual({ code: "invalid_request", message: expect.stringMatching(/^cursor is malformed/) });
    }
  });
});
