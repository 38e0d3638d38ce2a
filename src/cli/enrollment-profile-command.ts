// orchard enrollment-profile create|list|show|export
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { PROFILE_DEFAULTS, ProfileError, type ProfileInput } from "../manage/enrollment-profiles/enrollment-profiles.ts";
import { withContext } from "./with-context.ts";
import { cliActor } from "../events/actor.ts";

function int(name: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v)) throw new Error(`${name} must be a whole number, got "${v}"`);
    return Number(v);
  };
}

function friendly<T>(p: Promise<T>): Promise<T> {
  return p.catch((e: unknown) => {
    if (e instanceof ProfileError) throw new Error(e.message);
    throw e;
  });
}

export function registerEnrollmentProfileCommands(program: Command): void {
  const ep = program.command("enrollment-profile").description("manage enrollment profiles");
  ep.command("create")
    .description("create an enrollment profile")
    .requiredOption("--name <name>", "unique name")
    .option("--description <text>", "shown to admins only", "")
    .option("--user-affinity <none|user>", "none (shared, kiosk) or user", PROFILE_DEFAULTS.userAffinity)
    .option("--ownership <corporate|personal>", "who owns the devices", PROFILE_DEFAULTS.ownership)
    .option("--access-rights <n>", "MDM AccessRights", int("--access-rights"), PROFILE_DEFAULTS.accessRights)
    .option("--no-sign-message", "devices present their identity by TLS instead of Mdm-Signature")
    .option("--no-check-out-when-removed", "do not send CheckOut when the profile is removed")
    .option("--single-url", "no separate CheckInURL (check-ins go to the ServerURL)")
    .option("--development-apns", "use the APNs development gateway")
    .option("--removal-disallowed", "PayloadRemovalDisallowed (supervised devices)")
    .option("--validity-days <n>", "days the link and challenge work", int("--validity-days"), PROFILE_DEFAULTS.validityDays)
    .option("--key-size <2048|4096>", "identity key size", int("--key-size"), PROFILE_DEFAULTS.keySize)
    .option("--subject <template>", "identity subject template", PROFILE_DEFAULTS.subjectTemplate)
    .option("--json", "print JSON")
    .action(
      async (o: {
        name: string;
        description: string;
        userAffinity: string;
        ownership: string;
        accessRights: number;
        signMessage: boolean;
        checkOutWhenRemoved: boolean;
        singleUrl?: boolean;
        developmentApns?: boolean;
        removalDisallowed?: boolean;
        validityDays: number;
        keySize: number;
        subject: string;
        json?: boolean;
      }) => {
        if (!["none", "user"].includes(o.userAffinity)) throw new Error(`--user-affinity must be none or user, got "${o.userAffinity}"`);
        if (!["corporate", "personal"].includes(o.ownership)) throw new Error(`--ownership must be corporate or personal, got "${o.ownership}"`);
        const input: ProfileInput = {
          ...PROFILE_DEFAULTS,
          name: o.name,
          description: o.description,
          userAffinity: o.userAffinity as ProfileInput["userAffinity"],
          ownership: o.ownership as ProfileInput["ownership"],
          accessRights: o.accessRights,
          signMessage: o.signMessage,
          checkOutWhenRemoved: o.checkOutWhenRemoved,
          separateCheckInUrl: !o.singleUrl,
          useDevelopmentApns: Boolean(o.developmentApns),
          removalDisallowed: Boolean(o.removalDisallowed),
          validityDays: o.validityDays,
          keySize: o.keySize as ProfileInput["keySize"],
          subjectTemplate: o.subject,
        };
        const p = await withContext((ctx) => friendly(ctx.enrollmentProfiles.create(input, cliActor())), { serverSettings: true });
        if (o.json) console.log(JSON.stringify(p, null, 2));
        else console.log(`created ${p.id} "${p.name}"\n  link: ${p.links.enroll}\n  expires: ${p.expiresAt}${p.deliverable ? "" : `\n  note: ${p.notDeliverableReason}`}`);
      },
    );
  ep.command("list")
    .description("list enrollment profiles")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) => {
      const list = await withContext((ctx) => ctx.enrollmentProfiles.list(), { serverSettings: true });
      if (o.json) return console.log(JSON.stringify(list, null, 2));
      for (const p of list) console.log([p.id, p.name.padEnd(24), p.userAffinity.padEnd(4), p.ownership.padEnd(9), p.lapsed ? "lapsed" : `until ${p.expiresAt}`].join("  "));
    });
  ep.command("show")
    .description("show an enrollment profile")
    .argument("<idOrName>")
    .action(async (idOrName: string) => {
      const view = await withContext(async (ctx) => ctx.enrollmentProfiles.view(await friendly(ctx.enrollmentProfiles.rowByIdOrName(idOrName))), { serverSettings: true });
      console.log(JSON.stringify(view, null, 2));
    });
  ep.command("export")
    .description("write the .mobileconfig to a file")
    .argument("<idOrName>")
    .requiredOption("--out <file>", "where to write it")
    .option("--unsigned", "write the plain XML plist instead of the signed profile")
    .action(async (idOrName: string, o: { out: string; unsigned?: boolean }) => {
      const bytes = await withContext(
        async (ctx) => {
          const row = await friendly(ctx.enrollmentProfiles.rowByIdOrName(idOrName));
          return ctx.enrollmentProfiles.mobileconfig(row, { signed: !o.unsigned });
        },
        { serverSettings: true },
      );
      writeFileSync(o.out, bytes);
      console.log(`wrote ${o.out} (${bytes.length} bytes${o.unsigned ? ", unsigned" : ", signed"})`);
    });
}
