// Worker bootstrap: from the TypeScript sources each worker thread registers tsx's loader (as bin/orchard.js
// does for the main thread) before importing the worker module; from a compiled tree it imports the .js.
import { existsSync } from "node:fs";

const source = new URL("./fleet-worker.ts", import.meta.url);
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(source.href);
} else {
  await import(new URL("./fleet-worker.js", import.meta.url).href);
}
