#!/usr/bin/env node
// The `orchard` command. The sources are TypeScript; tsx compiles them on load so that a fresh
// clone runs without a build step.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
