// DeviceInformation: the device answers the queries it knows, on its platform, that the MDM payload's
// AccessRights allow (each query names its right in Apple's schema: most need AllowQueryDeviceInformation, the
// network ones AllowQueryNetworkInformation). Unknown or unavailable queries are left out, as Apple's client
// does, rather than failing the command.
import { PlistReal, type PlistDict, type PlistValue } from "../../src/wire/plist.ts";
import { accessRightBits, commandRequestSpec, commandSchema, effectiveSupportedOS, resolveSubkeys } from "../../src/wire/schema/index.ts";
import type { KeySpec, Platform, SupportedOS } from "../../src/wire/schema/index.ts";
import type { DeviceState } from "../device-state.ts";
import { fromB64 } from "../keychain.ts";
import { schemaPlatform } from "../platform.ts";
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
  if (support.supervised && !state.supervised) return false;
  // "Special Case" (undefined bits) and "n/a" need no particular right beyond being enrolled.
  const bits = accessRightBits(support.accessrights) ?? 0;
  return (rights & bits) === bits;
}

/** Every answer this device can give, by query name. */
export function deviceFacts(state: DeviceState): PlistDict {
  const mac = state.platform === "macOS";
  const hostName = state.deviceName.normalize("NFD").replace(/[^A-Za-z0-9 -]/g, "").trim().replace(/\s+/g, "-") || "Mac";
  const facts: PlistDict = {
    UDID: state.udid,
    DeviceName: state.deviceName,
    OSVersion: state.osVersion,
    BuildVersion: state.buildVersion,
    ModelName: state.modelName,
    Model: state.model,
    ModelNumber: state.modelNumber,
    ProductName: state.productName,
    SerialNumber: state.serialNumber,
    DeviceCapacity: new PlistReal(state.capacityGB),
    AvailableDeviceCapacity: new PlistReal(state.availableGB),
    IsSupervised: state.supervised,
    IsMultiUser: false,
    IsDeviceLocatorServiceEnabled: !mac,
    IsActivationLockEnabled: false,
    IsActivationLockSupported: true,
    IsDoNotDisturbInEffect: false,
    IsCloudBackupEnabled: false,
    IsMDMLostModeEnabled: state.lostMode !== undefined,
    DiagnosticSubmissionEnabled: false,
    AppAnalyticsEnabled: false,
    TimeZone: state.timeZone,
    WiFiMAC: state.wifiMac,
    BluetoothMAC: state.bluetoothMac,
    iTunesStoreAccountIsActive: false,
    AwaitingConfiguration: false,
    EASDeviceIdentifier: state.udid.replace(/-/g, "").slice(0, 32).toUpperCase().padEnd(32, "0"),
  };
  if (state.batteryLevel !== undefined) facts.BatteryLevel = new PlistReal(state.batteryLevel);
  if (state.mdm) facts.PushToken = fromB64(state.mdm.pushToken);
  if (state.platform === "tvOS") facts.DeviceID = state.udid;
  if (mac) {
    Object.assign(facts, {
      IsAppleSilicon: state.productName.startsWith("Mac"),
      HasBattery: state.hasBattery,
      LocalHostName: hostName,
      HostName: `${hostName}.local`,
      SystemIntegrityProtectionEnabled: true,
      SupportsLOMDevice: false,
      PINRequiredForDeviceLock: !state.productName.startsWith("Mac"),
      PINRequiredForEraseDevice: !state.productName.startsWith("Mac"),
      SupportsiOSAppInstalls: state.productName.startsWith("Mac"),
      ActiveManagedUsers: state.users.filter((u) => u.userChannelActive).map((u) => u.guid),
      ...(state.ethernetMacs[0] !== undefined ? { EthernetMAC: state.ethernetMacs[0] } : {}),
    });
  }
  if (state.imei !== undefined) {
    Object.assign(facts, {
      IMEI: state.imei,
      MEID: state.meid ?? "",
      ModemFirmwareVersion: "2.60.01",
      CellularTechnology: 3,
      ICCID: state.iccid ?? "",
      PhoneNumber: state.phoneNumber ?? "",
      CurrentCarrierNetwork: "Orchard Mobile",
      SIMCarrierNetwork: "Orchard Mobile",
      SubscriberCarrierNetwork: "Orchard Mobile",
      CarrierSettingsVersion: "60.0",
      DataRoamingEnabled: state.settings.DataRoaming === true,
      VoiceRoamingEnabled: state.settings.VoiceRoaming !== false,
      PersonalHotspotEnabled: state.settings.PersonalHotspot === true,
      IsNetworkTethered: false,
      IsRoaming: false,
      SubscriberMCC: "310",
      SubscriberMNC: "410",
      CurrentMCC: "310",
      CurrentMNC: "410",
    });
  }
  return facts;
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
