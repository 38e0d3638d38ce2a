// Opens the one database Orchard keeps its state in: SQLite (embedded default) or PostgreSQL.
// Both sit behind the same kysely instance; the raw driver handle is exposed for the few hot-path
// statements that are prepared once (see DESIGN.md, "The hot path").
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from "kysely";
import pg from "pg";
import type { Database } from "./schema.ts";

export type Dialect = "sqlite" | "postgres";

/**
 * What a store function runs its queries on: the database itself (each statement commits on its own) or a
 * transaction a service opened (see `Store.transaction`). Every function in src/store takes one, so a service
 * can make several of them atomic by passing the same transaction (the unit of work).
 */
export interface Executor {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** Present on SQLite: the driver handle, for prepared hot-path statements (one connection, so a transaction's too). */
  readonly sqlite?: BetterSqlite3.Database;
  /** True inside a transaction. */
  readonly inTransaction?: boolean;
}

/**
 * An executor inside a transaction. Store functions whose writes must be atomic with something else (a command
 * and its queue rows and the pushes it owes) take a Tx, so the type system refuses a call that would commit alone.
 */
export interface Tx extends Executor {
  readonly db: Transaction<Database>;
  readonly inTransaction: true;
  /**
   * Runs `fn` once the transaction has committed (never when it rolls back): in-process wake-ups, such as
   * nudging the job runner to pick up the outbox rows this transaction wrote. Never the only record of work.
   */
  afterCommit(fn: () => void): void;
}

export interface Store extends Executor {
  /** Present on PostgreSQL: the pool, for hot-path statements and LISTEN/advisory locks. */
  pool?: pg.Pool;
  /** The PostgreSQL schema this store lives in (tests use one schema per run). */
  schema?: string;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

function transactionRunner(db: Kysely<Database>, dialect: Dialect, sqlite?: BetterSqlite3.Database) {
  return async <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => {
    const after: Array<() => void> = [];
    const result = await db
      .transaction()
      .execute((t) => fn({ db: t, dialect, ...(sqlite ? { sqlite } : {}), inTransaction: true, afterCommit: (f) => void after.push(f) }));
    for (const f of after) {
      try {
        f();
      } catch {
        // A wake-up that fails changes nothing: the work it would hurry is in the database.
      }
    }
    return result;
  };
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
    transaction: transactionRunner(db, "sqlite", handle),
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
    transaction: transactionRunner(db, "postgres"),
    async close() {
      await db.destroy();
    },
  };
}

/** True when the database answers a trivial query. */
export async function isReachable(store: Executor): Promise<boolean> {
  try {
    await sql`select 1`.execute(store.db);
    return true;
  } catch {
    return false;
  }
}
