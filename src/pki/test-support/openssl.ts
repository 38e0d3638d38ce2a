// Runs the openssl command line as an independent oracle for the PKI tests (files in a temp dir).

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface OpensslRun {
  status: number;
  stdout: Buffer;
  stderr: string;
  /** Output files that were asked for and exist after the run. */
  outputs: Record<string, Buffer>;
}

export interface OpensslOptions {
  /** Files to create in the working directory before the run (name -> content). */
  files?: Record<string, string | Uint8Array>;
  /** Files to read back after the run. */
  outputs?: string[];
  stdin?: Uint8Array | string;
}

export function openssl(args: string[], opts: OpensslOptions = {}): OpensslRun {
  const dir = mkdtempSync(join(tmpdir(), "orchard-openssl-"));
  try {
    for (const [name, content] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), content);
    const r = spawnSync("openssl", args, { cwd: dir, input: opts.stdin, maxBuffer: 64 * 1024 * 1024 });
    const outputs: Record<string, Buffer> = {};
    for (const name of opts.outputs ?? []) {
      const p = join(dir, name);
      if (existsSync(p)) outputs[name] = readFileSync(p);
    }
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString(), outputs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Like openssl() but throws with openssl's stderr when it fails. */
export function opensslOk(args: string[], opts: OpensslOptions = {}): OpensslRun {
  const r = openssl(args, opts);
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r;
}
