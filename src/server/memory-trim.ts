// Gives memory that glibc's malloc holds after it was freed back to the system (malloc_trim(3)).
//
// Why: a command round to a large fleet makes many short-lived native allocations (OpenSSL key and digest
// contexts, request buffers, SQLite pages) interleaved with a few long-lived ones. glibc returns memory to the
// system only from the top of its heap, so after the burst a few live blocks scattered through it keep the
// whole heap resident: measured in process after 90,000 first-sight Mdm-Signature checks, glibc's heap was 130 MB
// resident with ~12 MB in use.
// malloc_trim(0) also releases the free pages in the middle of the heap (and of the other arenas). Node has no
// binding for it, so native/malloc-trim.c provides one (built on install by scripts/build-native.mjs); where
// it is missing (no C compiler, not glibc) nothing is trimmed and Orchard runs the same.
//
// The trimmer looks at the resident size every few seconds and trims when it has grown since the last trim:
// at rest and under steady load it costs one RSS read per tick.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { MetricsRegistry } from "../metrics/registry.ts";

/** The build output, from src/server (sources) or dist/src/server (compiled). */
const CANDIDATES = ["../../build/native/malloc-trim.node", "../../../build/native/malloc-trim.node"];

export interface NativeTrim {
  /** malloc_trim(0); true when glibc gave memory back. */
  trim: (() => boolean) | undefined;
  /** The module's path when it was found. */
  path?: string;
  /** Where it was loaded from, or why it is not. */
  why: string;
}

let loaded: NativeTrim | undefined;

/** malloc_trim(0) when the native helper is built for this machine; `why` says why not otherwise. */
export function nativeMallocTrim(): NativeTrim {
  if (loaded !== undefined) return loaded;
  const path = CANDIDATES.map((c) => fileURLToPath(new URL(c, import.meta.url))).find((p) => existsSync(p));
  if (path === undefined) {
    loaded = { trim: undefined, why: "build/native/malloc-trim.node is not built (npm run build:native needs Linux with glibc and a C compiler)" };
    return loaded;
  }
  try {
    const mod: { exports: { mallocTrim?: unknown } } = { exports: {} };
    process.dlopen(mod, path);
    const fn = mod.exports.mallocTrim;
    if (typeof fn !== "function") throw new Error("it exports no mallocTrim function");
    loaded = { trim: () => (fn as () => unknown)() === true, path, why: `loaded from ${path}` };
  } catch (error) {
    loaded = { trim: undefined, path, why: `${path} cannot be loaded: ${error instanceof Error ? error.message : String(error)}` };
  }
  return loaded;
}

export interface MemoryTrimmerOptions {
  /** How often the resident size is looked at, ms. */
  intervalMs: number;
  /** Trim when the resident size has grown this much since the last trim, bytes. */
  growthBytes: number;
  metrics: MetricsRegistry;
  logger: Logger;
  /** For tests: the trim function and the RSS reading. */
  trim?: () => boolean;
  rss?: () => number;
}

export interface MemoryTrimmer {
  /** Whether trimming is possible here. */
  readonly active: boolean;
  /** Trims now; returns the bytes the resident size went down by (0 when inactive). */
  trimNow(): number;
  stop(): void;
}

export function startMemoryTrimmer(options: MemoryTrimmerOptions): MemoryTrimmer {
  const trim = options.trim ?? nativeMallocTrim().trim;
  const rss = options.rss ?? (() => process.memoryUsage.rss());
  const trims = options.metrics.counter("orchard_memory_trims_total", "Times freed native memory was given back to the system (malloc_trim).");
  const released = options.metrics.counter("orchard_memory_trim_released_bytes_total", "Resident memory given back to the system by malloc_trim, bytes.");
  if (trim === undefined) {
    options.logger.info({ reason: nativeMallocTrim().why }, "freed native memory is not given back to the system");
    return { active: false, trimNow: () => 0, stop: () => {} };
  }

  let baseline = rss();
  const trimNow = (): number => {
    const before = rss();
    trim();
    baseline = rss();
    const down = Math.max(0, before - baseline);
    trims.inc();
    released.inc({}, down);
    return down;
  };
  const timer = setInterval(() => {
    const now = rss();
    if (now > baseline + options.growthBytes) trimNow();
    // Growth that trimming cannot undo (V8's heap, a cache filling) is in the new baseline after one trim; a
    // shrinking heap lowers it.
    else if (now < baseline) baseline = now;
  }, options.intervalMs);
  timer.unref();
  return { active: true, trimNow, stop: () => clearInterval(timer) };
}
