// An `orchard serve` child process for benchmarks: its own data folder, a database, plain HTTP on a free
// port, and its CPU time and resident memory read from /proc so that only the server's cost is counted.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const CLOCK_TICKS = 100; // Linux USER_HZ

export interface BenchServer {
  url: string;
  dataDir: string;
  adminToken: string;
  pid: number;
  /** User + system CPU seconds the server has used so far. */
  cpuSeconds(): number;
  rssBytes(): number;
  stop(): Promise<void>;
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

export async function startBenchServer(opts: { databaseUrl?: string; env?: Record<string, string>; nodeArgs?: string[] } = {}): Promise<BenchServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "orchard-bench-"));
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${httpPort}`;
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), resolve("bin/orchard.js"), "serve"], {
    env: {
      ...process.env,
      ORCHARD_DATA_DIR: dataDir,
      ORCHARD_HTTP_PORT: String(httpPort),
      ORCHARD_HTTPS_PORT: String(httpsPort),
      ORCHARD_HOST: "127.0.0.1",
      ORCHARD_PUBLIC_URL: url,
      ORCHARD_DEV: "true",
      ORCHARD_LOG_LEVEL: "warn",
      ...(opts.databaseUrl ? { ORCHARD_DATABASE_URL: opts.databaseUrl } : {}),
      ...opts.env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null) throw new Error(`orchard serve exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
    if (i === 299) throw new Error("orchard serve did not become ready in 30 s");
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
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
