// Which commands' bodies are stored sealed. A command's plist is kept until every target has it, and some carry
// secrets: ClearPasscode the device's UnlockToken, identity renewal's InstallProfile a one-time SCEP challenge,
// DeviceLock/EraseDevice a Find My PIN, SetRecoveryLock/SetFirmwarePassword passwords, app configurations whatever
// credentials an app is given. Decided per RequestType from Apple's schema, so a new command with a password key
// is sealed without anyone remembering to list it: a body is sealed when its command can hold
//   - a string or data key named like a secret (password, passphrase, PIN, token, secret, hash, challenge), or
//   - a configuration profile (InstallProfile's Payload, EraseDevice's Return to Service *ProfileData), or
//   - a free-form app configuration dictionary (Configuration).
// Sealing costs an AES-GCM pass per delivery of those commands only; the rest stay plain on the hot path.
import { commandRequestTypes, commandSchema, resolveSubkeys, type KeySpec } from "../wire/schema/index.ts";

const SECRET_NAME = /password|passphrase|^pin$|token|secret|hash|challenge/i;
const PROFILE_DATA = /^Payload$|ProfileData$/;

/** The purpose the sealed body is bound to: a body moved to another command's row fails to open. */
export function commandBodyPurpose(commandUuid: string): string {
  return `command.body:${commandUuid}`;
}

function holdsSecret(spec: KeySpec): boolean {
  if ((spec.type === "<string>" || spec.type === "<data>") && SECRET_NAME.test(spec.key)) return true;
  if (spec.type === "<data>" && PROFILE_DATA.test(spec.key)) return true;
  return spec.type === "<dictionary>" && spec.key === "Configuration";
}

function anyKeyHoldsSecret(keys: readonly KeySpec[] | undefined, depth: number, seen: Set<readonly KeySpec[]>): boolean {
  if (!keys || depth > 8 || seen.has(keys)) return false;
  seen.add(keys);
  for (const k of keys) {
    if (holdsSecret(k)) return true;
    if ((k.type === "<dictionary>" || k.type === "<array>") && anyKeyHoldsSecret(resolveSubkeys(k), depth + 1, seen)) return true;
  }
  return false;
}

let sealed: ReadonlySet<string> | undefined;

/** The RequestTypes whose stored bodies are sealed. */
export function sealedRequestTypes(): ReadonlySet<string> {
  sealed ??= new Set(commandRequestTypes().filter((t) => anyKeyHoldsSecret(commandSchema(t)?.request, 0, new Set())));
  return sealed;
}

export function sealsBody(requestType: string): boolean {
  return sealedRequestTypes().has(requestType);
}
