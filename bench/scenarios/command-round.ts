// A command round: one DeviceInformation command queued to N enrollments through POST /api/v1/commands,
// then every device connects (signed Idle), receives it, answers Acknowledged with its QueryResponses (signed)
// and is told there is nothing more; finally GET /api/v1/commands/{uuid} must show every target acknowledged.
// The acknowledgements are signed after the command is queued and before the round starts (their bytes
// hold the CommandUUID), so that the round times the server rather than the devices' signing.
import { Agent } from "node:http";
import { buildPlist } from "../../src/wire/plist.ts";
import type { BenchDevice } from "../lib/bench-device.ts";
import { forEachConcurrently } from "../lib/checkin-enrollment.ts";
import { apiCall } from "../lib/admin-api.ts";
import { httpCall } from "../lib/load.ts";
import type { ServerMeters } from "../lib/server-meters.ts";

export interface RoundResult {
  targets: number;
  /** POST /api/v1/commands for all targets. */
  queueSeconds: number;
  /** Client-side signing of the acknowledgements (not part of the round). */
  signSeconds: number;
  /** From the first Idle to the last acknowledgement stored. */
  roundSeconds: number;
  devicesPerSecond: number;
  /** Orchard's CPU per device (an Idle that delivers the command + an Acknowledged that stores the result). */
  serverCpuUsPerDevice: number;
  databaseCpuUsPerDevice?: number;
  /** GET /api/v1/commands/{uuid}. */
  verifySeconds: number;
  acknowledged: number;
  /** Result rows stored: bytes the database grew by, per result. */
  databaseBytesPerResult: number;
  /** Server RSS when the last result was stored, before the status fetch. */
  rssAfterRoundBytes: number;
  /** Size of the GET /api/v1/commands/{uuid} answer. */
  statusResponseBytes: number;
}

const QUERIES = ["DeviceName", "OSVersion", "SerialNumber"];

export async function commandRound(url: string, adminToken: string, meters: ServerMeters, devices: readonly BenchDevice[], concurrency: number, deadlineMs: number): Promise<RoundResult> {
  const bytes0 = await meters.databaseBytes();
  let t = performance.now();
  const queued = await apiCall(url, "POST", "/api/v1/commands", { token: adminToken, json: { targets: devices.map((d) => d.udid), requestType: "DeviceInformation", params: { Queries: QUERIES } } });
  const queueSeconds = (performance.now() - t) / 1000;
  if (queued.status !== 201) throw new Error(`queueing the command: HTTP ${queued.status} ${queued.body.toString().slice(0, 300)}`);
  const { commandUuid, targets } = queued.json<{ commandUuid: string; targets: number }>();
  if (targets !== devices.length) throw new Error(`queued to ${targets} targets, expected ${devices.length}`);

  t = performance.now();
  const acks = devices.map((d) => {
    const body = Buffer.from(buildPlist({ UDID: d.udid, Status: "Acknowledged", CommandUUID: commandUuid, QueryResponses: { DeviceName: `bench ${d.serial}`, OSVersion: "17.4", SerialNumber: d.serial } }));
    return { body, signature: d.sign(body) };
  });
  const signSeconds = (performance.now() - t) / 1000;

  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const base = new URL(url);
  const before = await meters.read();
  let roundSeconds: number;
  try {
    roundSeconds = await forEachConcurrently(devices, concurrency, deadlineMs, async (d, i) => {
      const got = await httpCall(agent, base, { method: "PUT", path: "/mdm/connect", headers: { "mdm-signature": d.idle.signature }, body: d.idle.body });
      if (got.status !== 200 || !got.body.includes(commandUuid)) throw new Error(`${d.udid} Idle: HTTP ${got.status}, expected the command ${commandUuid} (${got.body.toString().slice(0, 200)})`);
      const ack = acks[i]!;
      const done = await httpCall(agent, base, { method: "PUT", path: "/mdm/connect", headers: { "mdm-signature": ack.signature }, body: ack.body });
      if (done.status !== 200 || done.body.length !== 0) throw new Error(`${d.udid} Acknowledged: HTTP ${done.status} ${done.body.toString().slice(0, 200)}`);
    });
  } finally {
    agent.destroy();
  }
  const after = await meters.read();

  const rssAfterRound = meters.rssBytes();
  t = performance.now();
  const status = await apiCall(url, "GET", `/api/v1/commands/${commandUuid}`, { token: adminToken });
  if (status.status !== 200) throw new Error(`GET /api/v1/commands/${commandUuid}: HTTP ${status.status}`);
  const report = status.json<{ targets: Array<{ enrollmentId: string; status: string }> }>();
  const verifySeconds = (performance.now() - t) / 1000;
  const expected = new Set(devices.map((d) => d.udid));
  const acknowledged = report.targets.filter((x) => x.status === "acknowledged" && expected.delete(x.enrollmentId)).length;
  if (acknowledged !== devices.length || report.targets.length !== devices.length) {
    throw new Error(`command ${commandUuid}: ${acknowledged} of ${devices.length} targets acknowledged (${report.targets.length} reported)`);
  }
  const n = devices.length;
  return {
    targets: n,
    queueSeconds,
    signSeconds,
    roundSeconds,
    devicesPerSecond: n / roundSeconds,
    serverCpuUsPerDevice: ((after.serverCpu - before.serverCpu) * 1e6) / n,
    ...(after.databaseCpu !== undefined && before.databaseCpu !== undefined ? { databaseCpuUsPerDevice: ((after.databaseCpu - before.databaseCpu) * 1e6) / n } : {}),
    verifySeconds,
    acknowledged,
    databaseBytesPerResult: ((await meters.databaseBytes()) - bytes0) / n,
    rssAfterRoundBytes: rssAfterRound,
    statusResponseBytes: status.body.length,
  };
}
