// The platforms and hardware a virtual device can be, with the identifiers real devices report. Apple's MDM
// protocol knows iPadOS as iOS (the schema has one "iOS" platform); the sim keeps them apart because an iPad
// answers DeviceInformation differently (no IMEI, ModelName "iPad") and a fleet is described that way.
import { compareOSVersions, type Platform } from "../src/wire/schema/index.ts";

export const DEVICE_PLATFORMS = ["iOS", "iPadOS", "macOS", "tvOS", "visionOS"] as const;
export type DevicePlatform = (typeof DEVICE_PLATFORMS)[number];

export function isDevicePlatform(value: string): value is DevicePlatform {
  return (DEVICE_PLATFORMS as readonly string[]).includes(value);
}

/** Accepts the CLI spellings (ios, ipados, macos, tvos, visionos) as well as Apple's. */
export function parseDevicePlatform(value: string): DevicePlatform | undefined {
  const lower = value.toLowerCase();
  return DEVICE_PLATFORMS.find((p) => p.toLowerCase() === lower);
}

/** The platform as Apple's device-management schema names it. */
export function schemaPlatform(platform: DevicePlatform): Platform {
  return platform === "iPadOS" ? "iOS" : platform;
}

export interface HardwareModel {
  /** ProductName, the machine identifier ("iPhone16,1", "Mac15,3"). */
  readonly productName: string;
  /** ModelName as DeviceInformation reports it ("iPhone", "MacBook Pro"). */
  readonly modelName: string;
  /** What Settings > About shows; used for device names. */
  readonly marketingName: string;
  /** The order number stem (ModelNumber), e.g. "MTUV3". */
  readonly modelNumber: string;
  readonly cellular: boolean;
  readonly capacitiesGB: readonly number[];
  readonly hasBattery: boolean;
}

export interface OsRelease {
  readonly version: string;
  readonly build: string;
}

export interface PlatformCatalog {
  readonly models: readonly HardwareModel[];
  readonly releases: readonly OsRelease[];
}

// Real machine identifiers with their marketing names and order-number stems; capacities are the configurations
// Apple sold. Cellular iPads report IMEI/MEID like iPhones; Wi-Fi ones do not.
const PHONES: HardwareModel[] = [
  { productName: "iPhone17,1", modelName: "iPhone", marketingName: "iPhone 16 Pro", modelNumber: "MYMJ3", cellular: true, capacitiesGB: [128, 256, 512, 1024], hasBattery: true },
  { productName: "iPhone17,2", modelName: "iPhone", marketingName: "iPhone 16 Pro Max", modelNumber: "MYWW3", cellular: true, capacitiesGB: [256, 512, 1024], hasBattery: true },
  { productName: "iPhone17,3", modelName: "iPhone", marketingName: "iPhone 16", modelNumber: "MYE73", cellular: true, capacitiesGB: [128, 256, 512], hasBattery: true },
  { productName: "iPhone17,5", modelName: "iPhone", marketingName: "iPhone 16e", modelNumber: "MD1Q4", cellular: true, capacitiesGB: [128, 256, 512], hasBattery: true },
  { productName: "iPhone16,1", modelName: "iPhone", marketingName: "iPhone 15 Pro", modelNumber: "MTUV3", cellular: true, capacitiesGB: [128, 256, 512], hasBattery: true },
  { productName: "iPhone15,4", modelName: "iPhone", marketingName: "iPhone 15", modelNumber: "MTLX3", cellular: true, capacitiesGB: [128, 256], hasBattery: true },
  { productName: "iPhone15,2", modelName: "iPhone", marketingName: "iPhone 14 Pro", modelNumber: "MQ0G3", cellular: true, capacitiesGB: [128, 256, 512, 1024], hasBattery: true },
  { productName: "iPhone14,7", modelName: "iPhone", marketingName: "iPhone 14", modelNumber: "MPUF3", cellular: true, capacitiesGB: [128, 256], hasBattery: true },
  { productName: "iPhone14,6", modelName: "iPhone", marketingName: "iPhone SE (3rd generation)", modelNumber: "MMXF3", cellular: true, capacitiesGB: [64, 128, 256], hasBattery: true },
];

const PADS: HardwareModel[] = [
  { productName: "iPad16,3", modelName: "iPad", marketingName: "iPad Pro 11-inch (M4)", modelNumber: "MVV83", cellular: false, capacitiesGB: [256, 512, 1024], hasBattery: true },
  { productName: "iPad16,4", modelName: "iPad", marketingName: "iPad Pro 11-inch (M4) Wi-Fi + Cellular", modelNumber: "MVW13", cellular: true, capacitiesGB: [256, 512, 1024], hasBattery: true },
  { productName: "iPad14,8", modelName: "iPad", marketingName: "iPad Air 11-inch (M2)", modelNumber: "MUWD3", cellular: false, capacitiesGB: [128, 256], hasBattery: true },
  { productName: "iPad14,9", modelName: "iPad", marketingName: "iPad Air 11-inch (M2) Wi-Fi + Cellular", modelNumber: "MUXE3", cellular: true, capacitiesGB: [128, 256, 512], hasBattery: true },
  { productName: "iPad13,18", modelName: "iPad", marketingName: "iPad (10th generation)", modelNumber: "MPQ03", cellular: false, capacitiesGB: [64, 256], hasBattery: true },
  { productName: "iPad14,1", modelName: "iPad", marketingName: "iPad mini (6th generation)", modelNumber: "MK7M3", cellular: false, capacitiesGB: [64, 256], hasBattery: true },
];

const MACS: HardwareModel[] = [
  { productName: "Mac15,3", modelName: "MacBook Pro", marketingName: "MacBook Pro (14-inch, Nov 2023)", modelNumber: "MTL73", cellular: false, capacitiesGB: [512, 1024], hasBattery: true },
  { productName: "Mac16,1", modelName: "MacBook Pro", marketingName: "MacBook Pro (14-inch, M4, 2024)", modelNumber: "MW2U3", cellular: false, capacitiesGB: [512, 1024, 2048], hasBattery: true },
  { productName: "Mac14,2", modelName: "MacBook Air", marketingName: "MacBook Air (M2, 2022)", modelNumber: "MLY33", cellular: false, capacitiesGB: [256, 512], hasBattery: true },
  { productName: "Mac15,12", modelName: "MacBook Air", marketingName: "MacBook Air (13-inch, M3, 2024)", modelNumber: "MRXN3", cellular: false, capacitiesGB: [256, 512, 1024], hasBattery: true },
  { productName: "Mac16,10", modelName: "Mac mini", marketingName: "Mac mini (2024)", modelNumber: "MU9D3", cellular: false, capacitiesGB: [256, 512], hasBattery: false },
  { productName: "Mac14,13", modelName: "Mac Studio", marketingName: "Mac Studio (2023)", modelNumber: "MQH73", cellular: false, capacitiesGB: [512, 1024], hasBattery: false },
  { productName: "Mac15,4", modelName: "iMac", marketingName: "iMac (24-inch, 2023)", modelNumber: "MQRN3", cellular: false, capacitiesGB: [256, 512], hasBattery: false },
];

const TVS: HardwareModel[] = [
  { productName: "AppleTV14,1", modelName: "Apple TV", marketingName: "Apple TV 4K (3rd generation)", modelNumber: "MN873", cellular: false, capacitiesGB: [64, 128], hasBattery: false },
  { productName: "AppleTV11,1", modelName: "Apple TV", marketingName: "Apple TV 4K (2nd generation)", modelNumber: "MXGY2", cellular: false, capacitiesGB: [32, 64], hasBattery: false },
];

const VISION: HardwareModel[] = [
  { productName: "RealityDevice14,1", modelName: "Apple Vision Pro", marketingName: "Apple Vision Pro", modelNumber: "MW8X3", cellular: false, capacitiesGB: [256, 512, 1024], hasBattery: true },
];

/** Oldest first: what a device may be found running; the newest is what an update brings it to. */
const IOS_RELEASES: OsRelease[] = [
  { version: "17.7.2", build: "21H221" },
  { version: "18.4.1", build: "22E252" },
  { version: "18.5", build: "22F76" },
  { version: "18.6", build: "22G86" },
];

export const CATALOG: Readonly<Record<DevicePlatform, PlatformCatalog>> = {
  iOS: { models: PHONES, releases: IOS_RELEASES },
  iPadOS: { models: PADS, releases: IOS_RELEASES },
  macOS: {
    models: MACS,
    releases: [
      { version: "14.7.6", build: "23H626" },
      { version: "15.4.1", build: "24E263" },
      { version: "15.5", build: "24F74" },
      { version: "15.6", build: "24G84" },
    ],
  },
  tvOS: {
    models: TVS,
    releases: [
      { version: "18.4", build: "22L255" },
      { version: "18.5", build: "22L572" },
      { version: "18.6", build: "22M84" },
    ],
  },
  visionOS: {
    models: VISION,
    releases: [
      { version: "2.4", build: "22O238" },
      { version: "2.5", build: "22O473" },
      { version: "2.6", build: "22O785" },
    ],
  },
};

/** Releases of the platform newer than `version`, oldest first (what AvailableOSUpdates offers). */
export function newerReleases(platform: DevicePlatform, version: string): OsRelease[] {
  return CATALOG[platform].releases.filter((r) => (compareOSVersions(r.version, version) ?? 0) > 0);
}

/** The User-Agent Apple's MDM client sends on check-in and connect requests. */
export function mdmUserAgent(platform: DevicePlatform): string {
  return platform === "macOS" ? "MDM-OSX/1.0 mdmclient/1.0" : "MDM/1.0";
}
