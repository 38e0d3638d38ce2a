// The MDM payload's AccessRights bit flags and the names Apple's schema uses for them.
//
// Bit values and their meaning: the `AccessRights` key of the com.apple.mdm profile payload
// (mdm/profiles/com.apple.mdm.yaml). The schema's command entries name the right instead
// (`accessrights: AllowDeviceErase`); those names are Apple's Required Access Right names on the
// developer documentation pages ("Required access right | AllowDeviceErase"). The pairing below follows the
// order and wording of the com.apple.mdm description, one name per bit:
//     1 AllowInspection                      inspect installed configuration profiles
//     2 AllowInstallationRemoval             install and remove configuration profiles
//     4 AllowPasscodeRemovalAndLock          device lock and passcode removal
//     8 AllowDeviceErase                     device erase
//    16 AllowQueryDeviceInformation          query device information (capacity, serial number)
//    32 AllowQueryNetworkInformation         query network information (phone/SIM numbers, MAC addresses)
//    64 AllowProvisioningInspection          inspect installed provisioning profiles
//   128 AllowProvisioningInstallationRemoval install and remove provisioning profiles
//   256 AllowQueryApplications               inspect installed applications
//   512 AllowQueryRestrictions               restriction-related queries
//  1024 AllowQuerySecurity                   security-related queries
//  2048 AllowSettings                        manipulate settings
//  4096 AllowAppInstallation                 app management
// A few command files spell two of them differently; they are aliases of the same bits:
// `DeviceLockAndRemovePasscode` (passcode/lock commands such as UnlockUserAccount, SetRecoveryLock) = 4 and
// `QueryInstalledApps` (the app-extension queries) = 256. "None" and "n/a" need no right; "Special Case"
// (DeviceInformation) depends on the queried keys.

export interface AccessRight {
  readonly name: string;
  readonly bit: number;
  /** Apple's wording from the com.apple.mdm payload, for messages to admins. */
  readonly description: string;
}

export const ACCESS_RIGHTS: readonly AccessRight[] = [
  { name: "AllowInspection", bit: 1, description: "Allow inspection of installed configuration profiles" },
  { name: "AllowInstallationRemoval", bit: 2, description: "Allow installation and removal of configuration profiles" },
  { name: "AllowPasscodeRemovalAndLock", bit: 4, description: "Allow device lock and passcode removal" },
  { name: "AllowDeviceErase", bit: 8, description: "Allow device erase" },
  { name: "AllowQueryDeviceInformation", bit: 16, description: "Allow query of device information" },
  { name: "AllowQueryNetworkInformation", bit: 32, description: "Allow query of network information" },
  { name: "AllowProvisioningInspection", bit: 64, description: "Allow inspection of installed provisioning profiles" },
  {
    name: "AllowProvisioningInstallationRemoval",
    bit: 128,
    description: "Allow installation and removal of provisioning profiles",
  },
  { name: "AllowQueryApplications", bit: 256, description: "Allow inspection of installed applications" },
  { name: "AllowQueryRestrictions", bit: 512, description: "Allow restriction-related queries" },
  { name: "AllowQuerySecurity", bit: 1024, description: "Allow security-related queries" },
  { name: "AllowSettings", bit: 2048, description: "Allow manipulation of settings" },
  { name: "AllowAppInstallation", bit: 4096, description: "Allow app management" },
];

const ALIASES: Readonly<Record<string, string>> = {
  DeviceLockAndRemovePasscode: "AllowPasscodeRemovalAndLock",
  QueryInstalledApps: "AllowQueryApplications",
};

/** Every right Apple defines, ORed: what a profile without restrictions grants. */
export const ALL_ACCESS_RIGHTS = ACCESS_RIGHTS.reduce((mask, right) => mask | right.bit, 0);

const NO_RIGHT = new Set(["None", "n/a"]);
const SPECIAL_CASE = "Special Case";

/**
 * The bits the schema's `accessrights` value stands for: 0 for "None"/"n/a"/absent, undefined for
 * "Special Case" (the right depends on the command's parameters). Throws on a name it does not know, so a
 * new Apple name fails the generator instead of silently granting everything.
 */
export function accessRightBits(name: string | undefined): number | undefined {
  if (name === undefined || NO_RIGHT.has(name)) return 0;
  if (name === SPECIAL_CASE) return undefined;
  const canonical = ALIASES[name] ?? name;
  const right = ACCESS_RIGHTS.find((r) => r.name === canonical);
  if (!right) throw new Error(`unknown MDM access right name '${name}'`);
  return right.bit;
}

/** The rights (by Apple name) that `mask` lacks among `required`. */
export function missingAccessRights(required: number, mask: number): readonly AccessRight[] {
  return ACCESS_RIGHTS.filter((r) => (required & r.bit) !== 0 && (mask & r.bit) === 0);
}
