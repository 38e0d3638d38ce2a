// The queries a busy server runs per request or per job pass must be index lookups on both databases.
// SQLite: EXPLAIN QUERY PLAN must not show a full SCAN of a table. PostgreSQL: with sequential scans
// disabled the planner must still find an index path (a Seq Scan left in the plan means there is none).
import type { Compilable } from "kysely";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../../test/databases.ts";
import type { Store } from "./db.ts";
import { AFTER_IDLE, AFTER_RESULT, HOT_PATH_SQL } from "./hot-path.ts";

describeEachDatabase("query plans of hot queries", (database) => {
  let store: Store & { cleanup(): Promise<void> };
  beforeAll(async () => {
    store = await database.openStore();
  });
  afterAll(async () => store.cleanup());

  async function plan(text: string, params: unknown[]): Promise<string> {
    if (store.dialect === "sqlite") {
      const rows = store.sqlite!.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...params) as Array<{ detail: string }>;
      return rows.map((r) => r.detail).join("\n");
    }
    let n = 0;
    const numbered = text.replace(/\?/g, () => `$${++n}`);
    const client = await store.pool!.connect();
    try {
      await client.query("SET enable_seqscan = off");
      const r = await client.query(`EXPLAIN ${numbered}`, params);
      return r.rows.map((x: Record<string, string>) => Object.values(x)[0]).join("\n");
    } finally {
      await client.query("RESET enable_seqscan");
      client.release();
    }
  }

  function expectIndexed(p: string, what: string) {
    if (store.dialect === "sqlite") {
      // "SCAN t" alone is a full table scan; "SCAN t USING (COVERING) INDEX" walks an index.
      const fullScans = p.split("\n").filter((l) => /^SCAN \w+$/.test(l.trim()) || /^SCAN \w+ AS/.test(l.trim()));
      expect(fullScans, `${what}:\n${p}`).toEqual([]);
    } else {
      expect(p, `${what}:\n${p}`).not.toMatch(/Seq Scan/);
    }
  }

  const compiled = (q: Compilable) => {
    const c = q.compile();
    let sqlText = c.sql;
    if (store.dialect === "postgres") sqlText = sqlText.replace(/\$\d+/g, "?");
    return [sqlText, c.parameters as unknown[]] as const;
  };

  it("connect: enrollment gate (also after Idle), next command (after Idle and after a result), claim, last seen", async () => {
    expectIndexed(await plan(HOT_PATH_SQL.gate, ["X"]), "gate");
    expectIndexed(await plan(HOT_PATH_SQL.idleGate, [1, "X"]), "gate after Idle");
    expectIndexed(await plan(HOT_PATH_SQL.next(AFTER_IDLE), ["X", 1]), "next after Idle");
    expectIndexed(await plan(HOT_PATH_SQL.next(AFTER_RESULT), ["X", 1]), "next after result");
    expectIndexed(await plan(HOT_PATH_SQL.claim, [1, "X", "U", 0]), "claim");
    expectIndexed(await plan(HOT_PATH_SQL.touch, [1, "X"]), "touch");
    expectIndexed(await plan(HOT_PATH_SQL.requestType, ["U"]), "request type of a result");
  });

  it("results, certificate binding, jobs and expiry", async () => {
    const db = store.db;
    const queries: Array<[string, Compilable]> = [
      ["complete: delete queue row", db.deleteFrom("command_queue").where("enrollment_id", "=", "X").where("command_uuid", "=", "U").where("status", "=", "sent")],
      ["duplicate result check", db.selectFrom("command_results").select("status").where("enrollment_id", "=", "X").where("command_uuid", "=", "U")],
      ["certificate bound elsewhere", db.selectFrom("enrollments").select("device_id").where("cert_fingerprint", "=", "F").where("device_id", "!=", "X").limit(5)],
      ["issued certificate by fingerprint", db.selectFrom("issued_certificates").selectAll().where("fingerprint", "=", "F")],
      ["device channels", db.updateTable("enrollments").set({ updated_at: 1 }).where("device_id", "=", "X")],
      ["due jobs", db.selectFrom("jobs").select("id").where("run_at", "<=", 1).orderBy("run_at").limit(20)],
      ["expired queue rows", db.selectFrom("command_queue").select(["enrollment_id", "command_uuid"]).where("expires_at", "is not", null).where("expires_at", "<=", 1).limit(1000)],
      ["command targets", db.selectFrom("command_queue").select(["enrollment_id", "status"]).where("command_uuid", "=", "U")],
      ["results to prune", db.selectFrom("command_results").select("command_uuid").where("completed_at", "<", 1).limit(10)],
      ["identities near expiry", db.selectFrom("issued_certificates").selectAll().where("kind", "=", "identity").where("not_after", "<", 1).orderBy("not_after").limit(100)],
      ["enrollment history", db.selectFrom("command_results").select("command_uuid").where("enrollment_id", "=", "X").orderBy("completed_at", "desc").limit(100)],
      ["link token", db.selectFrom("enrollment_profiles").selectAll().where("link_token_hash", "=", "H")],
      ["profile challenge", db.selectFrom("enrollment_profiles").select("id").where("challenge_hash", "=", "H")],
      ["one-time challenge", db.selectFrom("scep_challenges").selectAll().where("challenge_hash", "=", "H")],
    ];
    for (const [what, q] of queries) {
      const [text, params] = compiled(q);
      expectIndexed(await plan(text, params), what);
    }
  });
});
