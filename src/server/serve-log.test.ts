// What `orchard serve` says in its log: where it listens, with the right scheme per port, and a device's
// lifecycle at info.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../config.ts";
import { createLogger } from "../log/logger.ts";
import { startServer, type RunningServer } from "./serve.ts";

let dir: string;
let server: RunningServer;
let logs = "";
const lines = () => logs.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string } & Record<string, unknown>);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "orchard-serve-log-"));
  const config = { ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_MASTER_KEY: randomBytes(32).toString("base64"), ORCHARD_PUBLIC_URL: "https://localhost:8443" }), httpsPort: 0, httpPort: 0, host: "127.0.0.1" };
  const sink = new Writable({ write(chunk, _enc, cb) { logs += chunk.toString(); cb(); } });
  server = await startServer(config, { logger: createLogger("info", sink) });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it("says https:// for the HTTPS port and http:// for the plain one", () => {
  const listening = lines().filter((l) => l.msg.startsWith("Server listening at")).map((l) => l.msg);
  expect(listening).toEqual([`Server listening at https://127.0.0.1:${server.httpsPort}`, `Server listening at http://127.0.0.1:${server.httpPort} (plain HTTP)`]);
});

it("logs a device's enrollment, identity change and check-out at info", async () => {
  const events = server.ctx.events;
  events.emit("enrollment.authenticated", { enrollmentId: "UDID-1", deviceId: "UDID-1", serialNumber: "C02X", enrollmentProfileId: null, reenrollment: false });
  events.emit("enrollment.activated", { enrollmentId: "UDID-1", deviceId: "UDID-1", channel: "device" });
  events.emit("enrollment.identity_rebound", { enrollmentId: "UDID-1", previousFingerprint: "aa", fingerprint: "bb" });
  events.emit("enrollment.checked_out", { enrollmentId: "UDID-1", deviceId: "UDID-1" });
  await events.drain();
  const lifecycle = lines().filter((l) => l.enrollmentId === "UDID-1");
  expect(lifecycle.map((l) => [l.level, l.msg])).toEqual([
    [30, "device authenticated (enrolling)"],
    [30, "device enrolled"],
    [30, "device identity certificate changed"],
    [30, "device checked out (unenrolled)"],
  ]);
  expect(lifecycle[0]).toMatchObject({ serialNumber: "C02X", reenrollment: false });
});
