// ProfileList (the real store), InstallProfile and RemoveProfile. The MDM server may remove what it installed
// and the enrollment profile itself (which unenrolls the device); profiles the user installed are refused.
import type { PlistDict } from "../../src/wire/plist.ts";
import type { InstalledProfile } from "../device-state.ts";
import { fromB64 } from "../keychain.ts";
import { ProfileError } from "../profile-reader.ts";
import { installProfileFromMdm } from "../profile-installer.ts";
import { EnrollmentError } from "../enrollment-settings.ts";
import { ScepClientError } from "../scep-client.ts";
import { TransportError } from "../mdm-transport.ts";
import { ack, fail, type CommandContext, type CommandHandler, type CommandResult } from "./command-types.ts";
import { chainItem, INSTALL_DOMAIN, PROFILE_DOMAIN } from "./error-chain.ts";

export function profileListEntry(p: InstalledProfile, withManagedFlag: boolean): PlistDict {
  const entry: PlistDict = {
    PayloadIdentifier: p.identifier,
    PayloadUUID: p.uuid,
    PayloadVersion: p.version,
    PayloadRemovalDisallowed: p.removalDisallowed,
    HasRemovalPasscode: false,
    IsEncrypted: false,
    PayloadContent: p.payloads.map((x) => {
      const d: PlistDict = { PayloadType: x.type, PayloadIdentifier: x.identifier, PayloadUUID: x.uuid, PayloadVersion: x.version };
      if (x.displayName !== undefined) d.PayloadDisplayName = x.displayName;
      if (x.description !== undefined) d.PayloadDescription = x.description;
      if (x.organization !== undefined) d.PayloadOrganization = x.organization;
      return d;
    }),
  };
  if (p.displayName !== undefined) entry.PayloadDisplayName = p.displayName;
  if (p.description !== undefined) entry.PayloadDescription = p.description;
  if (p.organization !== undefined) entry.PayloadOrganization = p.organization;
  if (p.signerCertificates.length > 0) entry.SignerCertificates = p.signerCertificates.map(fromB64);
  if (withManagedFlag) entry.IsManaged = p.managed || p.isEnrollment;
  return entry;
}

function profileList(ctx: CommandContext): CommandResult {
  const { state } = ctx.device;
  // A User Enrollment device shows the organisation only what the organisation installed.
  const managedOnly = ctx.request.command.ManagedOnly === true || state.userEnrollment === true;
  const list = state.profiles.filter((p) => !managedOnly || p.managed || p.isEnrollment).map((p) => profileListEntry(p, state.platform !== "macOS"));
  return ack({ ProfileList: list });
}

async function installProfile(ctx: CommandContext): Promise<CommandResult> {
  const payload = ctx.request.command.Payload as Uint8Array;
  try {
    await installProfileFromMdm(ctx.device, payload);
    return ack();
  } catch (e) {
    if (e instanceof ProfileError || e instanceof EnrollmentError || e instanceof ScepClientError || e instanceof TransportError) {
      return fail([chainItem(INSTALL_DOMAIN, 4001, "Profile Installation Failed"), chainItem(PROFILE_DOMAIN, 1009, e.message)]);
    }
    throw e;
  }
}

async function removeProfile(ctx: CommandContext): Promise<CommandResult> {
  const identifier = ctx.request.command.Identifier as string;
  const profile = ctx.device.profiles.find(identifier);
  if (!profile) return fail([chainItem(PROFILE_DOMAIN, 1003, `The profile “${identifier}” is not installed.`)]);
  if (profile.isEnrollment && ctx.channel.kind === "device") {
    // Removing the profile that carries the MDM payload is how a server ends management: Apple's MDM protocol
    // reference, "Terminating a Management Relationship" ("An MDM server can always remove this profile"), and
    // Apple's deployment guide, "Intro to device management profiles" (removing the enrollment profile removes
    // the configuration profiles and managed apps based on it). The device then has nothing to report with, so
    // it sends no result for this command (servers see it stay unanswered); CheckOut is sent, best effort, when
    // the MDM payload's CheckOutWhenRemoved asks for it (Apple's "Check Out" reference).
    const { checkedOut, checkOutError } = await ctx.device.unenroll();
    return checkOutError ? { status: "Unenrolled", checkedOut, checkOutError: checkOutError.message } : { status: "Unenrolled", checkedOut };
  }
  if (profile.isEnrollment) return fail([chainItem(PROFILE_DOMAIN, 1004, `The profile “${identifier}” is the device's MDM enrollment profile; it is not removed on a user channel.`)]);
  if (!profile.managed) return fail([chainItem(PROFILE_DOMAIN, 1004, `The profile “${identifier}” was not installed by MDM.`)]);
  ctx.device.profiles.remove(identifier);
  return ack();
}

export const profileHandlers: CommandHandler[] = [
  { requestType: "ProfileList", handle: profileList },
  { requestType: "InstallProfile", handle: installProfile },
  { requestType: "RemoveProfile", handle: removeProfile },
];
