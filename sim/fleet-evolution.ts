// `orchard sim evolve`: a fraction of a fleet's devices live through one period (device-evolution.ts), so the
// next inventory sweep reports OS updates and app changes. Works on the fleet file: run it between
// `orchard sim connect` runs, not while `orchard sim run` holds the devices in memory (that run would save
// over it).
import { evolveDevice, type DeviceChange, type EvolveOptions } from "./device-evolution.ts";
import { FleetError, FleetStore } from "./fleet-store.ts";
import { cryptoRandom, seededRandom } from "./seeded-random.ts";

export interface FleetEvolveOptions extends EvolveOptions {
  /** Share of the devices that change (0..1]. */
  fraction: number;
  /** Same seed, same devices picked and the same changes. */
  seed?: string;
  platform?: string;
}

export interface FleetEvolveSummary {
  devices: number;
  changed: number;
  /** Changes by kind ("os-update", "app-install"...). */
  changes: Record<string, number>;
}

export function evolveFleet(fleetPath: string, options: FleetEvolveOptions): FleetEvolveSummary {
  if (!(options.fraction > 0 && options.fraction <= 1)) throw new FleetError(`the fraction must be in (0, 1], got ${options.fraction}`);
  const rng = options.seed !== undefined ? seededRandom(`evolve:${options.seed}`) : cryptoRandom();
  const store = FleetStore.open(fleetPath);
  try {
    const seqs = store.select(options.platform !== undefined ? { platform: options.platform } : {});
    const picked = seqs.filter(() => rng.int(1_000_000) < options.fraction * 1_000_000);
    const devices = store.load(picked);
    const changes: Record<string, number> = {};
    let changed = 0;
    for (const d of devices) {
      const done: DeviceChange[] = evolveDevice(d.state, rng, options);
      if (done.length > 0) changed++;
      for (const c of done) changes[c.kind] = (changes[c.kind] ?? 0) + 1;
    }
    store.save(devices);
    return { devices: devices.length, changed, changes };
  } finally {
    store.close();
  }
}
