// SecurityInfo: passcode and data protection on iOS, tvOS and visionOS; FileVault, SIP, firewall, secure boot
// and bootstrap token state on macOS (the keys Apple's schema lists per platform), from the device's traits so
// a fleet reports a realistic mix. A User Enrollment device says so in ManagementStatus.
import type { PlistDict } from "../../src/wire/plist.ts";
import type { DeviceState } from "../device-state.ts";
import { traitsOf } from "../device-traits.ts";
import { ack, type CommandHandler } from "./command-types.ts";

export function securityInfo(state: DeviceState): PlistDict {
  const traits = traitsOf(state);
  const userEnrollment = state.userEnrollment === true;
  if (state.platform === "macOS") {
    const bootstrapSupported = state.mdm?.settings.serverCapabilities.includes("com.apple.mdm.bootstraptoken") ?? false;
    const appleSilicon = state.productName.startsWith("Mac");
    const management: PlistDict = { EnrolledViaDEP: traits.enrolledViaDEP, UserApprovedEnrollment: true, IsUserEnrollment: userEnrollment, IsActivationLockManageable: state.supervised };
    if (userEnrollment) return { ManagementStatus: management };
    const info: PlistDict = {
      FDE_Enabled: traits.fileVault.enabled,
      FDE_HasPersonalRecoveryKey: traits.fileVault.enabled && traits.fileVault.personalRecoveryKey,
      FDE_HasInstitutionalRecoveryKey: traits.fileVault.enabled && traits.fileVault.institutionalRecoveryKey,
      SystemIntegrityProtectionEnabled: true,
      FirewallSettings: {
        FirewallEnabled: traits.firewall.enabled,
        BlockAllIncoming: traits.firewall.enabled && traits.firewall.blockAllIncoming,
        StealthMode: traits.firewall.enabled && traits.firewall.stealthMode,
        LoggingEnabled: traits.firewall.enabled,
        LoggingOption: traits.firewall.logging,
        Applications: traits.firewall.enabled
          ? state.apps.slice(0, 3).map((a) => ({ BundleID: a.identifier, Name: a.name, Allowed: true }))
          : [],
      },
      ManagementStatus: management,
      RemoteDesktopEnabled: traits.remoteDesktop,
      AuthenticatedRootVolumeEnabled: true,
      BootstrapTokenAllowedForAuthentication: bootstrapSupported ? "allowed" : "not supported",
      BootstrapTokenRequiredForSoftwareUpdate: false,
      BootstrapTokenRequiredForKernelExtensionApproval: false,
    };
    // Intel Macs have a firmware password; Apple silicon has Secure Boot levels and Recovery Lock instead.
    if (appleSilicon) {
      info.SecureBoot = { SecureBootLevel: "full", ExternalBootLevel: "not supported", ReducedSecurity: [] };
      info.IsRecoveryLockEnabled = traits.recoveryLock;
    } else {
      info.FirmwarePasswordStatus = { PasswordExists: false, ChangePending: false, AllowOroms: false };
      info.SecureBoot = { SecureBootLevel: "full", ExternalBootLevel: "disallowed", ReducedSecurity: [] };
    }
    return info;
  }
  const info: PlistDict = {
    HardwareEncryptionCaps: state.passcodePresent ? 3 : 1,
    PasscodePresent: state.passcodePresent,
    PasscodeCompliant: state.passcodePresent && traits.passcodeCompliant,
    PasscodeCompliantWithProfiles: state.passcodePresent && traits.passcodeCompliant,
    ManagementStatus: { IsUserEnrollment: userEnrollment },
  };
  if (state.platform !== "tvOS") {
    info.PasscodeLockGracePeriod = 0;
    info.PasscodeLockGracePeriodEnforced = 0;
  }
  if (state.platform === "iOS" || state.platform === "iPadOS") info.AutoLockTime = traits.autoLockSeconds;
  return info;
}

export const securityInfoHandlers: CommandHandler[] = [
  { requestType: "SecurityInfo", handle: (ctx) => ack({ SecurityInfo: securityInfo(ctx.device.state) }) },
];
