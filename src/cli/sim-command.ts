// orchard sim create|enroll|connect|run|stats|unenroll: the virtual device fleet (sim/). The fleet lives in one
// SQLite file, ./orchard-sim.db unless --fleet says otherwise, so it survives restarts.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { pemBlocks, derToPem } from "../pki/pem.ts";
import { createFleet, loadProfile, parsePlatforms } from "../../sim/fleet-commands.ts";
import { formatStats, formatSummary, ProgressBar } from "../../sim/fleet-report.ts";
import { runFleet, runFleetOnline, type FleetRunSummary } from "../../sim/fleet-runner.ts";
import { DEFAULT_FLEET_FILE, FleetStore } from "../../sim/fleet-store.ts";
import { evolveFleet } from "../../sim/fleet-evolution.ts";
import type { FleetOperation, OperationInput } from "../../sim/fleet-operations.ts";

interface RunFlags {
  fleet: string;
  concurrency: string;
  workers?: string;
  limit?: string;
  platform?: string;
  json?: boolean;
}

function integer(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

/** PEM certificates from files given with --ca (each file may hold several). */
function readCaFiles(files: string[]): string[] {
  return files.flatMap((f) => {
    const blocks = pemBlocks(readFileSync(f, "utf8")).filter((b) => b.label === "CERTIFICATE");
    if (blocks.length === 0) throw new Error(`--ca ${f}: no PEM certificate in the file`);
    return blocks.map((b) => derToPem(b.der));
  });
}

function report(summary: FleetRunSummary, json: boolean | undefined): void {
  console.log(json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
  if (summary.failed > 0) process.exitCode = 1;
}

async function runOperation(operation: FleetOperation, flags: RunFlags, input: Omit<OperationInput, "operation">, keyPool?: number): Promise<void> {
  const platform = flags.platform ? parsePlatforms(flags.platform) : undefined;
  if (platform && platform.length > 1) throw new Error("--platform takes one platform here");
  const bar = new ProgressBar(operation);
  const summary = await runFleet({
    fleetPath: flags.fleet,
    input: { operation, ...input },
    concurrency: integer("--concurrency", flags.concurrency, 1),
    ...(flags.workers !== undefined ? { workers: integer("--workers", flags.workers, 0) } : {}),
    filter: {
      enrolled: operation !== "enroll",
      ...(platform ? { platform: platform[0]! } : {}),
      ...(flags.limit !== undefined ? { limit: integer("--limit", flags.limit, 1) } : {}),
    },
    ...(keyPool !== undefined ? { keyPool } : {}),
    onProgress: (p) => bar.update(p),
  });
  bar.finish();
  report(summary, flags.json);
}

function runOptions(cmd: Command): Command {
  return cmd
    .option("--concurrency <k>", "devices in flight at once", "32")
    .option("--workers <n>", "worker threads (0 = this thread; default: 0 under 2,000 devices, else one per core up to 8)")
    .option("--limit <n>", "at most this many devices")
    .option("--platform <platform>", "only devices of this platform")
    .option("--json", "print the summary as JSON");
}

/** Registers `orchard sim …` on the program. */
export function registerSimCommands(program: Command): void {
  const sim = program
    .command("sim")
    .description("virtual Apple devices that enroll and answer MDM commands (tests, demos, load)")
    .option("--fleet <file>", "the fleet's state file", DEFAULT_FLEET_FILE);
  const fleetOf = (cmd: Command): string => (cmd.optsWithGlobals() as { fleet: string }).fleet;

  sim
    .command("create")
    .description("add virtual devices to the fleet")
    .requiredOption("--count <n>", "how many devices")
    .requiredOption("--platform <platforms>", "ios, ipados, macos, tvos or visionos; a comma list mixes them")
    .option("--supervised", "supervised devices")
    .option("--seed <seed>", "fleet seed (same seed, same devices)")
    .action(function (this: Command, opts: { count: string; platform: string; supervised?: boolean; seed?: string }) {
      const result = createFleet(fleetOf(this), {
        count: integer("--count", opts.count, 1),
        platforms: parsePlatforms(opts.platform),
        supervised: opts.supervised ?? false,
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      });
      console.log(`created ${result.created} devices; the fleet ${fleetOf(this)} now has ${result.total} (seed ${result.seed})`);
    });

  runOptions(
    sim
      .command("enroll")
      .description("enroll the fleet's unenrolled devices from an enrollment profile (.mobileconfig file or URL)")
      .requiredOption("--profile <url-or-file>", "the enrollment profile")
      .option("--ca <file>", "PEM CA to trust for the download and the profile's signature (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
      .option("--key-pool <n>", "share this many RSA keys across the fleet (default: a fresh key per device up to 100 devices, else 16)")
      .option("--insecure-http", "allow plain http to hosts other than loopback"),
  ).action(async function (this: Command, opts: RunFlags & { profile: string; ca: string[]; keyPool?: string; insecureHttp?: boolean }) {
    const fleet = fleetOf(this);
    const ca = readCaFiles(opts.ca);
    const profile = await loadProfile(opts.profile, ca, opts.insecureHttp ?? false);
    const store = FleetStore.open(fleet);
    const pending = store.select({ enrolled: false }).length;
    store.close();
    const keyPool = opts.keyPool !== undefined ? integer("--key-pool", opts.keyPool, 0) : pending > 100 ? 16 : 0;
    await runOperation("enroll", { ...opts, fleet }, { profile, ...(ca.length ? { profileTrust: ca } : {}), ...(opts.insecureHttp ? { allowInsecureHttp: true } : {}) }, keyPool);
  });

  runOptions(sim.command("connect").description("every enrolled device connects once (Idle, then each queued command) on every channel")).action(
    async function (this: Command, opts: RunFlags) {
      await runOperation("connect", { ...opts, fleet: fleetOf(this) }, {});
    },
  );

  runOptions(sim.command("unenroll").description("remove the enrollment profile from every enrolled device (CheckOut when the profile asks)")).action(
    async function (this: Command, opts: RunFlags) {
      await runOperation("unenroll", { ...opts, fleet: fleetOf(this) }, {});
    },
  );

  sim
    .command("run")
    .description("stay online: every enrolled device polls its server (until Ctrl-C or --duration)")
    .option("--interval <seconds>", "seconds between a device's connects", "60")
    .option("--duration <seconds>", "stop after this long")
    .option("--concurrency <k>", "devices in flight at once", "32")
    .option("--workers <n>", "worker threads (0 = this thread)")
    .option("--json", "print the summary as JSON")
    .action(async function (this: Command, opts: { interval: string; duration?: string; concurrency: string; workers?: string; json?: boolean }) {
      const bar = new ProgressBar("run", process.stderr, true);
      const online = runFleetOnline({
        fleetPath: fleetOf(this),
        intervalSec: integer("--interval", opts.interval, 1),
        concurrency: integer("--concurrency", opts.concurrency, 1),
        ...(opts.workers !== undefined ? { workers: integer("--workers", opts.workers, 0) } : {}),
        onProgress: (p) => bar.update(p),
      });
      await new Promise<void>((resolve) => {
        const timer = opts.duration !== undefined ? setTimeout(resolve, integer("--duration", opts.duration, 1) * 1000) : undefined;
        const onSignal = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
      });
      const summary = await online.stop();
      bar.finish();
      report(summary, opts.json);
    });

  sim
    .command("evolve")
    .description("a share of the devices installs, updates or deletes apps and may update its OS, for the next inventory")
    .requiredOption("--fraction <share>", "share of the devices that change, in (0, 1]")
    .option("--os-update <chance>", "chance that a changing device updates its OS, in [0, 1]", "0.3")
    .option("--platform <platform>", "only devices of this platform")
    .option("--seed <seed>", "same seed, same changes")
    .option("--json", "print JSON")
    .action(function (this: Command, opts: { fraction: string; osUpdate: string; platform?: string; seed?: string; json?: boolean }) {
      const fraction = Number(opts.fraction);
      const osUpdate = Number(opts.osUpdate);
      if (!(fraction > 0 && fraction <= 1)) throw new Error(`--fraction must be a number in (0, 1], got "${opts.fraction}"`);
      if (!(osUpdate >= 0 && osUpdate <= 1)) throw new Error(`--os-update must be a number in [0, 1], got "${opts.osUpdate}"`);
      const platform = opts.platform ? parsePlatforms(opts.platform) : undefined;
      if (platform && platform.length > 1) throw new Error("--platform takes one platform here");
      const summary = evolveFleet(fleetOf(this), {
        fraction,
        osUpdate,
        ...(platform ? { platform: platform[0]! } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      });
      console.log(opts.json ? JSON.stringify(summary, null, 2) : `${summary.changed} of ${summary.devices} picked devices changed: ${Object.entries(summary.changes).map(([k, n]) => `${n} ${k}`).join(", ") || "nothing"}`);
    });

  sim
    .command("stats")
    .description("what the fleet holds: devices by platform, enrolled, servers")
    .option("--json", "print JSON")
    .action(function (this: Command, opts: { json?: boolean }) {
      const fleet = fleetOf(this);
      const store = FleetStore.open(fleet, { readonly: true });
      try {
        const stats = store.stats();
        console.log(opts.json ? JSON.stringify(stats, null, 2) : formatStats(fleet, stats));
      } finally {
        store.close();
      }
    });
}
