// Runs `orchard …` in-process (the same program main.ts runs), with its own environment, and returns what it
// printed and the exit code main.ts would use. Much faster than a child process with tsx, and not flaky under load.
import { vi } from "vitest";
import { runCli } from "../src/cli/program.ts";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `env` replaces every ORCHARD_ variable of this process for the run (others are kept). */
export async function orchard(args: string[], env: Record<string, string>): Promise<CliRun> {
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (k.startsWith("ORCHARD_")) delete process.env[k];
  Object.assign(process.env, env);
  let stdout = "";
  let stderr = "";
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void (stdout += a.join(" ") + "\n"));
  const error = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void (stderr += a.join(" ") + "\n"));
  try {
    const code = await runCli(["node", "orchard", ...args]);
    return { code, stdout, stderr };
  } finally {
    log.mockRestore();
    error.mockRestore();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}
