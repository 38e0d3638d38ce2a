// InstallProfile's Payload is a configuration profile: the schema only says <data>, so without this check any
// bytes are queued and the device answers with an error later. Accepted: a profile plist (XML or binary) or a
// CMS SignedData wrapping one (a signed profile, as Orchard's own enrollment profiles are); the check looks at the
// profile's outer dictionary, not at each payload (Apple adds payload types faster than the schema is refreshed).
import { parseSignedData } from "../../pki/cms-signed-data.ts";
import { parsePlist, type PlistValue } from "../plist.ts";

const DER_SEQUENCE = 0x30;

/** Why `payload` is not a configuration profile, or undefined when it is one. */
export function installProfilePayloadProblem(payload: Uint8Array): string | undefined {
  if (payload.length === 0) return "Command.Payload: is empty; expected a configuration profile";
  let profileBytes = payload;
  let where = "Command.Payload";
  if (payload[0] === DER_SEQUENCE) {
    // A plist starts with "<" (XML, maybe after a BOM or whitespace) or "bplist"; DER starts with a SEQUENCE.
    let signed;
    try {
      signed = parseSignedData(payload);
    } catch {
      return "Command.Payload: looks like DER but is not a CMS SignedData (a signed profile)";
    }
    if (!signed.content) return "Command.Payload: the signed profile has no content (a detached signature)";
    profileBytes = signed.content;
    where = "Command.Payload (signed content)";
  }
  let profile: PlistValue;
  try {
    profile = parsePlist(profileBytes);
  } catch (e) {
    return `${where}: not a configuration profile (not a property list: ${(e as Error).message})`;
  }
  if (!isDict(profile)) return `${where}: a configuration profile is a dictionary`;
  if (profile.PayloadType !== "Configuration") return `${where}.PayloadType: must be "Configuration", got ${profile.PayloadType === undefined ? "nothing" : JSON.stringify(profile.PayloadType)}`;
  for (const key of ["PayloadIdentifier", "PayloadUUID"] as const) {
    if (typeof profile[key] !== "string" || profile[key] === "") return `${where}.${key}: a configuration profile needs a non-empty string ${key}`;
  }
  if (typeof profile.PayloadVersion !== "number" && typeof profile.PayloadVersion !== "bigint") return `${where}.PayloadVersion: a configuration profile needs an integer PayloadVersion`;
  const content = profile.PayloadContent;
  if (content === undefined) {
    // An encrypted profile carries its payloads in EncryptedPayloadContent instead.
    if (profile.EncryptedPayloadContent instanceof Uint8Array) return undefined;
    return `${where}.PayloadContent: a configuration profile needs a PayloadContent array (or EncryptedPayloadContent)`;
  }
  if (!Array.isArray(content)) return `${where}.PayloadContent: must be an array of payload dictionaries`;
  for (let i = 0; i < content.length; i++) {
    const item = content[i];
    if (!isDict(item) || typeof item.PayloadType !== "string") return `${where}.PayloadContent[${i}]: each payload is a dictionary with a string PayloadType`;
  }
  return undefined;
}

function isDict(v: PlistValue | undefined): v is Record<string, PlistValue> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date) && Object.getPrototypeOf(v) === Object.prototype;
}
