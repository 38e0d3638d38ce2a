// Applies the migration set in order, once each. Both databases share the set; a migration that
// needs a dialect-specific type asks for it through the dialect argument.
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from "kysely";
import type { Dialect, Store } from "./db.ts";
import * as m0001 from "./migrations/0001-foundation.ts";
import * as m0002 from "./migrations/0002-mdm-engine.ts";
import * as m0003 from "./migrations/0003-enrollment-profiles.ts";
import * as m0004 from "./migrations/0004-push.ts";
import * as m0005 from "./migrations/0005-command-target-index.ts";
import * as m0006 from "./migrations/0006-notnow-at.ts";
import * as m0007 from "./migrations/0007-server-settings.ts";
import * as m0008 from "./migrations/0008-live-token-names.ts";
import * as m0009 from "./migrations/0009-sealed-command-bodies.ts";

export type MigrationModule = { up(db: Kysely<unknown>, dialect: Dialect): Promise<void> };

/**
 * The foundation's migrations (tables shared by the engine and several modules). Modules bring their own
 * (OrchardModule.migrations). Names sort in application order; never rename or edit one that has shipped.
 */
export const CORE_MIGRATIONS: Readonly<Record<string, MigrationModule>> = {
  "0001-foundation": m0001,
  "0002-mdm-engine": m0002,
  "0003-enrollment-profiles": m0003,
  "0004-push": m0004,
  "0005-command-target-index": m0005,
  "0006-notnow-at": m0006,
  "0007-server-settings": m0007,
  "0008-live-token-names": m0008,
  "0009-sealed-command-bodies": m0009,
};

class StaticProvider implements MigrationProvider {
  constructor(
    private readonly dialect: Dialect,
    private readonly migrations: Readonly<Record<string, MigrationModule>>,
  ) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const [name, mod] of Object.entries(this.migrations)) {
      out[name] = { up: (db) => mod.up(db, this.dialect) };
    }
    return out;
  }
}

export interface MigrateOutcome {
  applied: string[];
}

/** Applies the core migrations and the given modules' (all of the server's when `extra` is its modules' set). */
export async function migrate(store: Store, extra: ReadonlyArray<Readonly<Record<string, MigrationModule>>> = []): Promise<MigrateOutcome> {
  const all: Record<string, MigrationModule> = { ...CORE_MIGRATIONS };
  for (const set of extra) {
    for (const [name, mod] of Object.entries(set)) {
      if (all[name]) throw new Error(`two migrations are named ${name}`);
      all[name] = mod;
    }
  }
  // Name the schema explicitly on PostgreSQL: without it kysely may find its bookkeeping tables in another
  // schema of the same database and skip creating them in ours.
  const schema = store.dialect === "postgres" ? (store.schema ?? (await sql<{ s: string }>`select current_schema() as s`.execute(store.db)).rows[0]?.s) : undefined;
  const migrator = new Migrator({
    db: store.db,
    provider: new StaticProvider(store.dialect, all),
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === "Error");
    throw new Error(`migration ${failed?.migrationName ?? "?"} failed: ${(result.error as Error).message ?? String(result.error)}`);
  }
  return { applied: (result.results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName) };
}
