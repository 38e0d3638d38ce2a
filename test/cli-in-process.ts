// Runs `orchard` subcommands inside the test process: the real commander commands (registered by the same
// functions src/cli/main.ts calls), with their environment and console output, without spawning
// `node bin/orchard.js`. Each spawn loads tsx and compiles the whole CLI (2-3 s on an idle machine, far more
// on a loaded one), which made a test of a few subcommands flake against its timeout.
import { Command } from "commander";
import { vi } from "vitest";

export type RegisterCommands = (program: Command) => void;

export interface CliRun {
  stdout: string;
  /** What the command threw (main.ts prints it as `orchard: <message>` and exits non-zero). */
  error?: Error;
}

/**
 * Parses `args` as `orchard args...` with `env` overlaid on process.env for the duration of the command
 * (the CLI reads its configuration from the environment), then restores both.
 */
export async function runCli(register: readonly RegisterCommands[], args: readonly string[], env: Record<string, string>): Promise<CliRun> {
  const program = new Command().name("orchard").exitOverride();
  program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  for (const r of register) r(program);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const out: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...parts: unknown[]) => void out.push(parts.map(String).join(" ")));
  try {
    await program.parseAsync(["node", "orchard", ...args]);
    return { stdout: out.join("\n") };
  } catch (err) {
    return { stdout: out.join("\n"), error: err instanceof Error ? err : new Error(String(err)) };
  } finally {
    log.mockRestore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
