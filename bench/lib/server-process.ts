// An `orchard serve` child process for benchmarks: its own data folder, a database, plain HTTP on a free
// loopback port, and its CPU time and resident memory read from /proc so that only the server's cost is
// counted. Every child is killed when the bench exits, however it exits.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const CLOCK_TICKS = 100; // Linux USER_HZ
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

export interface BenchServer {
  url: string;
  dataDir: string;
  adminToken: string;
  pid: number;
  /** User + system CPU seconds the server has used so far (10 ms resolution). */
  cpuSeconds(): number;
  rssBytes(): number;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;

/** Kills every server still running; registered once, on the first start. */
function killAll(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

export interface StartOptions {
  /** Omit for SQLite in the data folder. */
  databaseUrl?: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
  /**
   * The compiled entry point (`npm run build` output) to run instead of bin/orchard.js with its TypeScript
   * loader: how a production deployment runs Orchard, without the loader's thread and its ~45 MB.
   */
  entry?: string;
}

/**
 * glibc's allocator settings the deployment guide gives production (docs/deployment.md, "Memory"): a fixed mmap
 * threshold, so that large buffers are returned to the system when freed instead of raising the threshold and
 * landing in the heap, and a low trim threshold. The server runs with them unless GLIBC_TUNABLES is set (set it
 * to "" for glibc's defaults).
 */
export const PRODUCTION_GLIBC_TUNABLES = "glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=2";

export function serverGlibcTunables(): string {
  return process.env.GLIBC_TUNABLES ?? PRODUCTION_GLIBC_TUNABLES;
}

/**
 * The node flags the deployment guide gives production (docs/deployment.md, "Memory"): a sized V8 heap. Without
 * it, on a machine with plenty of memory, V8 lets its heap grow to several times what is live before collecting.
 */
export const PRODUCTION_NODE_ARGS = ["--max-old-space-size=512"];

/**
 * The production flags, then ORCHARD_BENCH_SERVER_NODE_ARGS: extra node flags for the server, e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof" (a later --max-old-space-size wins).
 */
export function serverNodeArgs(): string[] {
  return [...PRODUCTION_NODE_ARGS, ...(process.env.ORCHARD_BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean)];
}

/** Compiles the server as `npm run build` does and returns its entry point. */
export function buildServer(): string {
  execFileSync(process.execPath, [resolve("node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { stdio: "inherit" });
  const entry = resolve("dist/src/cli/main.js");
  if (!existsSync(entry)) throw new Error(`the build did not produce ${entry}`);
  return entry;
}

export async function startBenchServer(opts: StartOptions = {}): Promise<BenchServer> {
  hookExit();
  const dataDir = mkdtempSync(join(tmpdir(), "orchard-bench-"));
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${httpPort}`;
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? serverNodeArgs()), opts.entry ?? resolve("bin/orchard.js"), "serve"], {
    env: {
      ...process.env,
      GLIBC_TUNABLES: serverGlibcTunables(),
      ORCHARD_DATA_DIR: dataDir,
      ORCHARD_HTTP_PORT: String(httpPort),
      ORCHARD_HTTPS_PORT: String(httpsPort),
      ORCHARD_HOST: "127.0.0.1",
      ORCHARD_PUBLIC_URL: url,
      ORCHARD_DEV: "true",
      ORCHARD_LOG_LEVEL: "warn",
      // The scenarios measure the engine: a command round expects the one command it queued, not a device's
      // inventory commands as well. Inventory ingestion is measured on the results those scenarios send.
      ORCHARD_INVENTORY_ON_ENROLL: "false",
      ORCHARD_INVENTORY_INTERVAL_HOURS: "0",
      ...(opts.databaseUrl ? { ORCHARD_DATABASE_URL: opts.databaseUrl } : {}),
      ...opts.env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  live.add(child);
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  child.once("exit", () => live.delete(child));
  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitReady(url, child);
  } catch (e) {
    await cleanup();
    throw e;
  }
  const pid = child.pid!;
  return {
    url,
    dataDir,
    pid,
    adminToken: readFileSync(join(dataDir, "admin-token"), "utf8").trim(),
    cpuSeconds() {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    },
    rssBytes() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      return m ? Number(m[1]) * 1024 : 0;
    },
    stop: cleanup,
  };
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`orchard serve exited with ${child.exitCode} before it was ready`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`orchard serve did not become ready in ${READY_TIMEOUT_MS / 1000} s`);
}

/** CPU seconds the process `pid` has used (for the PostgreSQL server's backends, summed by the caller). */
export function processCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
