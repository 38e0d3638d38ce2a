// Builds Orchard's native helpers, native/*.c, into build/native/*.node. Runs on `npm install` / `npm ci`
// (package.json "install"); `npm run build:native` runs it again.
//   malloc-trim.c  gives memory glibc has freed back to the system (src/server/memory-trim.ts);
//   rsa-public.c   the RSA public-key operation for Mdm-Signature checks (src/pki/rsa-native.ts).
//
// Optional by design: they need a C compiler (`cc`, or $CC), and malloc-trim needs Linux with glibc. Without
// them Orchard runs the same, with node:crypto for every signature and without giving freed memory back, so
// this prints why a helper was skipped and exits 0 rather than fail the install.
import { spawnSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cc = process.env.CC || "cc";

const HELPERS = [
  {
    name: "malloc-trim",
    without: "keeps more memory after bursts of traffic",
    unsupported: () => {
      if (process.platform !== "linux") return `malloc_trim is glibc's, and this is ${process.platform}`;
      if (!process.report?.getReport().header?.glibcVersionRuntime) return "this Linux does not use glibc";
      return undefined;
    },
  },
  { name: "rsa-public", without: "checks RSA signatures with node:crypto, at a higher CPU cost", unsupported: () => undefined },
];

for (const helper of HELPERS) {
  const source = join(root, "native", `${helper.name}.c`);
  const target = join(root, "build", "native", `${helper.name}.node`);
  const skip = (why) => console.warn(`orchard: native/${helper.name}.c not built (${why}); Orchard runs without it, but ${helper.without}`);
  const why = helper.unsupported();
  if (why !== undefined) {
    skip(why);
    continue;
  }
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.tmp`;
  // The Node-API and OpenSSL symbols are resolved against the running node when the module is loaded.
  const link = process.platform === "darwin" ? ["-undefined", "dynamic_lookup"] : [];
  const run = spawnSync(cc, ["-shared", "-fPIC", "-O2", ...link, "-o", partial, source], { encoding: "utf8" });
  if (run.error || run.status !== 0) {
    rmSync(partial, { force: true });
    skip(run.error ? `${cc}: ${run.error.message}` : `${cc} exited with ${run.status}: ${run.stderr.trim().split("\n").slice(-3).join(" / ")}`);
    continue;
  }
  renameSync(partial, target);
  console.log(`orchard: built ${target}`);
}
