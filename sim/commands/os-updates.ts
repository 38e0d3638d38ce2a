// AvailableOSUpdates and ProvisioningProfileList: what a newer release from the platform's catalog would bring,
// and the provisioning profiles of in-house apps. Supervision, User Enrollment and AccessRights are checked by
// the dispatcher from Apple's schema before these run (an unsupervised iPhone gets its Error there).
import type { PlistDict } from "../../src/wire/plist.ts";
import { newerReleases } from "../platform.ts";
import { traitsOf } from "../device-traits.ts";
import { ack, type CommandContext, type CommandHandler, type CommandResult } from "./command-types.ts";

/** The name Software Update shows for a release ("iOS 18.6", "macOS Sequoia 15.6"). */
function humanName(platform: string, version: string): string {
  if (platform === "macOS") {
    const major = version.split(".")[0];
    const name = major === "15" ? "Sequoia" : major === "14" ? "Sonoma" : major === "26" ? "Tahoe" : "";
    return `macOS ${name ? `${name} ` : ""}${version}`;
  }
  return `${platform === "iPadOS" ? "iPadOS" : platform} ${version}`;
}

function availableOSUpdates(ctx: CommandContext): CommandResult {
  const { state } = ctx.device;
  const mac = state.platform === "macOS";
  const current = state.osVersion.split(".")[0];
  const updates: PlistDict[] = newerReleases(state.platform, state.osVersion).map((r) => {
    const major = r.version.split(".")[0] !== current;
    const productKey = mac ? `062-${r.build.slice(-5)}` : `${state.platform === "tvOS" ? "tvOS" : "iOSUpdate"}${r.version}-${r.build}`;
    return {
      ProductKey: productKey,
      HumanReadableName: humanName(state.platform, r.version),
      HumanReadableNameLocale: "en",
      MetadataURL: "",
      ProductName: humanName(state.platform, r.version),
      Version: r.version,
      Build: r.build,
      DownloadSize: (major ? 6_000_000_000 : 900_000_000) + r.build.length * 12_345_678,
      InstallSize: (major ? 14_000_000_000 : 2_400_000_000) + r.build.length * 23_456_789,
      AppIdentifiersToClose: [],
      IsCritical: false,
      IsConfigDataUpdate: false,
      IsFirmwareUpdate: false,
      IsMajorOSUpdate: major,
      RestartRequired: true,
      AllowsInstallLater: true,
      IsSecurityResponse: false,
      ...(mac ? { RequiresBootstrapToken: state.productName.startsWith("Mac") } : {}),
    };
  });
  return ack({ AvailableOSUpdates: updates });
}

function provisioningProfileList(ctx: CommandContext): CommandResult {
  const list = traitsOf(ctx.device.state).provisioningProfiles.map((p) => ({ Name: p.name, UUID: p.uuid, ExpiryDate: new Date(p.expiry) }));
  return ack({ ProvisioningProfileList: list });
}

export const osUpdateHandlers: CommandHandler[] = [
  { requestType: "AvailableOSUpdates", handle: availableOSUpdates },
  { requestType: "ProvisioningProfileList", handle: provisioningProfileList },
];
