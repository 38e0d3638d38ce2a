// orchard token create|list|revoke
import type { Command } from "commander";
import { ROLES, type Role } from "../auth/api-tokens.ts";
import { withContext } from "./with-context.ts";
import { cliActor } from "../events/actor.ts";

export function registerTokenCommands(program: Command): void {
  const token = program.command("token").description("manage admin API tokens");
  token
    .command("create")
    .description("create an API token and print it (it is shown only once)")
    .requiredOption("--name <name>", "a name to recognise the token by")
    .option("--role <role>", `one of ${ROLES.join(", ")}`, "admin")
    .option("--json", "print JSON")
    .action(async (opts: { name: string; role: string; json?: boolean }) => {
      if (!(ROLES as readonly string[]).includes(opts.role)) throw new Error(`--role must be one of ${ROLES.join(", ")}, got "${opts.role}"`);
      const { token: value, info } = await withContext((ctx) => ctx.tokens.create(opts.name, opts.role as Role, cliActor()));
      if (opts.json) console.log(JSON.stringify({ token: value, ...info }));
      else console.log(`${value}\n(id ${info.id}, role ${info.role}; store it now, it cannot be shown again)`);
    });
  token
    .command("list")
    .description("list API tokens")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      const tokens = await withContext((ctx) => ctx.tokens.list());
      if (opts.json) return console.log(JSON.stringify(tokens, null, 2));
      for (const t of tokens) {
        console.log([t.id, t.name.padEnd(20), t.role.padEnd(8), t.prefix + "…", t.revokedAt ? `revoked ${t.revokedAt}` : `last used ${t.lastUsedAt ?? "never"}`].join("  "));
      }
    });
  token
    .command("revoke")
    .description("revoke one API token by id or name (names are unique among live tokens)")
    .argument("<idOrName>")
    .action(async (idOrName: string) => {
      const revoked = await withContext((ctx) => ctx.tokens.revoke(idOrName, cliActor()));
      if (!revoked) throw new Error(`no live token with id or name "${idOrName}"`);
      console.log(`revoked "${revoked.name}" (${revoked.id})`);
    });
}
