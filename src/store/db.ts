// Opens the one database Orchard keeps its state in: SQLite (embedded default) or PostgreSQL.
// Both sit behind the same kysely instance; the raw driver handle is exposed for the few hot-path
// statements that are prepared once (see DESIGN.md, "The hot path").
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import type { Database } from "./schema.ts";

export type Dialect = "sqlite" | "postgres";

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Present on SQLite: the driver handle, for prepared hot-path statements. */
  sqlite?: BetterSqlite3.Database;
  /** Present on PostgreSQL: the pool, for hot-path statements and LISTEN/advisory locks. */
  pool?: pg.Pool;
  /** The PostgreSQL schema this store lives in (tests use one schema per run). */
  schema?: string;
  close(): Promise<void>;
}

// int8 (bigint) columns hold epoch milliseconds and counters; they fit in a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

export interface OpenOptions {
  /** PostgreSQL only: use (and create) this schema instead of public. */
  schema?: string;
  poolSize?: number;
}

export async function openStore(url: string, options: OpenOptions = {}): Promise<Store> {
  if (url.startsWith("sqlite:")) return openSqlite(url.slice("sqlite:".length));
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) return openPostgres(url, options);
  throw new Error(`unsupported database URL (expected sqlite:PATH or postgres://…)`);
}

function openSqlite(path: string): Store {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const handle = new BetterSqlite3(path);
  handle.pragma("journal_mode = WAL");
  // NORMAL is durable across application crashes in WAL mode; only a power loss can lose the last commits.
  handle.pragma("synchronous = NORMAL");
  handle.pragma("busy_timeout = 5000");
  handle.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: handle }) });
  return {
    db,
    dialect: "sqlite",
    sqlite: handle,
    async close() {
      await db.destroy();
    },
  };
}

async function openPostgres(url: string, options: OpenOptions): Promise<Store> {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
  if (schema) {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // A dropped idle connection must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: "postgres",
    pool,
    ...(schema ? { schema } : {}),
    async close() {
      await db.destroy();
    },
  };
}

/** True when the database answers a trivial query. */
export async function isReachable(store: Store): Promise<boolean> {
  try {
    await sql`select 1`.execute(store.db);
    return true;
  } catch {
    return false;
  }
}
