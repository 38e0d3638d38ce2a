// The queries a busy server runs per request or per job pass must be index lookups on both databases.
// SQLite: EXPLAIN QUERY PLAN must reach every table by SEARCH (no SCAN of a table or a whole index).
// PostgreSQL: with sequential scans disabled the planner must still find an index path whose scan has an
// Index Cond (a Seq Scan, or an index walked end to end, means there is none).
// The statements explained are the ones the code runs: the hot path's SQL constants and the kysely builders
// the store functions execute (exported next to them), compiled here, never copies of them.
import type { Compilable } from "kysely";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../../test/databases.ts";
import type { Store } from "./db.ts";
import { AFTER_IDLE, AFTER_RESULT, HOT_PATH_SQL } from "./hot-path.ts";
import { commandTargetsQueries, completeDeleteQuery, enrollmentCommandsQueries, expiredRowsQuery, pruneResultsQuery, resultOfQuery } from "./command-queue.ts";
import { otherDevicesBoundToQuery, updateDeviceChannelsQuery } from "./enrollments.ts";
import { identitiesExpiringBeforeQuery, issuedByFingerprintQuery } from "./issued-certificates.ts";
import { claimableJobsQuery } from "./jobs.ts";
import { dueRetriesQuery } from "./push-state.ts";
import { linkTokenQuery, profileChallengeQuery } from "./enrollment-profiles.ts";
import { oneTimeChallengeQuery } from "./scep-challenges.ts";
import { dueForInventoryQuery, outstandingInventoryQuery } from "./devices.ts";

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
    const lines = p.split("\n").map((l) => l.trim());
    if (store.dialect === "sqlite") {
      // SEARCH is a key or range lookup. "SCAN t" reads the whole table and "SCAN t USING (COVERING) INDEX"
      // the whole index (e.g. walking an ORDER BY index while filtering on another column): both grow with it.
      const scans = lines.filter((l) => /^SCAN \w+/.test(l) && !/^SCAN CONSTANT ROW/.test(l));
      expect(scans, `${what}:\n${p}`).toEqual([]);
    } else {
      expect(p, `${what}:\n${p}`).not.toMatch(/Seq Scan/);
      // An index scan without an Index Cond walks the whole index (sequential scans being off, the planner
      // falls back to that when no index matches the predicate).
      const indexScans = lines.filter((l) => /Index (Only )?Scan/.test(l)).length;
      const conditions = lines.filter((l) => l.startsWith("Index Cond:")).length;
      expect(conditions, `${what}: an index scan without an Index Cond:\n${p}`).toBe(indexScans);
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

  it("results, certificate binding, jobs, expiry, push sweep and enrollment secrets: the builders the code runs", async () => {
    const db = store.db;
    const targets = commandTargetsQueries(db, "U", 100, "X");
    const history = enrollmentCommandsQueries(db, "X", 100);
    const queries: Array<[string, Compilable]> = [
      ["complete: delete queue row", completeDeleteQuery(db, "X", "U")],
      ["duplicate result check", resultOfQuery(db, "X", "U")],
      ["certificate bound elsewhere", otherDevicesBoundToQuery(db, "F", "X")],
      ["issued certificate by fingerprint", issuedByFingerprintQuery(db, "F")],
      ["device channels", updateDeviceChannelsQuery(db, "X", { updated_at: 1 })],
      ["due jobs", claimableJobsQuery(db, store.dialect, 1, 20)],
      ["expired queue rows", expiredRowsQuery(db, 1, 1000)],
      ["command targets (queue)", targets.queued],
      ["command targets (results)", targets.done],
      ["results to prune", pruneResultsQuery(db, 1)],
      ["identities near expiry", identitiesExpiringBeforeQuery(db, 1, 100, { notAfter: 1, serial: "S" })],
      ["enrollment queue", history.queue],
      ["enrollment history", history.history],
      ["push re-push sweep", dueRetriesQuery(db, 1, 100)],
      ["link token", linkTokenQuery(db, "H")],
      ["profile challenge", profileChallengeQuery(db, "H")],
      ["one-time challenge", oneTimeChallengeQuery(db, "H")],
      ["outstanding inventory commands of a device", outstandingInventoryQuery(db, "X", "inventory-", 1)],
      ["devices due for inventory", dueForInventoryQuery(db, 1, 2000)],
    ];
    for (const [what, q] of queries) {
      const [text, params] = compiled(q);
      expectIndexed(await plan(text, params), what);
    }
  });
});
