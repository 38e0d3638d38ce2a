// Builds Orchard's one native helper, native/malloc-trim.c, into build/native/malloc-trim.node. Runs on
// `npm install` / `npm ci` (package.json "install"); `npm run build:native` runs it again.
//
// Optional by design: it needs Linux with glibc and a C compiler (`cc`, or $CC). Without them Orchard runs the
// same, but a replica keeps memory glibc has freed (see src/server/memory-trim.ts), so this prints why it was
// skipped and exits 0 rather than fail the install.
import { spawnSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "native", "malloc-trim.c");
const target = join(root, "build", "native", "malloc-trim.node");

function skip(why) {
  console.warn(`orchard: native/malloc-trim.c not built (${why}); Orchard runs without it, but keeps more memory after bursts of traffic`);
  process.exit(0);
}

if (process.platform !== "linux") skip(`malloc_trim is glibc's, and this is ${process.platform}`);
const header = process.report?.getReport().header;
if (!header?.glibcVersionRuntime) skip("this Linux does not use glibc");

mkdirSync(dirname(target), { recursive: true });
const partial = `${target}.${process.pid}.tmp`;
const cc = process.env.CC || "cc";
const run = spawnSync(cc, ["-shared", "-fPIC", "-O2", "-o", partial, source], { encoding: "utf8" });
if (run.error || run.status !== 0) {
  rmSync(partial, { force: true });
  skip(run.error ? `${cc}: ${run.error.message}` : `${cc} exited with ${run.status}: ${run.stderr.trim().split("\n").slice(-3).join(" / ")}`);
}
renameSync(partial, target);
console.log(`orchard: built ${target}`);
