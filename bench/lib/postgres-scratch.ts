// A scratch PostgreSQL database for one bench run: created from the admin URL (ORCHARD_BENCH_DATABASE_URL, by
// default the local server's `postgres` database), dropped afterwards. Also reads what the report needs from
// it: its size, and the CPU time of the backends serving it (PostgreSQL runs on the same 2 cores).
import pg from "pg";
import { processCpuSeconds } from "./server-process.ts";

export const DEFAULT_ADMIN_URL = "postgres://orchard:orchard@127.0.0.1:5432/postgres";

export interface ScratchDatabase {
  name: string;
  url: string;
  sizeBytes(): Promise<number>;
  /** CPU seconds used so far by the backends connected to this database (pids from pg_stat_activity). */
  backendCpuSeconds(): Promise<number>;
  drop(): Promise<void>;
}

/** Connects to the admin URL; undefined (with the reason) when no server answers. */
export async function probePostgres(adminUrl: string): Promise<{ ok: true; version: string } | { ok: false; reason: string }> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const r = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return { ok: true, version: r.rows[0]!.v };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  } finally {
    await client.end().catch(() => {});
  }
}

export async function createScratchDatabase(adminUrl: string, label: string): Promise<ScratchDatabase> {
  const name = `orchard_bench_${label}_${process.pid}_${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  // One connection of our own for the measurements, excluded from the backend CPU sum.
  const probe = new pg.Client({ connectionString: url });
  await probe.connect();
  const ownPid = (await probe.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
  const seen = new Map<number, number>();
  return {
    name,
    url,
    async sizeBytes() {
      const r = await probe.query<{ size: string }>("SELECT pg_database_size(current_database())::text AS size");
      return Number(r.rows[0]!.size);
    },
    async backendCpuSeconds() {
      const r = await probe.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> $1", [ownPid]);
      // Backends that have gone keep their last reading, so the sum never goes backwards.
      for (const { pid } of r.rows) seen.set(pid, processCpuSeconds(pid));
      let total = 0;
      for (const v of seen.values()) total += v;
      return total;
    },
    async drop() {
      await probe.end().catch(() => {});
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
