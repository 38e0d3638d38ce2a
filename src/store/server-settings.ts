// The settings a running `orchard serve` recorded about itself (server_settings, one row per key), for
// commands run elsewhere that must build what devices will use with the server's values, not their own.
import type { Executor } from "./db.ts";

export interface ServerSettings {
  /** The base URL devices reach the server at (ORCHARD_PUBLIC_URL or its default). */
  publicUrl: string;
  /** The port HTTPS was listening on. */
  httpsPort: number;
  /** The plain-HTTP port, when one was open. */
  httpPort: number | null;
  /** Development mode, which allows plain-http URLs to loopback in profiles. */
  dev: boolean;
  /** When the server recorded them (ISO 8601). */
  recordedAt: string;
}

const KEYS = { publicUrl: "public_url", httpsPort: "https_port", httpPort: "http_port", dev: "dev" } as const;

/** Records (replaces) the settings in one statement, so a reader never sees half of one start's values. */
export async function recordServerSettings(store: Executor, s: Omit<ServerSettings, "recordedAt">, now = Date.now()): Promise<void> {
  const rows = [
    { key: KEYS.publicUrl, value: s.publicUrl, updated_at: now },
    { key: KEYS.httpsPort, value: String(s.httpsPort), updated_at: now },
    { key: KEYS.httpPort, value: s.httpPort === null ? "" : String(s.httpPort), updated_at: now },
    { key: KEYS.dev, value: s.dev ? "true" : "false", updated_at: now },
  ];
  await store.db
    .insertInto("server_settings")
    .values(rows)
    .onConflict((oc) => oc.column("key").doUpdateSet((eb) => ({ value: eb.ref("excluded.value"), updated_at: eb.ref("excluded.updated_at") })))
    .execute();
}

/** The recorded settings, or undefined when no server has recorded them in this database yet. */
export async function readServerSettings(store: Executor): Promise<ServerSettings | undefined> {
  const rows = await store.db.selectFrom("server_settings").select(["key", "value", "updated_at"]).execute();
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const url = byKey.get(KEYS.publicUrl);
  const https = byKey.get(KEYS.httpsPort);
  if (url === undefined || https === undefined) return undefined;
  const http = byKey.get(KEYS.httpPort)?.value ?? "";
  return {
    publicUrl: url.value,
    httpsPort: Number(https.value),
    httpPort: http === "" ? null : Number(http),
    dev: byKey.get(KEYS.dev)?.value === "true",
    recordedAt: new Date(url.updated_at).toISOString(),
  };
}
