// Apps: InstalledApplicationList, ManagedApplicationList, InstallApplication, RemoveApplication. Installation
// completes at once (the sim has no App Store to wait for): InstallApplication answers State "Queued" like the
// real client, and the app is listed as managed from the next query on. Only managed apps can be removed.
import { createHash } from "node:crypto";
import type { PlistDict, PlistValue } from "../../src/wire/plist.ts";
import type { DeviceState, InstalledApp } from "../device-state.ts";
import { ack, fail, type CommandContext, type CommandHandler, type CommandResult } from "./command-types.ts";
import { chainItem, MDM_DOMAIN } from "./error-chain.ts";

const ITEM_KEYS_MOBILE = ["Identifier", "Name", "ShortVersion", "Version", "BundleSize", "DynamicSize", "Installing", "IsValidated", "AppStoreVendable", "DeviceBasedVPP", "BetaApp", "AdHocCodeSigned", "HasUpdateAvailable", "ExternalVersionIdentifier"];

function appEntry(state: DeviceState, app: InstalledApp): PlistDict {
  const entry: PlistDict = {
    Identifier: app.identifier,
    Name: app.name,
    ShortVersion: app.shortVersion,
    Version: app.version,
    BundleSize: app.bundleSize,
    Installing: false,
    HasUpdateAvailable: false,
  };
  if (app.itunesStoreId !== undefined) entry.ExternalVersionIdentifier = 800_000_000 + (app.itunesStoreId % 100_000_000);
  if (state.platform !== "macOS") {
    Object.assign(entry, {
      DynamicSize: app.dynamicSize,
      IsValidated: true,
      AppStoreVendable: app.itunesStoreId !== undefined,
      DeviceBasedVPP: false,
      BetaApp: false,
      AdHocCodeSigned: false,
    });
  }
  return entry;
}

function stringList(v: PlistValue | undefined): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;
}

function installedApplicationList(ctx: CommandContext): CommandResult {
  const { state } = ctx.device;
  const cmd = ctx.request.command;
  const identifiers = stringList(cmd.Identifiers);
  const items = state.platform === "macOS" ? undefined : stringList(cmd.Items);
  const list = state.apps
    .filter((a) => (identifiers ? identifiers.includes(a.identifier) : true))
    // User Enrollment keeps the user's own apps private: only the apps the MDM installed are listed.
    .filter((a) => (cmd.ManagedAppsOnly === true || state.userEnrollment === true ? a.managed : true))
    .map((a) => {
      const entry = appEntry(state, a);
      if (!items) return entry;
      const wanted = new Set(items.filter((k) => ITEM_KEYS_MOBILE.includes(k)));
      return Object.fromEntries(Object.entries(entry).filter(([k]) => wanted.has(k)));
    });
  return ack({ InstalledApplicationList: list });
}

function managedApplicationList(ctx: CommandContext): CommandResult {
  const { state } = ctx.device;
  const identifiers = stringList(ctx.request.command.Identifiers);
  const out: PlistDict = {};
  for (const app of state.apps) {
    if (!app.managed || (identifiers && !identifiers.includes(app.identifier))) continue;
    const entry: PlistDict = { Status: "Managed", ManagementFlags: 1, HasConfiguration: false, HasFeedback: false, ExternalVersionIdentifier: app.itunesStoreId ?? 0 };
    if (state.platform !== "macOS") entry.IsValidated = true;
    out[app.identifier] = entry;
  }
  return ack({ ManagedApplicationList: out });
}

function installApplication(ctx: CommandContext): CommandResult {
  const { state } = ctx.device;
  const cmd = ctx.request.command;
  const storeId = typeof cmd.iTunesStoreID === "number" ? cmd.iTunesStoreID : undefined;
  const manifestUrl = typeof cmd.ManifestURL === "string" ? cmd.ManifestURL : undefined;
  let identifier = typeof cmd.Identifier === "string" ? cmd.Identifier : undefined;
  if (identifier === undefined && storeId === undefined && manifestUrl === undefined) {
    return { status: "CommandFormatError", errorChain: [chainItem(MDM_DOMAIN, 12001, "InstallApplication needs iTunesStoreID, Identifier or ManifestURL.")] };
  }
  if (manifestUrl !== undefined) {
    if (!/^https:\/\//i.test(manifestUrl)) return fail([chainItem(MDM_DOMAIN, 12034, `The manifest URL “${manifestUrl}” is not an https URL.`)]);
    identifier ??= `com.enterprise.${createHash("sha256").update(manifestUrl).digest("hex").slice(0, 10)}`;
  }
  identifier ??= `com.appstore.app${storeId}`;
  const existing = state.apps.find((a) => a.identifier === identifier);
  if (existing && !existing.managed) {
    // An app the user installed becomes managed only on supervised devices (or when the user agrees).
    if (cmd.ChangeManagementState === "Managed" && state.supervised) {
      existing.managed = true;
      return ack({ Identifier: identifier, State: "Managed" });
    }
    return ack({ Identifier: identifier, State: state.supervised ? "Managed" : "PromptingForManagement" });
  }
  if (existing) return ack({ Identifier: identifier, State: "Managed" });
  const app: InstalledApp = {
    identifier,
    name: identifier.split(".").at(-1) ?? identifier,
    shortVersion: "1.0",
    version: "1",
    bundleSize: 10_000_000 + (identifier.length * 1_234_567) % 90_000_000,
    dynamicSize: 0,
    managed: true,
  };
  if (storeId !== undefined) app.itunesStoreId = storeId;
  if (manifestUrl !== undefined) app.manifestUrl = manifestUrl;
  state.apps.push(app);
  return ack({ Identifier: identifier, State: "Queued" });
}

function removeApplication(ctx: CommandContext): CommandResult {
  const { state } = ctx.device;
  const identifier = ctx.request.command.Identifier as string;
  const app = state.apps.find((a) => a.identifier === identifier);
  if (!app) return fail([chainItem(MDM_DOMAIN, 12029, `The app “${identifier}” is not installed.`)]);
  if (!app.managed) return fail([chainItem(MDM_DOMAIN, 12029, `The app “${identifier}” is not managed.`)]);
  state.apps = state.apps.filter((a) => a !== app);
  return ack();
}

export const applicationHandlers: CommandHandler[] = [
  { requestType: "InstalledApplicationList", handle: installedApplicationList },
  { requestType: "ManagedApplicationList", handle: managedApplicationList },
  { requestType: "InstallApplication", handle: installApplication },
  { requestType: "RemoveApplication", handle: removeApplication },
];
