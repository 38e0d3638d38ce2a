import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { defaultPushThreads, loadConfig, unknownSettingVariables } from "./config.ts";

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

describe("unknown ORCHARD_ variables", () => {
  it("names the ones that are no setting, and not the settings, the config file or the test and bench variables", () => {
    const env = {
      ORCHARD_LISTEN_PORT: "9443",
      ORCHARD_HTTPS_PORT: "9443",
      ORCHARD_CONFIG_FILE: "/etc/orchard.json",
      ORCHARD_TEST_DATABASE_URL: "postgres://x",
      ORCHARD_BENCH_SERVER_NODE_ARGS: "",
      ORCHARD_DATABSE_URL: "postgres://typo",
      PATH: "/bin",
    };
    expect(unknownSettingVariables(env)).toEqual(["ORCHARD_DATABSE_URL", "ORCHARD_LISTEN_PORT"]);
  });
});
