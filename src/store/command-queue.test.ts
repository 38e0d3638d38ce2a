import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { describeEachDatabase } from "../../test/databases.ts";
import type { Store, Tx } from "./db.ts";
import { cancelPending, claimNext, commandCounts, commandTargets, completeDelivery, expireDue, insertCommand, markNotNow, pruneResults } from "./command-queue.ts";

describeEachDatabase("command queue", (database) => {
  let store: Store & { cleanup(): Promise<void> };
  let n = 0;
  const cmd = (priority = 0, expiresAt: number | null = null) => ({
    uuid: `cmd-${++n}`,
    requestType: "DeviceInformation",
    body: `<plist>${n}</plist>`,
    priority,
    expiresAt,
    createdBy: "test",
  });

  /** Store functions that must be atomic with their callers' other writes take a transaction. */
  const inTx =
    <A extends unknown[], R>(fn: (tx: Tx, ...a: A) => Promise<R>) =>
    (...a: A) =>
      store.transaction((t) => fn(t, ...a));

  beforeAll(async () => {
    store = await database.openStore();
  });
  afterAll(async () => store.cleanup());
  beforeEach(async () => {
    await store.db.deleteFrom("command_queue").execute();
    await store.db.deleteFrom("command_results").execute();
  });

  it("delivers one command at a time, by priority then age", async () => {
    const t0 = 1_000_000;
    const a = cmd(0), b = cmd(5), c = cmd(0);
    await inTx(insertCommand)(a, ["dev-1"], t0);
    await inTx(insertCommand)(b, ["dev-1"], t0 + 1);
    await inTx(insertCommand)(c, ["dev-1"], t0 + 2);
    const first = await claimNext(store, "dev-1", true, t0 + 10);
    expect(first?.commandUuid).toBe(b.uuid);
    expect(await inTx(completeDelivery)("dev-1", b.uuid, "acknowledged", new Uint8Array([1]), null, t0 + 11)).toBe("recorded");
    expect((await claimNext(store, "dev-1", false, t0 + 12))?.commandUuid).toBe(a.uuid);
    expect(await inTx(completeDelivery)("dev-1", a.uuid, "error", new Uint8Array([2]), '[{"ErrorCode":1}]', t0 + 13)).toBe("recorded");
    expect((await claimNext(store, "dev-1", false, t0 + 14))?.commandUuid).toBe(c.uuid);
  });

  it("keeps a NotNow command queued and skips it until the next Idle", async () => {
    const x = cmd(), y = cmd();
    await inTx(insertCommand)(x, ["dev-2"], 1);
    await inTx(insertCommand)(y, ["dev-2"], 2);
    expect((await claimNext(store, "dev-2", true, 10))?.commandUuid).toBe(x.uuid);
    expect(await markNotNow(store, "dev-2", x.uuid, 10)).toBe("recorded");
    // After a result, the NotNow'd command is skipped ...
    expect((await claimNext(store, "dev-2", false, 11))?.commandUuid).toBe(y.uuid);
    expect(await inTx(completeDelivery)("dev-2", y.uuid, "acknowledged", new Uint8Array(), null, 12)).toBe("recorded");
    expect(await claimNext(store, "dev-2", false, 13)).toBeUndefined();
    // ... and offered again at the next Idle.
    expect((await claimNext(store, "dev-2", true, 14))?.commandUuid).toBe(x.uuid);
    // A second NotNow for the same command changes nothing worth an event (a locked device says it on every connect).
    expect(await markNotNow(store, "dev-2", x.uuid, 15)).toBe("repeated");
    expect(await markNotNow(store, "dev-2", "never-sent", 15)).toBe("unknown");
  });

  it("never hands the same command to two simultaneous connects", async () => {
    const cmds = [cmd(), cmd(), cmd()];
    for (const [i, c] of cmds.entries()) await inTx(insertCommand)(c, ["dev-3"], 100 + i);
    const claims = await Promise.all(Array.from({ length: 6 }, () => claimNext(store, "dev-3", false, 200)));
    const got = claims.filter(Boolean).map((c) => c!.commandUuid);
    expect(new Set(got).size).toBe(got.length);
    expect(got.length).toBe(3);
  });

  it("refuses a result for a command never sent, and accepts a repeated one as a duplicate", async () => {
    const c = cmd();
    await inTx(insertCommand)(c, ["dev-4"], 1);
    expect(await inTx(completeDelivery)("dev-4", c.uuid, "acknowledged", new Uint8Array(), null, 2)).toBe("unknown");
    expect(await inTx(completeDelivery)("dev-5", c.uuid, "acknowledged", new Uint8Array(), null, 2)).toBe("unknown");
    await claimNext(store, "dev-4", true, 3);
    expect(await inTx(completeDelivery)("dev-4", c.uuid, "acknowledged", new Uint8Array([9]), null, 4)).toBe("recorded");
    expect(await inTx(completeDelivery)("dev-4", c.uuid, "acknowledged", new Uint8Array([9]), null, 5)).toBe("duplicate");
  });

  it("queues one command to many targets, cancels the unsent ones and expires the stale ones", async () => {
    const targets = Array.from({ length: 1200 }, (_, i) => `fleet-${i}`);
    const c = cmd(0, 5_000);
    await inTx(insertCommand)(c, targets, 1_000);
    await claimNext(store, "fleet-0", true, 1_001);
    expect(await inTx(cancelPending)(c.uuid, 1_002)).toBe(1199);
    expect(await commandCounts(store, c.uuid)).toEqual({ sent: 1, cancelled: 1199 });
    // Pages follow enrollment-id order across the queue and the results.
    const first = await commandTargets(store, c.uuid, 500);
    const second = await commandTargets(store, c.uuid, 500, first[first.length - 1]!.enrollmentId);
    const third = await commandTargets(store, c.uuid, 500, second[second.length - 1]!.enrollmentId);
    const all = [...first, ...second, ...third];
    expect(all.map((s) => s.enrollmentId)).toEqual([...targets].sort());
    const states = all;
    expect(states.filter((s) => s.status === "cancelled")).toHaveLength(1199);
    expect(states.find((s) => s.enrollmentId === "fleet-0")?.status).toBe("sent");
    // The sent one expires: not delivered after its expiry, then moved to results by the sweep.
    expect(await claimNext(store, "fleet-0", true, 6_000)).toBeUndefined();
    expect(await inTx(expireDue)(6_000)).toBe(1);
    expect((await commandTargets(store, c.uuid, 1)).find((s) => s.enrollmentId === "fleet-0")?.status).toBe("expired");
  });

  it("prunes results and finished commands past retention", async () => {
    const c = cmd();
    await inTx(insertCommand)(c, ["dev-6"], 10);
    await claimNext(store, "dev-6", true, 11);
    await inTx(completeDelivery)("dev-6", c.uuid, "acknowledged", new Uint8Array(), null, 12);
    expect(await pruneResults(store, 100)).toEqual({ results: 1, commands: expect.any(Number) });
    expect(await store.db.selectFrom("commands").select("uuid").where("uuid", "=", c.uuid).executeTakeFirst()).toBeUndefined();
  });
});
