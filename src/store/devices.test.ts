// The devices API's pages are index walks on both databases (the same check as query-plans.test.ts, on the
// statements the devices store runs): the list by each filter, and one device's history, newest first.
import type { Compilable } from "kysely";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../../test/databases.ts";
import type { Store } from "./db.ts";
import { listDevicesQuery, listHistoryQuery, type DeviceFilter } from "./devices.ts";

describeEachDatabase("devices store: query plans", (database) => {
  let store: Store & { cleanup(): Promise<void> };
  beforeAll(async () => {
    store = await database.openStore();
  });
  afterAll(async () => store.cleanup());

  async function plan(q: Compilable): Promise<string> {
    const c = q.compile();
    if (store.dialect === "sqlite") {
      const rows = store.sqlite!.prepare(`EXPLAIN QUERY PLAN ${c.sql}`).all(...(c.parameters as unknown[])) as Array<{ detail: string }>;
      return rows.map((r) => r.detail).join("\n");
    }
    const client = await store.pool!.connect();
    try {
      await client.query("SET enable_seqscan = off");
      const r = await client.query(`EXPLAIN ${c.sql}`, c.parameters as unknown[]);
      return r.rows.map((x: Record<string, string>) => Object.values(x)[0]).join("\n");
    } finally {
      await client.query("RESET enable_seqscan");
      client.release();
    }
  }

  function expectIndexed(p: string, what: string) {
    const lines = p.split("\n").map((l) => l.trim());
    if (store.dialect === "sqlite") {
      expect(lines.filter((l) => /^SCAN \w+/.test(l)), `${what}:\n${p}`).toEqual([]);
    } else {
      expect(p, `${what}:\n${p}`).not.toMatch(/Seq Scan/);
      const indexScans = lines.filter((l) => /Index (Only )?Scan/.test(l)).length;
      expect(lines.filter((l) => l.startsWith("Index Cond:")).length, `${what}: an index scan without an Index Cond:\n${p}`).toBe(indexScans);
    }
  }

  it("lists devices by serial, UDID, name, platform and enrollment profile through an index", async () => {
    const filters: Array<[string, DeviceFilter]> = [
      ["serial", { serialNumber: "S" }],
      ["udid", { udid: "U" }],
      ["name", { name: "N" }],
      ["platform", { platform: "iOS" }],
      ["enrollment profile", { enrollmentProfileId: "P" }],
    ];
    for (const [what, filter] of filters) {
      // The first page too: a later page's `id > cursor` alone is a range on the primary key that walks the table.
      expectIndexed(await plan(listDevicesQuery(store.db, filter, 101)), `${what}, first page`);
      expectIndexed(await plan(listDevicesQuery(store.db, filter, 101, "A")), `${what}, next page`);
    }
  });

  it("pages a device's history newest first through its index, first page and later ones", async () => {
    expectIndexed(await plan(listHistoryQuery(store.db, "D", 101)), "history, first page");
    expectIndexed(await plan(listHistoryQuery(store.db, "D", 101, [1, "X"])), "history, next page");
  });
});
