// Runs a store-backed suite on every database: SQLite always, PostgreSQL when ORCHARD_TEST_DATABASE_URL is set
// (reported as skipped otherwise). Each store gets its own SQLite file or PostgreSQL schema, dropped afterwards.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe } from "vitest";
import { openStore, type Dialect, type Store } from "../src/store/db.ts";
import { migrateAll as migrate } from "../src/server/modules.ts";

export const TEST_PG_URL = process.env.ORCHARD_TEST_DATABASE_URL;

export interface TestDatabase {
  dialect: Dialect;
  /** A database URL for a fresh, empty database (SQLite file or PostgreSQL schema). */
  freshUrl(): Promise<{ url: string; schema?: string; cleanup: () => Promise<void> }>;
  /** A fresh, migrated store. */
  openStore(): Promise<Store & { cleanup: () => Promise<void> }>;
}

function sqliteDatabase(): TestDatabase {
  const freshUrl = async () => {
    const dir = mkdtempSync(join(tmpdir(), "orchard-test-"));
    return { url: `sqlite:${join(dir, "orchard.db")}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  };
  return {
    dialect: "sqlite",
    freshUrl,
    async openStore() {
      const fresh = await freshUrl();
      const store = await openStore(fresh.url);
      await migrate(store);
      return Object.assign(store, {
        cleanup: async () => {
          await store.close();
          await fresh.cleanup();
        },
      });
    },
  };
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

function postgresDatabase(url: string): TestDatabase {
  const freshUrl = async () => {
    const schema = `t_${randomBytes(6).toString("hex")}`;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.end();
    // The server and CLI open the store by URL; the search_path option puts them in the test's schema.
    const u = new URL(url);
    u.searchParams.set("options", `-c search_path=${schema}`);
    return { url: u.toString(), schema, cleanup: () => dropSchema(url, schema) };
  };
  return {
    dialect: "postgres",
    freshUrl,
    async openStore() {
      const schema = `t_${randomBytes(6).toString("hex")}`;
      const store = await openStore(url, { schema, poolSize: 4 });
      await migrate(store);
      return Object.assign(store, {
        cleanup: async () => {
          await store.close();
          await dropSchema(url, schema);
        },
      });
    },
  };
}

/** describe() once per database. */
export function describeEachDatabase(name: string, body: (database: TestDatabase) => void): void {
  describe(`${name} [sqlite]`, () => body(sqliteDatabase()));
  const pgDescribe = TEST_PG_URL ? describe : describe.skip;
  pgDescribe(`${name} [postgres]`, () => body(postgresDatabase(TEST_PG_URL ?? "postgres://unset")));
}
