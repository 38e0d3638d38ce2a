// DeviceInformation: the device answers the queries it knows, on its platform, that the MDM payload's
// AccessRights allow (each query names its right in Apple's schema: most need AllowQueryDeviceInformation, the
// network ones AllowQueryNetworkInformation). Unknown or unavailable queries are left out, as Apple's client
// does, rather than failing the command. A User Enrollment device leaves out what Apple keeps from the
// organisation for that enrollment type (the schema's per-query userenrollment mode).
import { PlistReal, type PlistDict, type PlistValue } from "../../src/wire/plist.ts";
import { accessRightBits, commandRequestSpec, compareOSVersions, commandSchema, effectiveSupportedOS, resolveSubkeys } from "../../src/wire/schema/index.ts";
import type { KeySpec, Platform, SupportedOS } from "../../src/wire/schema/index.ts";
import type { DeviceState } from "../device-state.ts";
import { fromB64 } from "../keychain.ts";
import { schemaPlatform } from "../platform.ts";
import { traitsOf } from "../device-traits.ts";
import { ack, type CommandContext, type CommandHandler } from "./command-types.ts";

let rules: Map<string, SupportedOS> | undefined;

/** Per query name, its effective supportedOS from the schema's Queries item list. */
function queryRules(): Map<string, SupportedOS> {
  if (rules) return rules;
  rules = new Map();
  const base = commandSchema("DeviceInformation")?.supportedOS;
  const queries = commandRequestSpec("DeviceInformation")?.find((k) => k.key === "Queries");
  const item: KeySpec | undefined = queries ? resolveSubkeys(queries)?.[0] : undefined;
  for (const q of (item && resolveSubkeys(item)) ?? []) {
    rules.set(q.key, effectiveSupportedOS(base, q.supportedOS));
  }
  return rules;
}

function allowed(query: string, platform: Platform, state: DeviceState, rights: number): boolean {
  const support = queryRules().get(query)?.[platform];
  if (!support || support.introduced === "n/a") return false;
  // A query newer than the device's OS, or one Apple removed, is unknown to it.
  if (support.introduced !== undefined && (compareOSVersions(state.osVersion, support.introduced) ?? 0) < 0) return false;
  if (support.removed !== undefined && (compareOSVersions(state.osVersion, support.removed) ?? 0) >= 0) return false;
  if (support.supervised && !state.supervised) return false;
  if (state.userEnrollment) {
    // Apple's User Enrollment rules: hardware identifiers and the like are kept from the organisation. The
    // device leaves them out of its answer (it does not fail the command), and it ignores AccessRights.
    return support.userenrollment?.mode !== "forbidden";
  }
  // "Special Case" (undefined bits) and "n/a" need no particular right beyond being enrolled.
  const bits = accessRightBits(support.accessrights) ?? 0;
  return (rights & bits) === bits;
}

const date = (iso: string): Date => new Date(iso);

/** Every answer this device can give, by query name. */
export function deviceFacts(state: DeviceState): PlistDict {
  const mac = state.platform === "macOS";
  const traits = traitsOf(state);
  const appleSilicon = mac && state.productName.startsWith("Mac");
  const hostName = state.deviceName.normalize("NFD").replace(/[^A-Za-z0-9 -]/g, "").trim().replace(/\s+/g, "-") || "Mac";
  const facts: PlistDict = {
    UDID: state.udid,
    DeviceName: state.deviceName,
    OSVersion: state.osVersion,
    BuildVersion: state.buildVersion,
    // Without a Rapid Security Response installed the supplemental build is the build, with no extra.
    SupplementalBuildVersion: state.buildVersion,
    SupplementalOSVersionExtra: "",
    ModelName: state.modelName,
    Model: state.model,
    ModelNumber: state.modelNumber,
    ProductName: state.productName,
    SerialNumber: state.serialNumber,
    DeviceCapacity: new PlistReal(state.capacityGB),
    AvailableDeviceCapacity: new PlistReal(state.availableGB),
    IsSupervised: state.supervised,
    IsMultiUser: false,
    IsDeviceLocatorServiceEnabled: traits.findMyEnabled,
    IsActivationLockEnabled: traits.activationLockEnabled,
    IsActivationLockSupported: true,
    IsDoNotDisturbInEffect: traits.doNotDisturb,
    IsCloudBackupEnabled: traits.cloudBackupEnabled,
    IsMDMLostModeEnabled: state.lostMode !== undefined,
    DiagnosticSubmissionEnabled: traits.diagnosticsEnabled,
    AppAnalyticsEnabled: traits.appAnalyticsEnabled,
    TimeZone: state.timeZone,
    WiFiMAC: state.wifiMac,
    BluetoothMAC: state.bluetoothMac,
    iTunesStoreAccountIsActive: traits.storeAccountActive,
    AwaitingConfiguration: false,
    EASDeviceIdentifier: state.udid.replace(/-/g, "").slice(0, 32).toUpperCase().padEnd(32, "0"),
    SoftwareUpdateDeviceID: traits.softwareUpdateDeviceId,
    SoftwareUpdateSettings: { RecommendationsCadence: traits.osUpdates.autoOSInstall ? 0 : 1 },
    AccessibilitySettings: {
      BoldTextEnabled: traits.accessibility.boldText,
      IncreaseContrastEnabled: traits.accessibility.increaseContrast,
      ReduceMotionEnabled: traits.accessibility.reduceMotion,
      ReduceTransparencyEnabled: traits.accessibility.reduceTransparency,
      TextSize: traits.accessibility.textSize,
      TouchAccommodationsEnabled: traits.accessibility.touchAccommodations,
      VoiceOverEnabled: traits.accessibility.voiceOver,
      ZoomEnabled: traits.accessibility.zoom,
      GrayscaleEnabled: traits.accessibility.grayscale,
    },
  };
  if (traits.storeAccountHash !== undefined) facts.iTunesStoreAccountHash = traits.storeAccountHash;
  if (traits.lastCloudBackupAt !== undefined) facts.LastCloudBackupDate = date(traits.lastCloudBackupAt);
  if (state.batteryLevel !== undefined) facts.BatteryLevel = new PlistReal(state.batteryLevel);
  if (state.mdm) facts.PushToken = fromB64(state.mdm.pushToken);
  if (state.platform === "tvOS") facts.DeviceID = state.udid;
  if (state.platform === "iPadOS" && state.supervised) {
    // A supervised iPad reports what Shared iPad would give it, even when not in Shared iPad mode.
    Object.assign(facts, {
      MaximumResidentUsers: 0,
      EstimatedResidentUsers: Math.max(1, Math.floor(state.capacityGB / 32)),
      QuotaSize: 0,
      ResidentUsers: 0,
      UserSessionTimeout: 0,
      TemporarySessionTimeout: 0,
      TemporarySessionOnly: false,
      ManagedAppleIDDefaultDomains: [],
      OnlineAuthenticationGracePeriod: 0,
      SkipLanguageAndLocaleSetupForNewUsers: false,
    });
  }
  if (mac) {
    Object.assign(facts, {
      IsAppleSilicon: appleSilicon,
      HasBattery: state.hasBattery,
      LocalHostName: hostName,
      HostName: typeof state.settings.HostName === "string" ? state.settings.HostName : `${hostName}.local`,
      SystemIntegrityProtectionEnabled: true,
      SupportsLOMDevice: false,
      PINRequiredForDeviceLock: !appleSilicon,
      PINRequiredForEraseDevice: !appleSilicon,
      SupportsiOSAppInstalls: appleSilicon,
      ActiveManagedUsers: state.users.filter((u) => u.userChannelActive).map((u) => u.guid),
      AutoSetupAdminAccounts: [],
      EACSPreflight: "success",
      OSUpdateSettings: {
        CatalogURL: "https://swscan.apple.com/content/catalogs/others/index-15-14-13-12-10.16-10.15-10.14-10.13-10.12-10.11-10.10-10.9-mountainlion-lion-snowleopard-leopard.merged-1.sucatalog",
        IsDefaultCatalog: true,
        PreviousScanDate: date(traits.osUpdates.lastScanAt),
        PerformPeriodicCheck: traits.osUpdates.autoCheck,
        AutoCheckEnabled: traits.osUpdates.autoCheck,
        BackgroundDownloadEnabled: traits.osUpdates.backgroundDownload,
        AutomaticAppInstallationEnabled: traits.osUpdates.autoAppInstall,
        AutomaticOSInstallationEnabled: traits.osUpdates.autoOSInstall,
        AutomaticSecurityUpdatesEnabled: traits.osUpdates.autoSecurity,
      },
      ...(state.ethernetMacs[0] !== undefined ? { EthernetMAC: state.ethernetMacs[0] } : {}),
      ...(appleSilicon ? { ProvisioningUDID: provisioningUdid(state.udid) } : {}),
    });
  }
  if (state.imei !== undefined) {
    const carrier = traits.carrier ?? { name: "Orchard Mobile", mcc: "310", mnc: "410", settingsVersion: "60.0", modemFirmware: "2.60.01", technology: 3 };
    const roaming = false;
    Object.assign(facts, {
      IMEI: state.imei,
      MEID: state.meid ?? "",
      ModemFirmwareVersion: carrier.modemFirmware,
      CellularTechnology: carrier.technology,
      ICCID: state.iccid ?? "",
      PhoneNumber: state.phoneNumber ?? "",
      CurrentCarrierNetwork: carrier.name,
      SubscriberCarrierNetwork: carrier.name,
      CarrierSettingsVersion: carrier.settingsVersion,
      DataRoamingEnabled: state.settings.DataRoaming === true,
      VoiceRoamingEnabled: state.settings.VoiceRoaming !== false,
      PersonalHotspotEnabled: state.settings.PersonalHotspot === true,
      IsNetworkTethered: false,
      IsRoaming: roaming,
      SubscriberMCC: carrier.mcc,
      SubscriberMNC: carrier.mnc,
      CurrentMCC: carrier.mcc,
      CurrentMNC: carrier.mnc,
      ServiceSubscriptions: [
        {
          Slot: "CTSubscriptionSlotOne",
          Label: "Primary",
          LabelID: "00000000-0000-0000-0000-000000000001",
          IsDataPreferred: true,
          IsVoicePreferred: true,
          IsRoaming: roaming,
          IMEI: state.imei,
          MEID: state.meid ?? "",
          ICCID: state.iccid ?? "",
          PhoneNumber: state.phoneNumber ?? "",
          CarrierSettingsVersion: carrier.settingsVersion,
          CurrentCarrierNetwork: carrier.name,
          SubscriberCarrierNetwork: carrier.name,
          CurrentMCC: carrier.mcc,
          CurrentMNC: carrier.mnc,
        },
      ],
    });
  }
  return facts;
}

/** Apple silicon Macs report a provisioning UDID in the mobile format (ECID-based), distinct from the UDID. */
function provisioningUdid(udid: string): string {
  const hex = udid.replace(/-/g, "").toUpperCase();
  return `00008103-${hex.slice(0, 16)}`;
}

function deviceInformation(ctx: CommandContext) {
  const { state } = ctx.device;
  const queries = ctx.request.command.Queries as PlistValue[];
  const rights = state.mdm?.settings.accessRights ?? 0;
  const platform = schemaPlatform(state.platform);
  const facts = deviceFacts(state);
  const answers: PlistDict = {};
  for (const q of queries) {
    if (typeof q !== "string" || !Object.hasOwn(facts, q)) continue;
    if (!allowed(q, platform, state, rights)) continue;
    answers[q] = facts[q]!;
  }
  return ack({ QueryResponses: answers });
}

export const deviceInformationHandlers: CommandHandler[] = [{ requestType: "DeviceInformation", handle: deviceInformation }];
