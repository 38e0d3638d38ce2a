// Keys shared by many devices of a large fleet. Generating a 2048-bit RSA key costs 100–400 ms of CPU, so a
// 100,000-device load test hands out keys from a pool (each device still gets its own certificate, which is
// what an MDM server binds). A pooled key is stored in device state as a reference, not as PEM, which keeps the
// per-device state small; the process (or worker) registers the pool before loading such devices.
import type { KeyObject } from "node:crypto";

const byRef = new Map<string, KeyObject>();
const refOf = new WeakMap<KeyObject, string>();

export const SHARED_KEY_PREFIX = "shared-key:";

export function registerSharedKey(ref: string, key: KeyObject): void {
  byRef.set(ref, key);
  refOf.set(key, ref);
}

/** The state form of a pooled key ("shared-key:<ref>"), or undefined for a device's own key. */
export function sharedKeyReference(key: KeyObject): string | undefined {
  const ref = refOf.get(key);
  return ref === undefined ? undefined : `${SHARED_KEY_PREFIX}${ref}`;
}

export function resolveSharedKey(stored: string): KeyObject | undefined {
  if (!stored.startsWith(SHARED_KEY_PREFIX)) return undefined;
  const key = byRef.get(stored.slice(SHARED_KEY_PREFIX.length));
  if (!key) throw new Error(`the fleet's key pool has no key ${stored.slice(SHARED_KEY_PREFIX.length)}; open the fleet before loading its devices`);
  return key;
}
