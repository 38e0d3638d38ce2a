// The `orchard` command. Each subcommand lives in its own file; this one only wires them together
// and turns a configuration error into the one clear line the operator needs.
import "reflect-metadata";
import { Command } from "commander";
import { ConfigError } from "../config.ts";
import { registerServeCommands } from "./serve-command.ts";
import { registerTokenCommands } from "./token-command.ts";
import { registerEnrollmentProfileCommands } from "./enrollment-profile-command.ts";
import { registerSimCommands } from "./sim-command.ts";
import { registerPushCommands } from "./push-command.ts";
import { addApnsDevServeOption, registerApnsDevCommands } from "./apns-dev-command.ts";
import { VERSION } from "../version.ts";

const program = new Command();
program.name("orchard").description("Orchard, an Apple MDM server").version(VERSION, "-v, --version").showHelpAfterError();

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

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`orchard: configuration error: ${err.message}`);
    process.exit(2);
  }
  console.error(`orchard: ${(err as Error).message}`);
  process.exit(1);
}
