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

import type { Logger } from "pino";
import type { MetricsRegistry } from "../metrics/registry.ts";
import { loadNativeHelper } from "../native/native-helper.ts";

export interface NativeTrim {
  /** malloc_trim(0); true when glibc gave memory back. */
  trim: (() => boolean) | undefined;
  /** The module's path when it was found. */
  path?: string;
  /** Where it was loaded from, or why it is not. */
  why: string;
}

/** malloc_trim(0) when the native helper is built for this machine; `why` says why not otherwise. */
export function nativeMallocTrim(): NativeTrim {
  const helper = loadNativeHelper<{ mallocTrim: () => unknown }>("malloc-trim", ["mallocTrim"]);
  const fn = helper.exports?.mallocTrim;
  return { trim: fn && (() => fn() === true), ...(helper.path !== undefined ? { path: helper.path } : {}), why: helper.why };
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
