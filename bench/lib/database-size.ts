// The SQLite database's size as SQLite itself counts it (pages in use, including what still sits in the WAL),
// read through a read-only connection that never blocks the server's writer.
import BetterSqlite3 from "better-sqlite3";

export function sqliteSizeBytes(path: string): number {
  const db = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  try {
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const pages = db.pragma("page_count", { simple: true }) as number;
    const free = db.pragma("freelist_count", { simple: true }) as number;
    return (pages - free) * pageSize;
  } finally {
    db.close();
  }
}
