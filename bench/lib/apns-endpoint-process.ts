// The local APNs endpoint in a child process, for the push benches: the endpoint gets its own core, so what is
// measured is the sender. The child is this same module, run with --endpoint through bin/run-ts.js.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { LocalApnsStats } from "../../src/push/apns-dev/local-apns.ts";

export interface EndpointReady {
  url: string;
  caPem: string;
  /** A push certificate the endpoint accepts, with its key and topic. */
  certPem: string;
  keyPem: string;
  topic: string;
}

export type EndpointStats = LocalApnsStats & { cpuSeconds: number };

export interface EndpointProcess {
  ready: EndpointReady;
  /** The endpoint's counters and the CPU its process has used so far. */
  stats(): Promise<EndpointStats>;
  stop(): void;
}

/** Starts the endpoint; `nodeArgs` are flags for its node (e.g. a profiler's). */
export async function startEndpointProcess(nodeArgs: readonly string[] = []): Promise<EndpointProcess> {
  const runTs = fileURLToPath(new URL("../../bin/run-ts.js", import.meta.url));
  const child = fork(runTs, [fileURLToPath(import.meta.url), "--endpoint"], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [...nodeArgs] });
  const ready = await new Promise<EndpointReady>((resolve) => child.once("message", (m) => resolve(m as EndpointReady)));
  const stats = () =>
    new Promise<EndpointStats>((resolve) => {
      const on = (m: unknown) => {
        if (typeof m === "object" && m !== null && "stats" in m) {
          child.off("message", on);
          resolve((m as { stats: EndpointStats }).stats);
        }
      };
      child.on("message", on);
      child.send("stats");
    });
  return { ready, stats, stop: () => void child.send("exit") };
}

async function endpointProcess(): Promise<void> {
  const { startApnsDev } = await import("../../src/push/apns-dev/apns-dev.ts");
  const { issuePushCertificate } = await import("../../src/push/apns-dev/authority.ts");
  const dev = await startApnsDev({ devicePort: false, recordLimit: 1000 });
  const cert = await issuePushCertificate(dev.authority.ca);
  process.send!({ url: dev.url, caPem: dev.caPem, certPem: cert.certPem, keyPem: cert.keyPem, topic: cert.topic } satisfies EndpointReady);
  process.on("message", (m) => {
    if (m === "stats") {
      const cpu = process.cpuUsage();
      process.send!({ stats: { ...dev.apns.stats, cpuSeconds: Math.round(((cpu.user + cpu.system) / 1e6) * 100) / 100 } satisfies EndpointStats });
    }
    if (m === "exit") void dev.close().then(() => process.exit(0));
  });
}

if (process.argv.includes("--endpoint")) await endpointProcess();
