// Lookups into the generated schema tables. Every lookup goes through Object.hasOwn: identifiers come from
// devices and admins, and "constructor" or "__proto__" must not find Object.prototype.
import { checkinSchemas } from "../generated/checkin-specs.ts";
import { commandSchemas } from "../generated/command-specs.ts";
import { declarativeSchemas } from "../generated/declarative-specs.ts";
import { otherSchemas } from "../generated/other-specs.ts";
import { profileSchemas } from "../generated/profile-specs.ts";
import { specDefs } from "../generated/spec-defs.ts";
import type {
  CheckinSchema,
  CommandSchema,
  DeclarativeKind,
  DeclarativeSchema,
  KeyList,
  KeySpec,
  PayloadSchema,
} from "./spec-types.ts";

function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/**
 * The keys inside a container: its `subkeys`, or the shared definition its `ref` names. Undefined for a
 * free-form dictionary or an undescribed array.
 */
export function resolveSubkeys(spec: KeySpec): KeyList | undefined {
  if (spec.ref !== undefined) {
    const def = own(specDefs, spec.ref);
    // The generator checks every ref; a miss means the generated files were edited inconsistently.
    if (!def) throw new Error(`schema definition ${spec.ref} is missing from spec-defs.ts`);
    return def;
  }
  return spec.subkeys;
}

// Check-in messages -----------------------------------------------------------------------------------------

export function checkinSchema(messageType: string): CheckinSchema | undefined {
  return own(checkinSchemas, messageType);
}

/** Keys of the check-in message with this MessageType (MessageType itself included). */
export function checkinSpec(messageType: string): KeyList | undefined {
  return checkinSchema(messageType)?.request;
}

/** Keys of the server's reply to this check-in message, when it has one. */
export function checkinResponseSpec(messageType: string): KeyList | undefined {
  return checkinSchema(messageType)?.response;
}

export function checkinMessageTypes(): readonly string[] {
  return Object.keys(checkinSchemas);
}

// Commands --------------------------------------------------------------------------------------------------

export function commandSchema(requestType: string): CommandSchema | undefined {
  return own(commandSchemas, requestType);
}

/** Keys of the `Command` dictionary besides RequestType. */
export function commandRequestSpec(requestType: string): KeyList | undefined {
  return commandSchema(requestType)?.request;
}

/** Command-specific keys of the device's report (the schema does not describe Status, CommandUUID, ErrorChain...). */
export function commandResponseSpec(requestType: string): KeyList | undefined {
  return commandSchema(requestType)?.response;
}

export function commandRequestTypes(): readonly string[] {
  return Object.keys(commandSchemas);
}

// Profiles --------------------------------------------------------------------------------------------------

export const TOP_LEVEL_PAYLOAD = "TopLevel";
export const COMMON_PAYLOAD_KEYS = "CommonPayloadKeys";

export function profilePayloadSchema(payloadType: string): PayloadSchema | undefined {
  return own(profileSchemas, payloadType);
}

const combinedPayloadSpecs = new Map<string, KeyList>();

/**
 * Everything a payload dictionary of this PayloadType may hold: its own keys followed by CommonPayloadKeys
 * (PayloadType, PayloadUUID, PayloadVersion...) that it does not redefine. "TopLevel" (the profile's outer
 * dictionary) and "CommonPayloadKeys" return just their own keys.
 */
export function profilePayloadSpec(payloadType: string): KeyList | undefined {
  const schema = profilePayloadSchema(payloadType);
  if (!schema) return undefined;
  if (payloadType === TOP_LEVEL_PAYLOAD || payloadType === COMMON_PAYLOAD_KEYS) return schema.keys;
  const cached = combinedPayloadSpecs.get(payloadType);
  if (cached) return cached;
  const common = profilePayloadSchema(COMMON_PAYLOAD_KEYS)?.keys ?? [];
  const ownNames = new Set(schema.keys.map((k) => k.key));
  const combined = [...schema.keys, ...common.filter((k) => !ownNames.has(k.key))];
  combinedPayloadSpecs.set(payloadType, combined);
  return combined;
}

export function profilePayloadTypes(): readonly string[] {
  return Object.keys(profileSchemas).filter((t) => t !== TOP_LEVEL_PAYLOAD && t !== COMMON_PAYLOAD_KEYS);
}

// Declarative device management and other documents ---------------------------------------------------------

export function declarativeSchema(kind: DeclarativeKind, type: string): DeclarativeSchema | undefined {
  return own(declarativeSchemas, `${kind}:${type}`);
}

/** Keys of a declaration's Payload (configurations, assets, activations, management declarations). */
export function declarationPayloadSpec(type: string): KeyList | undefined {
  for (const kind of ["configuration", "asset", "activation", "management"] as const) {
    const schema = declarativeSchema(kind, type);
    if (schema) return schema.keys;
  }
  return undefined;
}

/** The declaration types Apple defines, by kind. */
export function declarationTypes(kind?: DeclarativeKind): readonly string[] {
  return Object.values(declarativeSchemas)
    .filter((s) => (kind ? s.kind === kind : s.kind !== "base" && s.kind !== "status" && s.kind !== "protocol"))
    .map((s) => s.type);
}

/** MachineInfo, SkipKeys, ManifestURL... (the schema's other/ folder), by payload type. */
export function otherSchema(type: string): PayloadSchema | undefined {
  return own(otherSchemas, type);
}
