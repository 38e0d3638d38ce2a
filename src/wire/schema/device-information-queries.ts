// The query names DeviceInformation accepts. The schema lists them as the known values of Queries' items (a
// string with subkeys); a few answers Apple documents under QueryResponses (SIMMCC, SIMMNC) are missing from that
// list, and a device answers only what it is asked, so they are queries too. The request spec is rebuilt once with
// the union, so the validator's known-value check (and its "did you mean") covers every documented name.
import { commandSchema, resolveSubkeys } from "./spec-lookup.ts";
import type { KeyList, KeySpec } from "./spec-types.ts";

let cached: KeyList | undefined;

/** DeviceInformation's request keys, with Queries' known values extended by the documented QueryResponses keys. */
export function deviceInformationRequestSpec(): KeyList | undefined {
  if (cached) return cached;
  const schema = commandSchema("DeviceInformation");
  if (!schema) return undefined;
  const responses = schema.response?.find((k) => k.key === "QueryResponses");
  const answered = (responses ? resolveSubkeys(responses) : undefined) ?? [];
  cached = schema.request.map((spec): KeySpec => {
    if (spec.key !== "Queries") return spec;
    const item = resolveSubkeys(spec)?.[0];
    if (!item) return spec;
    const listed = item.subkeys ?? [];
    const names = new Set(listed.map((k) => k.key));
    const extra = answered.filter((k) => !k.anyKey && !names.has(k.key)).map((k): KeySpec => ({ key: k.key, type: "<string>", presence: "optional" }));
    // ref cleared: the extended list replaces the shared definition for this copy only.
    return { ...spec, ref: undefined, subkeys: [{ ...item, subkeys: [...listed, ...extra] }] };
  });
  return cached;
}

/** Every query name DeviceInformation accepts. */
export function deviceInformationQueryNames(): readonly string[] {
  const queries = deviceInformationRequestSpec()?.find((k) => k.key === "Queries");
  return (queries?.subkeys?.[0]?.subkeys ?? []).map((k) => k.key);
}
