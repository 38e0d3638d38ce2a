// The `orchard` program: every subcommand wired together. Kept apart from main.ts (which runs it on
// process.argv) so tests can run a command in-process, without paying for a child process and tsx.
import "reflect-metadata";
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config.ts";
import { registerServeCommands } from "./serve-command.ts";
import { registerTokenCommands } from "./token-command.ts";
import { registerEnrollmentProfileCommands } from "./enrollment-profile-command.ts";
import { registerSimCommands } from "./sim-command.ts";
import { registerPushCommands } from "./push-command.ts";
import { addApnsDevServeOption, registerApnsDevCommands } from "./apns-dev-command.ts";
import { VERSION } from "../version.ts";

export function buildProgram(): Command {
  const program = new Command();
  program.name("orchard").description("Orchard, an Apple MDM server").version(VERSION, "-v, --version").showHelpAfterError();
  // Usage errors, --help and --version end in runCli's exit code rather than a process.exit deep in commander
  // (subcommands inherit this), so an in-process run returns.
  program.exitOverride();

  registerServeCommands(program);
  registerTokenCommands(program);
  registerEnrollmentProfileCommands(program);
  registerSimCommands(program);
  registerPushCommands(program);
  registerApnsDevCommands(program);
  addApnsDevServeOption(program);
  program
    .command("version")
    .description("print the version")
    .action(() => console.log(VERSION));
  return program;
}

/**
 * Runs one command line (argv as process.argv: node, script, args…) and returns the exit code, having turned a
 * failure into the one clear line the operator needs: 2 for a configuration error, 1 for anything else.
 */
export async function runCli(argv: readonly string[], program: Command = buildProgram()): Promise<number> {
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    // Commander has printed the usage error or the help already.
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ConfigError) {
      console.error(`orchard: configuration error: ${err.message}`);
      return 2;
    }
    console.error(`orchard: ${(err as Error).message}`);
    return 1;
  }
}
