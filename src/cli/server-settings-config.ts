// The configuration a CLI command that builds device-facing material (enrollment profiles, their links)
// runs with: the public settings the running server recorded (src/store/server-settings.ts), not the
// shell's. A profile built from the shell's environment pointed devices at the wrong port, silently.
import { explicitSettings, type OrchardConfig } from "../config.ts";
import { openStore } from "../store/db.ts";
import { migrateAll } from "../server/modules.ts";
import { readServerSettings, type ServerSettings } from "../store/server-settings.ts";

export class NoServerSettingsError extends Error {}

/**
 * `config` with the server's public URL and development flag. Throws NoServerSettingsError when no server has
 * recorded them; `warnings` says where the shell's explicit settings disagree (they are not used).
 */
export function applyServerSettings(
  config: OrchardConfig,
  stored: ServerSettings | undefined,
  explicit: ReadonlySet<keyof OrchardConfig>,
): { config: OrchardConfig; warnings: string[] } {
  if (stored === undefined) {
    throw new NoServerSettingsError(
      "no server has recorded its public URL in this database yet, so an enrollment profile built here could point devices anywhere: start `orchard serve` once with the settings devices will use (same ORCHARD_DATABASE_URL or data folder), then run this again",
    );
  }
  const warnings: string[] = [];
  // Only settings the shell gives explicitly: the shell's defaults differing from the server's is the normal case.
  const saysUrl = explicit.has("publicUrl") || explicit.has("httpsPort");
  if (saysUrl && config.publicUrl !== stored.publicUrl) {
    warnings.push(
      `this shell's settings give the public URL ${config.publicUrl}, but the server (recorded ${stored.recordedAt}) runs with ${stored.publicUrl}: using the server's. Restart \`orchard serve\` with the new settings if devices should use ${config.publicUrl}.`,
    );
  }
  if (explicit.has("dev") && config.dev !== stored.dev) {
    warnings.push(`this shell sets ORCHARD_DEV=${config.dev}, but the server runs with ${stored.dev}: using the server's.`);
  }
  return { config: { ...config, publicUrl: stored.publicUrl, dev: stored.dev }, warnings };
}

/** Reads the recorded settings from the configured database (migrating it first, as every command does). */
export async function storedServerSettings(config: OrchardConfig): Promise<ServerSettings | undefined> {
  const store = await openStore(config.databaseUrl);
  try {
    // Every module's migrations, as `orchard serve` applies them: kysely refuses a set that lacks one already applied.
    await migrateAll(store);
    return await readServerSettings(store);
  } finally {
    await store.close();
  }
}

export async function serverSettingsConfig(config: OrchardConfig, env: NodeJS.ProcessEnv): Promise<{ config: OrchardConfig; warnings: string[] }> {
  return applyServerSettings(config, await storedServerSettings(config), explicitSettings(env));
}
