// A fleet's state file: one SQLite database (better-sqlite3, WAL) holding every device's state as JSON plus a
// few indexed columns for selection and stats, and the fleet's key pool. Worker threads open the same file and
// each reads and writes its own devices, so a 100,000-device fleet survives restarts and is shared by workers.
import Database from "better-sqlite3";
import { createHash, type KeyObject } from "node:crypto";
import { exportPrivateKeyPem, importPrivateKey } from "../src/pki/keys.ts";
import { DEVICE_STATE_VERSION, type DeviceState } from "./device-state.ts";
import { registerSharedKey } from "./shared-keys.ts";

export const DEFAULT_FLEET_FILE = "orchard-sim.db";

export interface FleetDevice {
  seq: number;
  state: DeviceState;
}

export interface DeviceFilter {
  enrolled?: boolean;
  platform?: string;
  /** At most this many devices (lowest sequence numbers first). */
  limit?: number;
}

export interface FleetStats {
  total: number;
  enrolled: number;
  byPlatform: Record<string, { total: number; enrolled: number; supervised: number }>;
  servers: Record<string, number>;
  lastConnectAt?: string;
  erasures: number;
}

export class FleetError extends Error {
  override readonly name = "FleetError";
}

// Long strings (certificates, mostly) are stored once in `blobs` and referenced from device state: the CA and
// profile-signing certificates every device holds would otherwise be most of each device's row.
const BLOB_MIN_LENGTH = 512;
const BLOB_REF = "\u0000blob:";
const BLOB_CACHE_MAX = 4096;

export class FleetStore {
  private readonly knownBlobs = new Set<string>();
  private readonly blobCache = new Map<string, string>();
  private readonly insertBlob: Database.Statement;
  private readonly selectBlob: Database.Statement;

  private constructor(private readonly db: Database.Database) {
    this.insertBlob = db.prepare("INSERT OR IGNORE INTO blobs (hash, value) VALUES (?, ?)");
    this.selectBlob = db.prepare("SELECT value FROM blobs WHERE hash = ?").pluck();
  }

  private encode(state: DeviceState): string {
    return JSON.stringify(state, (_key, value: unknown) => {
      if (typeof value !== "string" || value.length < BLOB_MIN_LENGTH) return value;
      const hash = createHash("sha256").update(value).digest("base64url");
      if (!this.knownBlobs.has(hash)) {
        this.insertBlob.run(hash, value);
        this.knownBlobs.add(hash);
      }
      return `${BLOB_REF}${hash}`;
    });
  }

  private decode(text: string): DeviceState {
    return JSON.parse(text, (_key, value: unknown) => {
      if (typeof value !== "string" || !value.startsWith(BLOB_REF)) return value;
      const hash = value.slice(BLOB_REF.length);
      let blob = this.blobCache.get(hash);
      if (blob === undefined) {
        blob = this.selectBlob.get(hash) as string | undefined;
        if (blob === undefined) throw new FleetError(`the fleet file is missing blob ${hash}`);
        if (this.blobCache.size >= BLOB_CACHE_MAX) this.blobCache.clear();
        this.blobCache.set(hash, blob);
      }
      return blob;
    }) as DeviceState;
  }

  /** Opens (and with `create`, creates) a fleet file. */
  static open(path: string, options: { create?: boolean; readonly?: boolean } = {}): FleetStore {
    let db: Database.Database;
    try {
      db = new Database(path, { fileMustExist: !options.create, readonly: options.readonly ?? false });
    } catch (e) {
      throw new FleetError(`cannot open fleet ${path}: ${(e as Error).message}${options.create ? "" : " (create it with `orchard sim create`)"}`);
    }
    if (!options.readonly) {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
    }
    db.pragma("busy_timeout = 10000");
    if (options.create) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS devices (
          seq INTEGER PRIMARY KEY,
          udid TEXT NOT NULL UNIQUE,
          platform TEXT NOT NULL,
          supervised INTEGER NOT NULL,
          enrolled INTEGER NOT NULL,
          server TEXT,
          last_connect_at TEXT,
          state TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS devices_enrolled ON devices (enrolled, platform);
        CREATE TABLE IF NOT EXISTS keys (ref TEXT PRIMARY KEY, bits INTEGER NOT NULL, pem TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS blobs (hash TEXT PRIMARY KEY, value TEXT NOT NULL);
      `);
      db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('state_version', ?)").run(String(DEVICE_STATE_VERSION));
    }
    let version: string | undefined;
    try {
      version = (db.prepare("SELECT value FROM meta WHERE key = 'state_version'").get() as { value: string } | undefined)?.value;
    } catch {
      version = undefined;
    }
    if (version === undefined) {
      db.close();
      throw new FleetError(`${path} is not an Orchard fleet file`);
    }
    if (Number(version) !== DEVICE_STATE_VERSION) {
      db.close();
      throw new FleetError(`${path} holds device state version ${version}; this orchard reads version ${DEVICE_STATE_VERSION}`);
    }
    return new FleetStore(db);
  }

  addDevices(states: readonly DeviceState[]): void {
    const insert = this.db.prepare("INSERT INTO devices (udid, platform, supervised, enrolled, server, last_connect_at, state) VALUES (?, ?, ?, ?, ?, ?, ?)");
    this.db.transaction(() => {
      for (const s of states) insert.run(s.udid, s.platform, s.supervised ? 1 : 0, s.mdm ? 1 : 0, s.mdm?.settings.serverUrl ?? null, s.mdm?.lastConnectAt ?? null, this.encode(s));
    })();
  }

  /** Sequence numbers of the selected devices, ascending. */
  select(filter: DeviceFilter = {}): number[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.enrolled !== undefined) {
      where.push("enrolled = ?");
      args.push(filter.enrolled ? 1 : 0);
    }
    if (filter.platform !== undefined) {
      where.push("platform = ?");
      args.push(filter.platform);
    }
    const sql = `SELECT seq FROM devices ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq${filter.limit !== undefined ? " LIMIT ?" : ""}`;
    if (filter.limit !== undefined) args.push(filter.limit);
    return (this.db.prepare(sql).pluck().all(...args) as number[]);
  }

  load(seqs: readonly number[]): FleetDevice[] {
    const get = this.db.prepare("SELECT seq, state FROM devices WHERE seq = ?");
    const out: FleetDevice[] = [];
    for (const seq of seqs) {
      const row = get.get(seq) as { seq: number; state: string } | undefined;
      if (row) out.push({ seq: row.seq, state: this.decode(row.state) });
    }
    return out;
  }

  save(devices: readonly FleetDevice[]): void {
    const update = this.db.prepare("UPDATE devices SET enrolled = ?, server = ?, last_connect_at = ?, supervised = ?, state = ? WHERE seq = ?");
    this.db.transaction(() => {
      for (const { seq, state: s } of devices) update.run(s.mdm ? 1 : 0, s.mdm?.settings.serverUrl ?? null, s.mdm?.lastConnectAt ?? null, s.supervised ? 1 : 0, this.encode(s), seq);
    })();
  }

  stats(): FleetStats {
    const rows = this.db.prepare("SELECT platform, COUNT(*) AS total, SUM(enrolled) AS enrolled, SUM(supervised) AS supervised FROM devices GROUP BY platform ORDER BY platform").all() as Array<{ platform: string; total: number; enrolled: number; supervised: number }>;
    const servers = this.db.prepare("SELECT server, COUNT(*) AS n FROM devices WHERE server IS NOT NULL GROUP BY server").all() as Array<{ server: string; n: number }>;
    const last = (this.db.prepare("SELECT MAX(last_connect_at) FROM devices").pluck().get() as string | null) ?? undefined;
    const erasures = (this.db.prepare("SELECT COALESCE(SUM(json_extract(state, '$.history.erasures')), 0) FROM devices").pluck().get() as number) ?? 0;
    const stats: FleetStats = { total: 0, enrolled: 0, byPlatform: {}, servers: Object.fromEntries(servers.map((s) => [s.server, s.n])), erasures };
    for (const r of rows) {
      stats.byPlatform[r.platform] = { total: r.total, enrolled: r.enrolled ?? 0, supervised: r.supervised ?? 0 };
      stats.total += r.total;
      stats.enrolled += r.enrolled ?? 0;
    }
    if (last !== undefined) stats.lastConnectAt = last;
    return stats;
  }

  getMeta(key: string): string | undefined {
    return (this.db.prepare("SELECT value FROM meta WHERE key = ?").pluck().get(key) as string | undefined) ?? undefined;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, value);
  }

  /** The key pool: loads and registers every pooled key (see shared-keys.ts); returns them by size. */
  loadKeyPool(): Map<number, KeyObject[]> {
    const pool = new Map<number, KeyObject[]>();
    for (const row of this.db.prepare("SELECT ref, bits, pem FROM keys ORDER BY ref").all() as Array<{ ref: string; bits: number; pem: string }>) {
      const key = importPrivateKey(row.pem);
      registerSharedKey(row.ref, key);
      pool.set(row.bits, [...(pool.get(row.bits) ?? []), key]);
    }
    return pool;
  }

  addPooledKey(ref: string, bits: number, key: KeyObject): void {
    this.db.prepare("INSERT INTO keys (ref, bits, pem) VALUES (?, ?, ?)").run(ref, bits, exportPrivateKeyPem(key));
    registerSharedKey(ref, key);
  }

  close(): void {
    this.db.close();
  }
}
