// SecurityInfo: passcode and data protection on iOS, tvOS and visionOS; FileVault, SIP, firewall, secure boot
// and bootstrap token state on macOS (the keys Apple's schema lists per platform).
import type { PlistDict } from "../../src/wire/plist.ts";
import type { DeviceState } from "../device-state.ts";
import { ack, type CommandHandler } from "./command-types.ts";

export function securityInfo(state: DeviceState): PlistDict {
  if (state.platform === "macOS") {
    const bootstrapSupported = state.mdm?.settings.serverCapabilities.includes("com.apple.mdm.bootstraptoken") ?? false;
    return {
      FDE_Enabled: true,
      FDE_HasPersonalRecoveryKey: true,
      FDE_HasInstitutionalRecoveryKey: false,
      SystemIntegrityProtectionEnabled: true,
      FirewallSettings: { FirewallEnabled: false, BlockAllIncoming: false, StealthMode: false, Applications: [] },
      FirmwarePasswordStatus: { PasswordExists: false, ChangePending: false, AllowOroms: false },
      ManagementStatus: { EnrolledViaDEP: false, UserApprovedEnrollment: true, IsUserEnrollment: false, IsActivationLockManageable: state.supervised },
      SecureBoot: { SecureBootLevel: "full", ExternalBootLevel: "disallowed", ReducedSecurity: [] },
      RemoteDesktopEnabled: false,
      AuthenticatedRootVolumeEnabled: true,
      BootstrapTokenAllowedForAuthentication: bootstrapSupported ? "allowed" : "not supported",
      BootstrapTokenRequiredForSoftwareUpdate: false,
      BootstrapTokenRequiredForKernelExtensionApproval: false,
      IsRecoveryLockEnabled: false,
    };
  }
  const info: PlistDict = {
    HardwareEncryptionCaps: 3,
    PasscodePresent: state.passcodePresent,
    PasscodeCompliant: true,
    PasscodeCompliantWithProfiles: true,
    PasscodeLockGracePeriod: 0,
    PasscodeLockGracePeriodEnforced: 0,
    ManagementStatus: { IsUserEnrollment: false },
  };
  if (state.platform === "iOS" || state.platform === "iPadOS") info.AutoLockTime = 300;
  return info;
}

export const securityInfoHandlers: CommandHandler[] = [
  { requestType: "SecurityInfo", handle: (ctx) => ack({ SecurityInfo: securityInfo(ctx.device.state) }) },
];
