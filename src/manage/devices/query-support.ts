// Each DeviceInformation query's requirements on a platform, read from Apple's schema (information.device.yaml):
// every query key carries its own supportedOS (introduced/removed, access right, supervised, requiresdep, Shared
// iPad and User Enrollment modes) that inherits the command's supportedOS field by field (docs/schema.md). The
// result has the same shape as a command's requirements, so the engine's own rule (checkPlatformRequirements)
// decides whether a query applies to a device.
import { checkPlatformRequirements, type CommandCheck, type CommandTarget } from "../../wire/schema/command-policy.ts";
import { deviceInformationQueryNames, deviceInformationRequestSpec } from "../../wire/schema/device-information-queries.ts";
import { commandSchema, resolveSubkeys } from "../../wire/schema/spec-lookup.ts";
import { commandPlatformInfo, effectiveSupportedOS } from "../../wire/schema/supported-os.ts";
import type { CommandPlatformInfo, Platform, SupportedOS } from "../../wire/schema/spec-types.ts";

interface QueryEntry {
  readonly key: string;
  readonly supportedOS: SupportedOS;
}

let cached: ReadonlyMap<string, QueryEntry> | undefined;

function queryEntries(): ReadonlyMap<string, QueryEntry> {
  if (cached) return cached;
  const schema = commandSchema("DeviceInformation");
  if (!schema) throw new Error("DeviceInformation is missing from the generated command specs");
  const queries = deviceInformationRequestSpec()?.find((k) => k.key === "Queries")?.subkeys?.[0]?.subkeys ?? [];
  const responsesSpec = schema.response.find((k) => k.key === "QueryResponses");
  const responses = new Map((responsesSpec ? (resolveSubkeys(responsesSpec) ?? []) : []).map((k) => [k.key, k]));
  const entries = new Map<string, QueryEntry>();
  for (const name of deviceInformationQueryNames()) {
    // SIMMCC and SIMMNC are documented only as answers (device-information-queries.ts): their answer's
    // supportedOS (iOS only, removed in 4.2.6) is the only one Apple gives.
    const own = queries.find((k) => k.key === name)?.supportedOS ?? responses.get(name)?.supportedOS;
    entries.set(name, { key: name, supportedOS: effectiveSupportedOS(schema.supportedOS, own) });
  }
  cached = entries;
  return entries;
}

/** Every query name Apple's schema defines for DeviceInformation, in the schema's order. */
export function allQueryNames(): readonly string[] {
  return [...queryEntries().keys()];
}

/** Whether the name is a DeviceInformation query (and answer key) the schema defines. */
export function isQueryName(name: string): boolean {
  return queryEntries().has(name);
}

/** The query's requirements on the platform with Apple's defaults filled in; undefined for an unknown name. */
export function queryPlatformInfo(name: string, platform: Platform): CommandPlatformInfo | undefined {
  const entry = queryEntries().get(name);
  return entry ? commandPlatformInfo(platform, entry.supportedOS[platform]) : undefined;
}

/** Whether the device may be asked this query, by the same rule the engine applies to commands. */
export function checkQueryAllowed(name: string, target: CommandTarget): CommandCheck {
  const info = queryPlatformInfo(name, target.platform);
  if (!info) return { ok: false, reason: `${name} is not a DeviceInformation query in Apple's schema` };
  return checkPlatformRequirements(`The ${name} query`, info, target);
}
