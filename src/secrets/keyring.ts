// The key-encryption keys. The active key seals new secrets; older keys stay to open what they sealed
// until everything is re-sealed (key rotation). Keys come from ORCHARD_MASTER_KEY or from
// DATA_DIR/master.key (created on first start, mode 0600). Format, in either place: one key per entry,
// "id:base64" or bare base64, separated by commas or newlines; the first entry is the active key.
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Keyring {
  activeId: string;
  keys: Map<string, Buffer>;
}

export class KeyringError extends Error {}

export function parseKeyring(text: string, source: string): Keyring {
  const entries = text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s && !s.startsWith("#"));
  if (entries.length === 0) throw new KeyringError(`${source}: no key found`);
  const keys = new Map<string, Buffer>();
  let activeId = "";
  for (const entry of entries) {
    const m = /^(?:([A-Za-z0-9_-]{1,32}):)?([A-Za-z0-9+/=_-]+)$/.exec(entry);
    if (!m || !m[2]) throw new KeyringError(`${source}: expected "id:base64key" or "base64key" entries`);
    const key = Buffer.from(m[2], "base64");
    if (key.length !== 32) throw new KeyringError(`${source}: each key must be 32 bytes of base64, got ${key.length} bytes`);
    const id = m[1] ?? defaultKeyId(key);
    if (keys.has(id)) throw new KeyringError(`${source}: key id ${id} appears twice`);
    keys.set(id, key);
    if (!activeId) activeId = id;
  }
  return { activeId, keys };
}

/** A short, stable name for a key that does not reveal it. */
function defaultKeyId(key: Buffer): string {
  return createHash("sha256").update("orchard-kek-id").update(key).digest("hex").slice(0, 12);
}

export const MASTER_KEY_FILE = "master.key";

export function loadOrCreateKeyring(dataDir: string, masterKeyEnv: string | undefined): Keyring {
  if (masterKeyEnv) return parseKeyring(masterKeyEnv, "ORCHARD_MASTER_KEY");
  const path = join(dataDir, MASTER_KEY_FILE);
  if (!existsSync(path)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  }
  chmodSync(path, 0o600);
  return parseKeyring(readFileSync(path, "utf8"), path);
}
