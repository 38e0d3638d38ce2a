// What the bench reads off the server under test: Orchard's CPU and memory, and (on PostgreSQL) the CPU of the
// database backends serving it, with the database's size.
import { join } from "node:path";
import { serverHeapUsedBytes } from "./admin-api.ts";
import type { BenchServer } from "./server-process.ts";
import type { ScratchDatabase } from "./postgres-scratch.ts";
import { sqliteSizeBytes } from "./database-size.ts";

export interface MeterReading {
  serverCpu: number;
  databaseCpu?: number;
}

export interface ServerMeters {
  read(): Promise<MeterReading>;
  rssBytes(): number;
  /** V8 heap in use, from /metrics: RSS minus this is native memory (OpenSSL objects, buffers) and allocator slack. */
  heapUsedBytes(): Promise<number | undefined>;
  databaseBytes(): Promise<number>;
}

export function serverMeters(server: BenchServer, pg?: ScratchDatabase): ServerMeters {
  return {
    async read() {
      const serverCpu = server.cpuSeconds();
      return pg ? { serverCpu, databaseCpu: await pg.backendCpuSeconds() } : { serverCpu };
    },
    rssBytes: () => server.rssBytes(),
    heapUsedBytes: () => serverHeapUsedBytes(server.url),
    databaseBytes: async () => (pg ? pg.sizeBytes() : sqliteSizeBytes(join(server.dataDir, "orchard.db"))),
  };
}
