// Everything a virtual device remembers, as plain JSON so a fleet can keep 100,000 of them in one SQLite file
// and hand them to worker threads. Binary values (certificates, tokens) are base64 strings; private keys are
// PKCS#8 PEM. VirtualDevice (device.ts) wraps this state with behaviour; nothing here does I/O.
import { CATALOG, type DevicePlatform, type HardwareModel } from "./platform.ts";
import { cryptoRandom, seededRandom, type RandomSource } from "./seeded-random.ts";
import { initialApps } from "./app-catalog.ts";
import { createTraits, type DeviceTraits } from "./device-traits.ts";

export const DEVICE_STATE_VERSION = 1;

export interface KeychainIdentity {
  /** The PayloadUUID of the payload that created it (IdentityCertificateUUID points here). */
  uuid: string;
  /** Base64 DER. */
  certificate: string;
  /** Certificates above it, nearest first (base64 DER). */
  chain: string[];
  /** PKCS#8 PEM. */
  key: string;
  /** The profile whose payload installed it; removed with that profile. */
  profileIdentifier?: string;
}

export interface TrustAnchor {
  /** Base64 DER. */
  certificate: string;
  profileIdentifier?: string;
  /** A certificate from a com.apple.security.pkcs1 payload: listed, usable for chains, but not a trust anchor. */
  intermediate?: boolean;
}

export interface InstalledPayload {
  type: string;
  identifier: string;
  uuid: string;
  version: number;
  displayName?: string;
  description?: string;
  organization?: string;
}

export interface InstalledProfile {
  identifier: string;
  uuid: string;
  version: number;
  displayName?: string;
  description?: string;
  organization?: string;
  removalDisallowed: boolean;
  /** Installed through an MDM InstallProfile command (removed with the enrollment). */
  managed: boolean;
  /** The profile carrying the com.apple.mdm payload. */
  isEnrollment: boolean;
  /** Base64 DER of the certificates that signed it, signer first, when it was signed. */
  signerCertificates: string[];
  installDate: string;
  payloads: InstalledPayload[];
}

export interface InstalledApp {
  identifier: string;
  name: string;
  shortVersion: string;
  version: string;
  bundleSize: number;
  dynamicSize: number;
  /** Installed by the MDM server (ManagedApplicationList, removed with the enrollment). */
  managed: boolean;
  /** iTunes Store ID when installed from the App Store. */
  itunesStoreId?: number;
  /** Where InstallApplication found it: a manifest URL for enterprise apps. */
  manifestUrl?: string;
}

export interface LocalUser {
  shortName: string;
  longName: string;
  uid: number;
  /** The GeneratedUID, sent as UserID on the user channel. */
  guid: string;
  isAdmin: boolean;
  /** The user channel's push token (base64) and PushMagic once it has checked in. */
  pushToken?: string;
  pushMagic?: string;
  userChannelActive?: boolean;
  /** Whether this user is logged in at the console (NotOnConsole is the opposite). */
  onConsole: boolean;
}

/** The MDM payload's settings as the device keeps them after installing its enrollment profile. */
export interface MdmSettingsState {
  serverUrl: string;
  checkInUrl?: string;
  topic: string;
  signMessage: boolean;
  accessRights: number;
  checkOutWhenRemoved: boolean;
  serverCapabilities: string[];
  useDevelopmentApns: boolean;
  /** The keychain identity (KeychainIdentity.uuid) the MDM client authenticates with. */
  identityUuid: string;
  /** Identifier of the profile holding the com.apple.mdm payload. */
  profileIdentifier: string;
}

export interface MdmEnrollmentState {
  settings: MdmSettingsState;
  /** Base64 APNs device token (32 bytes), PushMagic (a UUID string), UnlockToken (base64). */
  pushToken: string;
  pushMagic: string;
  unlockToken?: string;
  authenticated: boolean;
  tokenUpdated: boolean;
  enrolledAt: string;
  lastConnectAt?: string;
}

export interface LostModeState {
  message?: string;
  phoneNumber?: string;
  footnote?: string;
  enabledAt: string;
}

/** How the device answers, for tests that need a particular behaviour of Apple's client. */
export interface DeviceBehaviour {
  /** Request types answered NotNow while the device is locked (they need its data protection keys). */
  notNowWhenLocked: string[];
  /** Request types always answered NotNow (e.g. a user who keeps postponing). */
  alwaysNotNow: string[];
  /** Digest of the Mdm-Signature CMS: many Apple clients still use SHA-1. */
  signatureDigest: "sha1" | "sha256";
  /** Content-Type of command reports; Apple's clients send none on some versions. */
  reportContentType?: string;
}

export interface DeviceState {
  stateVersion: number;
  platform: DevicePlatform;
  udid: string;
  serialNumber: string;
  deviceName: string;
  productName: string;
  /** Authenticate's Model and DeviceInformation's Model: the machine id on macOS, the order number elsewhere. */
  model: string;
  modelName: string;
  modelNumber: string;
  osVersion: string;
  buildVersion: string;
  supervised: boolean;
  /**
   * Enrolled with User Enrollment (a personal device): the device keeps its hardware identifiers to itself and
   * answers only what Apple's schema allows for that enrollment type.
   */
  userEnrollment?: boolean;
  imei?: string;
  meid?: string;
  iccid?: string;
  phoneNumber?: string;
  wifiMac: string;
  bluetoothMac: string;
  ethernetMacs: string[];
  capacityGB: number;
  availableGB: number;
  hasBattery: boolean;
  batteryLevel?: number;
  timeZone: string;
  passcodePresent: boolean;
  /** The screen is locked (commands needing data protection answer NotNow). */
  locked: boolean;
  lostMode?: LostModeState;
  location: { latitude: number; longitude: number };
  /** Settings the MDM Settings command changes. */
  settings: Record<string, string | boolean | number>;
  keychain: { identities: KeychainIdentity[]; anchors: TrustAnchor[] };
  profiles: InstalledProfile[];
  apps: InstalledApp[];
  users: LocalUser[];
  mdm?: MdmEnrollmentState;
  /** Base64; macOS escrows it with SetBootstrapToken. */
  bootstrapToken?: string;
  behaviour: DeviceBehaviour;
  /** Counters of what happened to the device, for tests and stats. */
  history: { erasures: number; restarts: number; shutdowns: number };
  /** Seed the device was created from (reproducible fleets), absent for random devices. */
  seed?: string;
  /** Owner and organisation settings inventory reports (device-traits.ts); derived on first use when absent. */
  traits?: DeviceTraits;
}

export interface CreateDeviceOptions {
  platform: DevicePlatform;
  supervised?: boolean;
  /** A personal device enrolled with User Enrollment (iOS, iPadOS, macOS, visionOS; never supervised). */
  userEnrollment?: boolean;
  /** Same seed, same device (identifiers, names, apps). */
  seed?: string;
  /** Pick a particular model or OS release from the catalog instead of a random one. */
  productName?: string;
  osVersion?: string;
  behaviour?: Partial<DeviceBehaviour>;
}

const SERIAL_ALPHABET = "0123456789CDFGHJKLMNPQRTVWXY";
const FIRST_NAMES = ["Ana", "Ben", "Chloé", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kara", "Liam", "Mei", "Noah", "Olu", "Priya"];
const LAST_NAMES = ["Appleseed", "Berg", "Costa", "Diallo", "Eriksen", "Fujita", "García", "Haddad", "Ivanova", "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura"];
const TIME_ZONES = ["Europe/Paris", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "Europe/London", "Australia/Sydney"];

export const DEFAULT_NOT_NOW_WHEN_LOCKED = [
  "InstallProfile",
  "InstallApplication",
  "InstallEnterpriseApplication",
  "InstallMedia",
  "ManagedApplicationConfiguration",
  "Settings",
];

export function createDeviceState(options: CreateDeviceOptions): DeviceState {
  // The platform is part of the seed: two platforms never share identifiers.
  const rng: RandomSource = options.seed !== undefined ? seededRandom(`${options.platform}:${options.seed}`) : cryptoRandom();
  if (options.userEnrollment && options.platform === "tvOS") throw new Error("tvOS has no User Enrollment");
  if (options.userEnrollment && options.supervised) throw new Error("a User Enrollment device is never supervised");
  const catalog = CATALOG[options.platform];
  const model = pickModel(catalog.models, rng, options.productName);
  const release = options.osVersion
    ? catalog.releases.find((r) => r.version === options.osVersion) ?? { version: options.osVersion, build: "00A000" }
    : rng.pick(catalog.releases);
  const first = rng.pick(FIRST_NAMES);
  const last = rng.pick(LAST_NAMES);
  const capacityGB = rng.pick(model.capacitiesGB);
  const mac = options.platform === "macOS";
  const phone = model.cellular;

  const state: DeviceState = {
    stateVersion: DEVICE_STATE_VERSION,
    platform: options.platform,
    udid: mac ? rng.uuid() : mobileUdid(rng),
    serialNumber: Array.from({ length: 10 }, () => SERIAL_ALPHABET[rng.int(SERIAL_ALPHABET.length)]).join(""),
    deviceName: `${first}’s ${model.modelName}`,
    productName: model.productName,
    model: mac ? model.productName : `${model.modelNumber}LL/A`,
    modelName: model.modelName,
    modelNumber: model.modelNumber,
    osVersion: release.version,
    buildVersion: release.build,
    supervised: options.supervised ?? false,
    wifiMac: macAddress(rng),
    bluetoothMac: macAddress(rng),
    ethernetMacs: mac || options.platform === "tvOS" ? [macAddress(rng)] : [],
    capacityGB,
    availableGB: Math.round(capacityGB * (0.3 + rng.int(60) / 100) * 100) / 100,
    hasBattery: model.hasBattery,
    timeZone: rng.pick(TIME_ZONES),
    passcodePresent: options.platform !== "tvOS",
    locked: false,
    location: { latitude: 48.8566 + (rng.int(2000) - 1000) / 10000, longitude: 2.3522 + (rng.int(2000) - 1000) / 10000 },
    settings: {},
    keychain: { identities: [], anchors: [] },
    profiles: [],
    apps: initialApps(options.platform, rng),
    users: mac
      ? [{ shortName: `${first}${last}`.normalize("NFD").replace(/[^A-Za-z]/g, "").toLowerCase(), longName: `${first} ${last}`, uid: 501, guid: rng.uuid(), isAdmin: true, onConsole: true }]
      : [],
    behaviour: {
      notNowWhenLocked: [...DEFAULT_NOT_NOW_WHEN_LOCKED],
      alwaysNotNow: [],
      signatureDigest: "sha256",
      ...options.behaviour,
    },
    history: { erasures: 0, restarts: 0, shutdowns: 0 },
  };
  if (model.hasBattery) state.batteryLevel = (50 + rng.int(50)) / 100;
  if (phone) {
    state.imei = imei(rng);
    state.meid = Array.from({ length: 14 }, () => "0123456789ABCDEF"[rng.int(16)]).join("");
    state.iccid = `8901${Array.from({ length: 15 }, () => rng.int(10)).join("")}`;
    state.phoneNumber = `+1 (555) ${100 + rng.int(900)}-${1000 + rng.int(9000)}`;
  }
  if (options.userEnrollment) state.userEnrollment = true;
  // Drawn from their own stream so that adding a trait never changes a seeded device's identifiers.
  state.traits = createTraits(options.platform, state.supervised, phone, options.seed !== undefined ? seededRandom(`${options.platform}:${options.seed}:traits`) : cryptoRandom());
  if (options.seed !== undefined) state.seed = options.seed;
  return state;
}

function pickModel(models: readonly HardwareModel[], rng: RandomSource, productName: string | undefined): HardwareModel {
  if (productName === undefined) return rng.pick(models);
  const found = models.find((m) => m.productName === productName);
  if (!found) throw new Error(`unknown model ${productName}; known: ${models.map((m) => m.productName).join(", ")}`);
  return found;
}

/** The UDID format of devices since the iPhone XS: chip id, a dash, then 16 hex digits. */
function mobileUdid(rng: RandomSource): string {
  const chip = rng.pick(["00008101", "00008110", "00008120", "00008130", "00008140"]);
  return `${chip}-${Buffer.from(rng.bytes(8)).toString("hex").toUpperCase()}`;
}

function macAddress(rng: RandomSource): string {
  const b = rng.bytes(6);
  b[0] = (b[0]! & 0xfc) | 0x00; // unicast, globally administered like real hardware
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

/** 15 digits with a Luhn check digit, grouped as Apple displays it ("35 123456 123456 7"). */
function imei(rng: RandomSource): string {
  const digits = [3, 5, ...Array.from({ length: 12 }, () => rng.int(10))];
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    let d = digits[i]!;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  digits.push((10 - (sum % 10)) % 10);
  const s = digits.join("");
  return `${s.slice(0, 2)} ${s.slice(2, 8)} ${s.slice(8, 14)} ${s.slice(14)}`;
}
