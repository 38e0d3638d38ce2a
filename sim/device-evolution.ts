// How a virtual device changes between inventory sweeps, so a server has history to show: its owner installs,
// updates and deletes apps, it updates its OS, storage fills and the battery drains. Only the user's own apps
// are touched: managed apps belong to the MDM server. Pure state changes, no I/O.
import { appCatalog, bundleVersion, catalogAppToInstalled } from "./app-catalog.ts";
import type { DeviceState } from "./device-state.ts";
import { newerReleases } from "./platform.ts";
import type { RandomSource } from "./seeded-random.ts";

export type DeviceChange =
  | { kind: "os-update"; from: string; to: string; build: string }
  | { kind: "app-install"; identifier: string; version: string }
  | { kind: "app-update"; identifier: string; from: string; to: string }
  | { kind: "app-remove"; identifier: string };

/** Updates to `version` (and `build`), or to the newest release the catalog knows; undefined when already there. */
export function updateOS(state: DeviceState, version?: string, build?: string): DeviceChange | undefined {
  const newer = newerReleases(state.platform, state.osVersion);
  const target = version !== undefined ? { version, build: build ?? newer.find((r) => r.version === version)?.build } : newer.at(-1);
  if (!target || target.version === state.osVersion) return undefined;
  if (target.build === undefined) throw new Error(`no build known for ${state.platform} ${target.version}; give one`);
  const change: DeviceChange = { kind: "os-update", from: state.osVersion, to: target.version, build: target.build };
  state.osVersion = target.version;
  state.buildVersion = target.build;
  return change;
}

/** The user installs an app from the platform's catalog (a given one, or one not yet on the device). */
export function installUserApp(state: DeviceState, rng: RandomSource, identifier?: string): DeviceChange | undefined {
  const candidates = appCatalog(state.platform).filter((a) => !state.apps.some((x) => x.identifier === a.identifier));
  const entry = identifier !== undefined ? candidates.find((a) => a.identifier === identifier) : candidates.length ? rng.pick(candidates) : undefined;
  if (!entry) return undefined;
  const app = catalogAppToInstalled(entry, entry.versions.at(-1)!, rng);
  state.apps.push(app);
  state.availableGB = Math.max(0, Math.round((state.availableGB - app.bundleSize / 1e9) * 100) / 100);
  return { kind: "app-install", identifier: app.identifier, version: app.shortVersion };
}

/** The user deletes one of their own apps (a given one, or any); managed apps are the server's to remove. */
export function removeUserApp(state: DeviceState, rng: RandomSource, identifier?: string): DeviceChange | undefined {
  const own = state.apps.filter((a) => !a.managed);
  const app = identifier !== undefined ? own.find((a) => a.identifier === identifier) : own.length ? rng.pick(own) : undefined;
  if (!app) return undefined;
  state.apps = state.apps.filter((a) => a !== app);
  state.availableGB = Math.round((state.availableGB + app.bundleSize / 1e9) * 100) / 100;
  return { kind: "app-remove", identifier: app.identifier };
}

/** The App Store updates one of the user's apps to the catalog's next version. */
function updateUserApp(state: DeviceState, rng: RandomSource): DeviceChange | undefined {
  const catalog = appCatalog(state.platform);
  const outdated = state.apps.filter((a) => {
    const versions = catalog.find((c) => c.identifier === a.identifier)?.versions;
    return !a.managed && versions !== undefined && versions.indexOf(a.shortVersion) < versions.length - 1;
  });
  if (outdated.length === 0) return undefined;
  const app = rng.pick(outdated);
  const versions = catalog.find((c) => c.identifier === app.identifier)!.versions;
  const to = versions[versions.indexOf(app.shortVersion) + 1]!;
  const change: DeviceChange = { kind: "app-update", identifier: app.identifier, from: app.shortVersion, to };
  app.shortVersion = to;
  app.version = bundleVersion(to);
  return change;
}

export interface EvolveOptions {
  /** Chance (0..1) that the device installs the newest OS it can (default 0.3). */
  osUpdate?: number;
}

/** One period of a device's life: some app churn, maybe an OS update, storage and battery drift. */
export function evolveDevice(state: DeviceState, rng: RandomSource, options: EvolveOptions = {}): DeviceChange[] {
  const changes: DeviceChange[] = [];
  const push = (c: DeviceChange | undefined) => c && changes.push(c);
  if (rng.int(1000) < (options.osUpdate ?? 0.3) * 1000) push(updateOS(state));
  const roll = rng.int(3);
  if (roll === 0) push(installUserApp(state, rng));
  else if (roll === 1) push(removeUserApp(state, rng));
  push(updateUserApp(state, rng));
  if (state.batteryLevel !== undefined) state.batteryLevel = Math.round(Math.min(1, Math.max(0.05, state.batteryLevel + (rng.int(41) - 25) / 100)) * 100) / 100;
  return changes;
}
