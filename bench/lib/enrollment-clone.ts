// The shortcut from 10,000 to 100,000 enrollments: enrolling 90,000 more devices by check-in would take most of
// the run (~4 ms of server CPU per device), so their enrollment rows are cloned from a row the server wrote
// for a real device (Authenticate + TokenUpdate), with each device's own UDID, serial number, push token and
// magic, and the fingerprint of its own identity certificate. The columns come from the template row itself,
// so the clone follows the schema as it changes. Those devices then connect for real with Mdm-Signature.
//
// The caller checks with tableCounts() that a real enrollment writes no row elsewhere that cloning would miss.
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import type { BenchDevice } from "./bench-device.ts";
import { pushMagicOf, pushTokenOf } from "./checkin-enrollment.ts";

export interface EnrollmentCloner {
  /** Row count of every table. */
  tableCounts(): Promise<Record<string, number>>;
  /** Inserts one enrollment per device, copied from the enrollment `templateId`. */
  clone(templateId: string, devices: readonly BenchDevice[]): Promise<void>;
  close(): Promise<void>;
}

type Row = Record<string, unknown>;

/** What differs from one device's enrollment row to another's: exactly what its check-ins carried. */
function overrides(d: BenchDevice, now: number): Row {
  return {
    id: d.udid,
    device_id: d.udid,
    udid: d.udid,
    serial_number: d.serial,
    device_name: `bench ${d.serial}`,
    cert_fingerprint: d.fingerprint,
    push_token: pushTokenOf(d.udid).toString("hex"),
    push_magic: pushMagicOf(d.udid),
    created_at: now,
    updated_at: now,
    authenticated_at: now,
    activated_at: now,
    last_seen_at: now,
  };
}

function rowsFor(template: Row, devices: readonly BenchDevice[]): { columns: string[]; rows: unknown[][] } {
  const now = Date.now();
  const columns = Object.keys(template);
  const missing = Object.keys(overrides(devices[0]!, now)).filter((c) => !columns.includes(c));
  if (missing.length) throw new Error(`the enrollments table has no column ${missing.join(", ")}: update bench/lib/enrollment-clone.ts`);
  if (template.status !== "active") throw new Error(`the template enrollment is ${String(template.status)}, not active`);
  return { columns, rows: devices.map((d) => Object.values({ ...template, ...overrides(d, now) })) };
}

export function sqliteCloner(path: string): EnrollmentCloner {
  const db = new BetterSqlite3(path, { fileMustExist: true });
  db.pragma("busy_timeout = 10000");
  return {
    async tableCounts() {
      const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all();
      return Object.fromEntries(tables.map((t) => [t.name, (db.prepare(`SELECT count(*) AS n FROM "${t.name}"`).get() as { n: number }).n]));
    },
    async clone(templateId, devices) {
      const template = db.prepare("SELECT * FROM enrollments WHERE id = ?").get(templateId) as Row | undefined;
      if (!template) throw new Error(`no enrollment ${templateId} to clone`);
      const { columns, rows } = rowsFor(template, devices);
      const insert = db.prepare(`INSERT INTO enrollments (${columns.map((c) => `"${c}"`).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`);
      db.transaction(() => {
        for (const r of rows) insert.run(...r);
      })();
    },
    async close() {
      db.close();
    },
  };
}

export function postgresCloner(url: string): EnrollmentCloner {
  const client = new pg.Client({ connectionString: url });
  const connected = client.connect();
  return {
    async tableCounts() {
      await connected;
      const tables = await client.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'");
      const out: Record<string, number> = {};
      for (const { table_name } of tables.rows) out[table_name] = Number((await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${table_name}"`)).rows[0]!.n);
      return out;
    },
    async clone(templateId, devices) {
      await connected;
      const template = (await client.query<Row>("SELECT * FROM enrollments WHERE id = $1", [templateId])).rows[0];
      if (!template) throw new Error(`no enrollment ${templateId} to clone`);
      const { columns, rows } = rowsFor(template, devices);
      const chunk = Math.floor(30_000 / columns.length);
      await client.query("BEGIN");
      try {
        for (let i = 0; i < rows.length; i += chunk) {
          const part = rows.slice(i, i + chunk);
          const values = part.map((_, r) => `(${columns.map((_, c) => `$${r * columns.length + c + 1}`).join(", ")})`).join(", ");
          await client.query(`INSERT INTO enrollments (${columns.map((c) => `"${c}"`).join(", ")}) VALUES ${values}`, part.flat());
        }
        await client.query("COMMIT");
      } catch (e) {
        await client.query("ROLLBACK").catch(() => {});
        throw e;
      }
    },
    async close() {
      await client.end().catch(() => {});
    },
  };
}
