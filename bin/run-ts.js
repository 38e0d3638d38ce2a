#!/usr/bin/env node
// Runs a TypeScript entry point (benchmarks, generators) with the same loader as bin/orchard.js.
import { register } from "tsx/esm/api";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const entry = process.argv[2];
if (!entry) {
  console.error("usage: run-ts.js FILE.ts [args...]");
  process.exit(2);
}
register();
process.argv.splice(1, 2, resolve(entry));
await import(pathToFileURL(resolve(entry)).href);
