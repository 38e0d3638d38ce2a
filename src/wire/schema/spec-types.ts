// The shape of the tables generated from Apple's device-management schema (docs/schema.md in
// github.com/apple/device-management). Field names that come straight from the YAML keep Apple's spelling
// (`presence`, `rangelist`, `supportedOS`, `devicechannel`...) so a reader can hold a generated entry next to
// the YAML file it came from; derived, normalised data (CommandInfo) uses camelCase.

export const PLATFORMS = ["iOS", "macOS", "tvOS", "visionOS", "watchOS"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** The schema's value types, spelt as in the YAML. `<date>` is deprecated by Apple but still used. */
export type SpecType =
  | "<string>"
  | "<integer>"
  | "<real>"
  | "<boolean>"
  | "<date>"
  | "<data>"
  | "<array>"
  | "<dictionary>"
  | "<any>";

export const SPEC_TYPES: readonly SpecType[] = [
  "<string>",
  "<integer>",
  "<real>",
  "<boolean>",
  "<date>",
  "<data>",
  "<array>",
  "<dictionary>",
  "<any>",
];

export type EnrollmentMode = "allowed" | "required" | "forbidden" | "ignored";

export interface SharedIPadSupport {
  readonly mode?: EnrollmentMode;
  readonly devicechannel?: boolean;
  readonly userchannel?: boolean;
  readonly "allowed-scopes"?: readonly string[];
}

export interface UserEnrollmentSupport {
  readonly mode?: EnrollmentMode;
  readonly behavior?: string;
}

/** One platform's entry of a `supportedOS` block, exactly the fields docs/schema.yaml allows. */
export interface PlatformSupport {
  /** OS version, or "n/a" when the item does not exist on this platform. */
  readonly introduced?: string;
  readonly deprecated?: string;
  readonly removed?: string;
  /** Apple's access-right name (see access-rights.ts), "None", "n/a" or "Special Case". */
  readonly accessrights?: string;
  readonly multiple?: boolean;
  readonly devicechannel?: boolean;
  readonly userchannel?: boolean;
  readonly supervised?: boolean;
  readonly requiresdep?: boolean;
  readonly userapprovedmdm?: boolean;
  readonly allowmanualinstall?: boolean;
  readonly sharedipad?: SharedIPadSupport;
  readonly userenrollment?: UserEnrollmentSupport;
  readonly "always-skippable"?: boolean;
  readonly "allowed-enrollments"?: readonly string[];
  readonly "allowed-scopes"?: readonly string[];
  readonly beta?: boolean;
}

export type SupportedOS = { readonly [P in Platform]?: PlatformSupport };

/**
 * One key of a dictionary (or the single item of an array) as the schema describes it.
 *
 * Containers: a `<dictionary>` lists its keys in `subkeys`; an `<array>` has exactly one entry in `subkeys`
 * describing every element (Apple's Settings command is the exception: several entries, each element must
 * match one of them). A scalar with `subkeys` (DeviceInformation's Queries items) lists its known values.
 * A `<dictionary>` without subkeys is free-form.
 *
 * Recursion and sharing: when the YAML reuses a subkey list through an anchor/alias (including an alias
 * inside its own anchor, e.g. home-screen folders containing icons), the list is stored once in the
 * definitions table and the key carries `ref` (the definition's id) instead of `subkeys`.
 */
export interface KeySpec {
  readonly key: string;
  readonly type: SpecType;
  /** Apple's presence; keys without one are optional. Meaningless (and ignored) on array items. */
  readonly presence: "required" | "optional";
  /** The key name is a placeholder ("ANY", "ANY restriction name"...): it matches every other key of the dictionary. */
  readonly anyKey?: true;
  readonly title?: string;
  readonly rangelist?: readonly (string | number)[];
  readonly range?: { readonly min?: number; readonly max?: number };
  readonly default?: string | number | boolean;
  /** A regular expression the string value must match, as Apple writes it (already anchored). */
  readonly format?: string;
  /** String format hint (`valuetype`, or the deprecated `subtype` without its angle brackets). */
  readonly valuetype?: string;
  /** On an array's item: how many elements the array must have. */
  readonly repetition?: { readonly min: number; readonly max: number };
  readonly combinetype?: string;
  readonly assettypes?: readonly string[];
  /** This key's own override of the enclosing payload's supportedOS (see effectiveSupportedOS). */
  readonly supportedOS?: SupportedOS;
  readonly subkeytype?: string;
  readonly subkeys?: readonly KeySpec[];
  /** Id in the definitions table (specDefs), used instead of `subkeys` for shared or recursive lists. */
  readonly ref?: string;
}

export type KeyList = readonly KeySpec[];

/** Where an entry came from when several YAML files declare the same identifier. */
export interface SchemaVariant {
  readonly source: string;
  readonly title: string;
  readonly supportedOS?: SupportedOS;
  readonly keys: KeyList;
}

export interface CheckinSchema {
  readonly messageType: string;
  readonly title: string;
  readonly source: string;
  readonly supportedOS?: SupportedOS;
  /** The message the device sends. */
  readonly request: KeyList;
  /** The server's reply body, when the message has one (GetBootstrapToken, GetToken, UserAuthenticate...). */
  readonly response?: KeyList;
}

export interface CommandSchema {
  readonly requestType: string;
  readonly title: string;
  readonly source: string;
  readonly supportedOS?: SupportedOS;
  /** Keys of the `Command` dictionary besides RequestType. */
  readonly request: KeyList;
  /** Command-specific keys of the device's report, besides the common ones (Status, CommandUUID, UDID...). */
  readonly response: KeyList;
}

export interface PayloadSchema {
  /** PayloadType, declaration Type, status item name, credential type or protocol message name. */
  readonly type: string;
  readonly title: string;
  /** Every file that declares this type (more than one when they had to be merged). */
  readonly sources: readonly string[];
  readonly supportedOS?: SupportedOS;
  readonly apply?: string;
  readonly keys: KeyList;
  /** Present when several files declare the type: each file's own keys; `keys` is their merge. */
  readonly variants?: readonly SchemaVariant[];
}

export type DeclarativeKind =
  | "base"
  | "configuration"
  | "asset"
  | "activation"
  | "management"
  | "credential"
  | "status"
  | "protocol";

export interface DeclarativeSchema extends PayloadSchema {
  readonly kind: DeclarativeKind;
}

/** A platform's requirements for one command, normalised from its supportedOS with Apple's defaults filled in. */
export interface CommandPlatformInfo {
  /** False when Apple marks the command "n/a" on this platform or does not list the platform. */
  readonly available: boolean;
  readonly introduced?: string;
  readonly deprecated?: string;
  readonly removed?: string;
  /** Apple's access-right name as written in the schema ("None" when no right is needed). */
  readonly accessRights?: string;
  /**
   * The AccessRights bit(s) the MDM payload must grant; 0 when none. Absent when the schema says
   * "Special Case" (DeviceInformation: each query has its own right).
   */
  readonly accessRightsBits?: number;
  readonly supervised: boolean;
  readonly requiresDEP: boolean;
  readonly userApprovedMDM: boolean;
  readonly deviceChannel: boolean;
  readonly userChannel: boolean;
  /** iOS only (Shared iPad). */
  readonly sharedIPad?: {
    readonly mode: EnrollmentMode;
    readonly deviceChannel: boolean;
    readonly userChannel: boolean;
  };
  readonly userEnrollment: { readonly mode: EnrollmentMode; readonly behavior?: string };
}

export interface CommandInfo {
  readonly requestType: string;
  readonly title: string;
  readonly platforms: { readonly [P in Platform]: CommandPlatformInfo };
}
