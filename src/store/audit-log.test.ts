import { afterEach, beforeEach, expect, it } from "vitest";
import { describeEachDatabase } from "../../test/databases.ts";
import type { Store } from "./db.ts";
import { insertAuditEntry, listAuditEntries, type AuditRow } from "./audit-log.ts";

describeEachDatabase("audit log store", (database) => {
  let store: Store & { cleanup(): Promise<void> };
  beforeEach(async () => {
    store = await database.openStore();
  });
  afterEach(async () => store.cleanup());

  const entry = (id: string, at: number, actor = "admin"): AuditRow => ({ id, at, actor, action: "token.create", target: null, outcome: "ok", status_code: 201, detail: null });

  it("pages newest first by (at, id), ties broken by id, and filters", async () => {
    for (const e of [entry("a", 1), entry("b", 2), entry("c", 2), entry("d", 3, "ci")]) await insertAuditEntry(store, e);
    const ids = (rows: AuditRow[]) => rows.map((r) => r.id);
    expect(ids(await listAuditEntries(store, {}, 2))).toEqual(["d", "c"]);
    expect(ids(await listAuditEntries(store, {}, 2, "c"))).toEqual(["b", "a"]);
    expect(ids(await listAuditEntries(store, { actor: "admin" }, 10, "b"))).toEqual(["a"]);
    expect(ids(await listAuditEntries(store, { actor: "ci" }, 10))).toEqual(["d"]);
    // An unknown cursor is no bound (the route validates cursors before they get here).
    expect(ids(await listAuditEntries(store, {}, 10, "zz"))).toEqual(["d", "c", "b", "a"]);
  });
});
