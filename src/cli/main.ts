// The `orchard` command: runs the program (program.ts) on this process's arguments.
import "reflect-metadata";
import { runCli } from "./program.ts";

const code = await runCli(process.argv);
// Only on failure: a successful `serve` keeps running after its action returns.
if (code !== 0) process.exit(code);
