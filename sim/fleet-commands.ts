// The work behind `orchard sim …`, kept out of the CLI wiring (src/cli/sim-command.ts) so it can be tested and
// reused: creating devices in a fleet file, and fetching an enrollment profile from a URL or a file.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createDeviceState, type CreateDeviceOptions, type DeviceState } from "./device-state.ts";
import { FleetStore } from "./fleet-store.ts";
import { Transport } from "./mdm-transport.ts";
import { parseDevicePlatform, type DevicePlatform } from "./platform.ts";

export interface CreateFleetOptions {
  count: number;
  /** Devices are spread round-robin over these platforms. */
  platforms: DevicePlatform[];
  supervised?: boolean;
  /** Fleet seed: the same seed gives the same devices. Stored in the fleet file at creation. */
  seed?: string;
  behaviour?: CreateDeviceOptions["behaviour"];
}

/** Parses "ios,macos" or "iOS" into platforms, with a clear error for anything else. */
export function parsePlatforms(value: string): DevicePlatform[] {
  const platforms = value.split(",").map((p) => p.trim()).filter(Boolean);
  if (platforms.length === 0) throw new Error("--platform needs at least one of ios, ipados, macos, tvos, visionos");
  return platforms.map((p) => {
    const platform = parseDevicePlatform(p);
    if (!platform) throw new Error(`unknown platform "${p}" (ios, ipados, macos, tvos, visionos)`);
    return platform;
  });
}

/** Adds `count` devices to the fleet (creating the file), continuing the fleet's deterministic sequence. */
export function createFleet(path: string, options: CreateFleetOptions): { created: number; total: number; seed: string } {
  if (!Number.isInteger(options.count) || options.count < 1) throw new Error(`--count must be a positive integer, got ${options.count}`);
  const store = FleetStore.open(path, { create: true });
  try {
    let seed = store.getMeta("seed");
    if (seed === undefined) {
      seed = options.seed ?? randomBytes(8).toString("hex");
      store.setMeta("seed", seed);
    } else if (options.seed !== undefined && options.seed !== seed) {
      throw new Error(`the fleet was created with seed ${seed}; use a new --fleet file for another seed`);
    }
    const start = Number(store.getMeta("next_index") ?? "0");
    const batch: DeviceState[] = [];
    for (let i = 0; i < options.count; i++) {
      const index = start + i;
      batch.push(
        createDeviceState({
          platform: options.platforms[i % options.platforms.length]!,
          supervised: options.supervised ?? false,
          seed: `${seed}-${index}`,
          ...(options.behaviour ? { behaviour: options.behaviour } : {}),
        }),
      );
      if (batch.length === 5000) store.addDevices(batch.splice(0));
    }
    store.addDevices(batch);
    store.setMeta("next_index", String(start + options.count));
    return { created: options.count, total: store.stats().total, seed };
  } finally {
    store.close();
  }
}

/**
 * The enrollment profile from a file or an http(s) URL (a download link such as Orchard's /enroll/{token}).
 * `ca` lists PEM certificates to trust for the download's TLS besides the system store.
 */
export async function loadProfile(source: string, ca: string[] = [], allowInsecureHttp = false): Promise<Uint8Array> {
  if (!/^https?:\/\//i.test(source)) {
    try {
      return new Uint8Array(await readFile(source));
    } catch (e) {
      throw new Error(`cannot read the profile ${source}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
  }
  const transport = new Transport({ allowInsecureHttp });
  try {
    const res = await transport.request({ method: "GET", url: source, ca, headers: { accept: "application/x-apple-aspen-config" } });
    if (res.status !== 200) throw new Error(`downloading ${source}: HTTP ${res.status}: ${res.body.toString("utf8").slice(0, 200)}`);
    return new Uint8Array(res.body);
  } finally {
    transport.close();
  }
}
