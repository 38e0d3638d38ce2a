// Settings: each item is applied on its own. An item the platform does not have, or that needs supervision the
// device lacks (the schema's per-item supportedOS), fails; the command then reports Error with one ErrorChain
// entry per failed item, and the items that could be applied stay applied.
import type { PlistDict, PlistValue } from "../../src/wire/plist.ts";
import { commandRequestSpec, commandSchema, effectiveSupportedOS, resolveSubkeys } from "../../src/wire/schema/index.ts";
import type { SupportedOS } from "../../src/wire/schema/index.ts";
import type { DeviceState } from "../device-state.ts";
import { schemaPlatform } from "../platform.ts";
import { ack, fail, type CommandContext, type CommandHandler, type CommandResult } from "./command-types.ts";
import { chainItem, MDM_DOMAIN, type ErrorChainItem } from "./error-chain.ts";

let itemSupport: Map<string, SupportedOS> | undefined;

function supportOf(item: string): SupportedOS | undefined {
  if (!itemSupport) {
    itemSupport = new Map();
    const base = commandSchema("Settings")?.supportedOS;
    const settings = commandRequestSpec("Settings")?.find((k) => k.key === "Settings");
    for (const variant of (settings && resolveSubkeys(settings)) ?? []) {
      const itemKey = resolveSubkeys(variant)?.find((k) => k.key === "Item");
      const name = itemKey?.rangelist?.[0];
      if (typeof name === "string") itemSupport.set(name, effectiveSupportedOS(base, variant.supportedOS));
    }
  }
  return itemSupport.get(item);
}

function apply(state: DeviceState, item: string, d: PlistDict): string | undefined {
  switch (item) {
    case "DeviceName":
      if (typeof d.DeviceName !== "string" || d.DeviceName.length === 0) return "DeviceName must be a non-empty string";
      state.deviceName = d.DeviceName;
      return undefined;
    case "HostName":
      if (typeof d.HostName !== "string") return "HostName must be a string";
      state.settings.HostName = d.HostName;
      return undefined;
    case "TimeZone":
      if (typeof d.TimeZone !== "string") return "TimeZone must be a string";
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: d.TimeZone });
      } catch {
        return `unknown time zone ${d.TimeZone}`;
      }
      state.timeZone = d.TimeZone;
      return undefined;
    case "DataRoaming":
    case "VoiceRoaming":
    case "PersonalHotspot":
      if (state.imei === undefined) return `${item} needs a cellular device`;
      state.settings[item] = d.Enabled === true;
      return undefined;
    default: {
      // Settings without a visible effect on the sim are remembered, so a later query can show them.
      const value = d.Enabled ?? d[item];
      if (typeof value === "string" || typeof value === "boolean" || typeof value === "number") state.settings[item] = value;
      else state.settings[item] = true;
      return undefined;
    }
  }
}

function settings(ctx: CommandContext): CommandResult {
  const { state } = ctx.device;
  const platform = schemaPlatform(state.platform);
  const failures: ErrorChainItem[] = [];
  for (const raw of ctx.request.command.Settings as PlistValue[]) {
    const d = raw as PlistDict;
    const item = typeof d.Item === "string" ? d.Item : "";
    const support = supportOf(item)?.[platform];
    if (!support || support.introduced === "n/a") {
      failures.push(chainItem(MDM_DOMAIN, 12078, `The setting “${item}” is not supported on ${state.platform}.`));
      continue;
    }
    if (support.supervised && !state.supervised) {
      failures.push(chainItem(MDM_DOMAIN, 12081, `The setting “${item}” requires a supervised device.`));
      continue;
    }
    const problem = apply(state, item, d);
    if (problem) failures.push(chainItem(MDM_DOMAIN, 12079, `The setting “${item}” could not be applied: ${problem}.`));
  }
  return failures.length ? fail(failures) : ack();
}

export const settingsHandlers: CommandHandler[] = [{ requestType: "Settings", handle: settings }];
