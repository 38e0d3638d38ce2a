import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { defaultPushThreads, loadConfig } from "./config.ts";

describe("push worker threads", () => {
  it("keeps a core for the main thread and uses two threads at most", () => {
    expect([1, 2, 3, 4, 64].map(defaultPushThreads)).toEqual([0, 1, 2, 2, 2]);
  });

  it("defaults to this machine's figure and obeys ORCHARD_PUSH_THREADS", () => {
    expect(loadConfig({}).pushThreads).toBe(defaultPushThreads(availableParallelism()));
    expect(loadConfig({ ORCHARD_PUSH_THREADS: "0" }).pushThreads).toBe(0);
    expect(loadConfig({ ORCHARD_PUSH_THREADS: "3" }).pushThreads).toBe(3);
    expect(() => loadConfig({ ORCHARD_PUSH_THREADS: "-1" })).toThrow(/ORCHARD_PUSH_THREADS/);
  });
});
