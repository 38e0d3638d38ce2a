// Worker bootstrap: the sim is TypeScript, so each worker thread registers tsx's loader (as bin/orchard.js
// does for the main thread) before importing the worker module.
import { register } from "tsx/esm/api";

register();
await import("./fleet-worker.ts");
