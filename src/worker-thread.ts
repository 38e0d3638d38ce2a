// Worker threads for both ways Orchard runs: from the TypeScript sources (bin/orchard.js registers tsx's loader
// on the main thread only, and a worker does not inherit it) and from the compiled tree (`npm run build`). The
// worker is started from an evaluated script rather than an entry file, so there is nothing beside the compiled
// output to copy.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * Starts the worker module `relative` (written without extension, e.g. "./apns-worker") next to the caller,
 * whose `import.meta.url` is `callerUrl`.
 */
export function startWorkerThread(callerUrl: string, relative: string, options: Omit<WorkerOptions, "eval">): Worker {
  return new Worker(bootstrapScript(callerUrl, relative), { ...options, eval: true });
}

/** The evaluated bootstrap: from a .ts caller it registers tsx's loader first, from a .js caller it imports directly. */
function bootstrapScript(callerUrl: string, relative: string): string {
  if (callerUrl.endsWith(".ts")) {
    // The ES module build of tsx's API (its CommonJS build resolves its loader from the wrong folder); require
    // resolution finds the package, the import condition's file sits beside it.
    const tsx = pathToFileURL(createRequire(callerUrl).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href;
    const entry = new URL(`${relative}.ts`, callerUrl).href;
    return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  }
  return `import(${JSON.stringify(new URL(`${relative}.js`, callerUrl).href)});`;
}
