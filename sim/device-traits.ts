// The settings a real device's owner or organisation chose that inventory reports (Find My, iCloud Backup,
// FileVault, firewall, carrier, automatic updates, accessibility...), drawn per device from its seed so a fleet
// is varied but reproducible. Kept apart from DeviceState's identity fields so fleets saved before these
// existed still load: traitsOf() derives them on first use.
import type { DeviceState } from "./device-state.ts";
import type { DevicePlatform } from "./platform.ts";
import { seededRandom, type RandomSource } from "./seeded-random.ts";

export interface ProvisioningProfileState {
  name: string;
  uuid: string;
  /** ISO date. */
  expiry: string;
}

export interface DeviceTraits {
  findMyEnabled: boolean;
  activationLockEnabled: boolean;
  cloudBackupEnabled: boolean;
  /** ISO date of the last iCloud backup, when backups are on. */
  lastCloudBackupAt?: string;
  doNotDisturb: boolean;
  diagnosticsEnabled: boolean;
  appAnalyticsEnabled: boolean;
  storeAccountActive: boolean;
  storeAccountHash?: string;
  enrolledViaDEP: boolean;
  carrier?: { name: string; mcc: string; mnc: string; settingsVersion: string; modemFirmware: string; technology: number };
  autoLockSeconds: number;
  passcodeCompliant: boolean;
  fileVault: { enabled: boolean; personalRecoveryKey: boolean; institutionalRecoveryKey: boolean };
  firewall: { enabled: boolean; blockAllIncoming: boolean; stealthMode: boolean; logging: "throttled" | "brief" | "detail" };
  remoteDesktop: boolean;
  recoveryLock: boolean;
  osUpdates: { autoCheck: boolean; backgroundDownload: boolean; autoAppInstall: boolean; autoOSInstall: boolean; autoSecurity: boolean; lastScanAt: string };
  accessibility: { boldText: boolean; increaseContrast: boolean; reduceMotion: boolean; reduceTransparency: boolean; textSize: number; voiceOver: boolean; zoom: boolean; grayscale: boolean; touchAccommodations: boolean };
  provisioningProfiles: ProvisioningProfileState[];
  softwareUpdateDeviceId: string;
}

const CARRIERS = [
  { name: "AT&T", mcc: "310", mnc: "410" },
  { name: "Verizon", mcc: "311", mnc: "480" },
  { name: "T-Mobile", mcc: "310", mnc: "260" },
  { name: "Orange F", mcc: "208", mnc: "01" },
  { name: "Vodafone UK", mcc: "234", mnc: "15" },
  { name: "NTT DOCOMO", mcc: "440", mnc: "10" },
  { name: "Telstra", mcc: "505", mnc: "01" },
];

const ENTERPRISE_APPS = ["Acme Field Service", "Orchard Inspect", "Contoso Badge", "Northwind Sales"];

/** A yes with probability `p` (0..1). */
const chance = (rng: RandomSource, p: number): boolean => rng.int(1000) < p * 1000;

function isoDaysAgo(rng: RandomSource, maxDays: number, from: number): string {
  return new Date(from - rng.int(maxDays * 86_400) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function createTraits(platform: DevicePlatform, supervised: boolean, cellular: boolean, rng: RandomSource, now = Date.UTC(2025, 5, 15)): DeviceTraits {
  const mobile = platform === "iOS" || platform === "iPadOS";
  const findMy = platform === "tvOS" ? false : chance(rng, 0.8);
  const cloudBackup = mobile || platform === "visionOS" ? chance(rng, 0.65) : false;
  const traits: DeviceTraits = {
    findMyEnabled: findMy,
    // Activation Lock follows Find My on a personal device; a supervised one only has it when the MDM allows it.
    activationLockEnabled: findMy && (!supervised || chance(rng, 0.3)),
    cloudBackupEnabled: cloudBackup,
    doNotDisturb: chance(rng, 0.15),
    diagnosticsEnabled: chance(rng, 0.4),
    appAnalyticsEnabled: chance(rng, 0.3),
    storeAccountActive: chance(rng, 0.85),
    enrolledViaDEP: supervised && chance(rng, 0.8),
    autoLockSeconds: rng.pick([30, 60, 120, 180, 240, 300]),
    passcodeCompliant: chance(rng, 0.92),
    fileVault: { enabled: platform === "macOS" && chance(rng, 0.85), personalRecoveryKey: chance(rng, 0.7), institutionalRecoveryKey: chance(rng, 0.1) },
    firewall: { enabled: chance(rng, 0.6), blockAllIncoming: chance(rng, 0.1), stealthMode: chance(rng, 0.3), logging: rng.pick(["throttled", "brief", "detail"] as const) },
    remoteDesktop: chance(rng, 0.15),
    recoveryLock: supervised && chance(rng, 0.3),
    osUpdates: {
      autoCheck: chance(rng, 0.95),
      backgroundDownload: chance(rng, 0.8),
      autoAppInstall: chance(rng, 0.7),
      autoOSInstall: chance(rng, 0.4),
      autoSecurity: chance(rng, 0.9),
      lastScanAt: isoDaysAgo(rng, 7, now),
    },
    accessibility: {
      boldText: chance(rng, 0.1),
      increaseContrast: chance(rng, 0.05),
      reduceMotion: chance(rng, 0.1),
      reduceTransparency: chance(rng, 0.05),
      textSize: rng.int(12),
      voiceOver: chance(rng, 0.02),
      zoom: chance(rng, 0.03),
      grayscale: chance(rng, 0.02),
      touchAccommodations: chance(rng, 0.01),
    },
    provisioningProfiles: [],
    softwareUpdateDeviceId: rng.pick(["iPhone17,1", "J413AP", "J517AP", "D83AP", "N841AP"]) + "-" + rng.int(1000),
  };
  if (cloudBackup) traits.lastCloudBackupAt = isoDaysAgo(rng, 3, now);
  if (traits.storeAccountActive) traits.storeAccountHash = Buffer.from(rng.bytes(20)).toString("base64").replace(/=+$/, "");
  if (cellular) {
    const carrier = rng.pick(CARRIERS);
    traits.carrier = { ...carrier, settingsVersion: `${60 + rng.int(5)}.${rng.int(10)}`, modemFirmware: `${1 + rng.int(3)}.${rng.int(80).toString().padStart(2, "0")}.0${rng.int(10)}`, technology: 3 };
  }
  // Enterprise (in-house) apps come with their provisioning profile; about one device in five has one.
  if (platform !== "macOS" && chance(rng, 0.2)) {
    traits.provisioningProfiles.push({ name: rng.pick(ENTERPRISE_APPS), uuid: rng.uuid(), expiry: new Date(now + (30 + rng.int(330)) * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z") });
  }
  return traits;
}

/** The device's traits, derived from its identifiers (stable) for state saved before traits existed. */
export function traitsOf(state: DeviceState): DeviceTraits {
  state.traits ??= createTraits(state.platform, state.supervised, state.imei !== undefined, seededRandom(`traits:${state.udid}`));
  return state.traits;
}
