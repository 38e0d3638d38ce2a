// The facts of the machine a run was made on, recorded with the results so figures can be compared fairly.
import { execFileSync } from "node:child_process";
import { cpus, freemem, loadavg, release, totalmem } from "node:os";
import { serverGlibcTunables, serverNodeArgs } from "./server-process.ts";

export interface MachineFacts {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  freeMemoryGb: number;
  node: string;
  v8: string;
  openssl: string;
  platform: string;
  kernel: string;
  /** 1-minute load average when the run started: other work on the machine shares its cores. */
  loadAverageAtStart: number;
  /** Filled in when the run ends. */
  loadAverageAtEnd?: number;
  /** CPU µs of one RSA-2048 signature check (see calibration.ts), at the start and the end of the run. */
  referenceRsaVerifyUs?: { start: number; end?: number };
  /**
   * How the server under test was launched: node flags (ORCHARD_BENCH_SERVER_NODE_ARGS) and glibc's allocator
   * settings (GLIBC_TUNABLES, by default those of the deployment guide). Absent for a launch with neither.
   */
  serverLaunch?: { nodeArgs?: string; glibcTunables?: string };
  gitCommit?: string;
  gitDirty?: boolean;
  /** Uncommitted files under src/ and bench/ when the run started (the server runs from the working tree). */
  gitDirtyFiles?: string[];
}

export function currentLoadAverage(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}

export function machineFacts(): MachineFacts {
  const c = cpus();
  const facts: MachineFacts = {
    cores: c.length,
    cpuModel: c[0]?.model.trim() ?? "unknown",
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGb: Math.round((freemem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl ?? "unknown",
    platform: `${process.platform}-${process.arch}`,
    kernel: release(),
    loadAverageAtStart: currentLoadAverage(),
  };
  const nodeArgs = serverNodeArgs().join(" ");
  const glibcTunables = serverGlibcTunables().trim();
  if (nodeArgs || glibcTunables) facts.serverLaunch = { ...(nodeArgs ? { nodeArgs } : {}), ...(glibcTunables ? { glibcTunables } : {}) };
  try {
    facts.gitCommit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "bench", ":!bench/results"], { encoding: "utf8" }).split("\n").filter((l) => l.trim().length > 0);
    facts.gitDirty = dirty.length > 0;
    if (dirty.length) facts.gitDirtyFiles = dirty.slice(0, 30).map((l) => l.slice(3));
  } catch {
    // not a git checkout
  }
  return facts;
}
