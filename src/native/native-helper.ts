// Loads one of Orchard's optional native helpers (native/*.c, built into build/native/ by
// scripts/build-native.mjs). A helper that is not built, or that this node cannot load, is reported with the
// reason and the caller does without it: every helper has a plain JavaScript fallback.
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";

export type NativeHelper<T> = { exports: T; path: string; why: string } | { exports: undefined; path?: string; why: string };

/** The build output, from src/native (sources) or dist/src/native (compiled). */
const DIRECTORIES = ["../../build/native/", "../../../build/native/"];

const loaded = new Map<string, NativeHelper<unknown>>();

/**
 * Loads build/native/<name>.node once and checks that it exports the named functions. RTLD_NOW makes a module
 * whose symbols this node does not have fail here, rather than abort the process at its first call.
 */
export function loadNativeHelper<T>(name: string, functions: readonly (keyof T & string)[]): NativeHelper<T> {
  const known = loaded.get(name);
  if (known !== undefined) return known as NativeHelper<T>;
  const path = DIRECTORIES.map((d) => fileURLToPath(new URL(`${d}${name}.node`, import.meta.url))).find((p) => existsSync(p));
  let result: NativeHelper<T>;
  if (path === undefined) {
    result = { exports: undefined, why: `build/native/${name}.node is not built (npm run build:native needs a C compiler)` };
  } else {
    try {
      const mod: { exports: Record<string, unknown> } = { exports: {} };
      process.dlopen(mod, path, constants.dlopen.RTLD_NOW);
      const missing = functions.filter((f) => typeof mod.exports[f] !== "function");
      if (missing.length > 0) throw new Error(`it does not export ${missing.join(", ")}`);
      result = { exports: mod.exports as T, path, why: `loaded from ${path}` };
    } catch (error) {
      result = { exports: undefined, path, why: `${path} cannot be loaded: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  loaded.set(name, result);
  return result;
}
