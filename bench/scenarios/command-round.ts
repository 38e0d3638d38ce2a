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
  /** GET /api/v1/commands/{uuid}: the counts by state (first page). */
  verifySeconds: number;
  /** Every target's state, page by page (5,000 a page), checked one by one. */
  verifyAllPagesSeconds: number;
  acknowledged: number;
  /** Result rows stored: bytes the database grew by, per result. */
  databaseBytesPerResult: number;
  /** Server RSS when the last result was stored, before the status fetch. */
  rssAfterRoundBytes: number;
  /** Size of the largest GET /api/v1/commands/{uuid} answer. */
  statusResponseBytes: number;
}

const QUERIES = ["DeviceName", "OSVersion", "SerialNumber"];

export async function commandRound(
  url: string,
  adminToken: string,
  meters: ServerMeters,
  devices: readonly BenchDevice[],
  concurrency: number,
  deadlineMs: number,
  /** Called when every result is stored, before the status fetch (e.g. to read the server's memory). */
  beforeStatus: () => Promise<void> = async () => {},
): Promise<RoundResult> {
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
  await beforeStatus();
  const status = await verifyAcknowledged(url, adminToken, commandUuid, devices);
  const n = devices.length;
  return {
    targets: n,
    queueSeconds,
    signSeconds,
    roundSeconds,
    devicesPerSecond: n / roundSeconds,
    serverCpuUsPerDevice: ((after.serverCpu - before.serverCpu) * 1e6) / n,
    ...(after.databaseCpu !== undefined && before.databaseCpu !== undefined ? { databaseCpuUsPerDevice: ((after.databaseCpu - before.databaseCpu) * 1e6) / n } : {}),
    verifySeconds: status.countsSeconds,
    verifyAllPagesSeconds: status.pagesSeconds,
    acknowledged: status.acknowledged,
    databaseBytesPerResult: ((await meters.databaseBytes()) - bytes0) / n,
    rssAfterRoundBytes: rssAfterRound,
    statusResponseBytes: status.largestAnswerBytes,
  };
}

interface StatusPage {
  total?: number;
  counts?: Record<string, number>;
  targets: Array<{ enrollmentId: string; status: string }>;
  nextCursor?: string | null;
}

const PAGE = 5_000;
const MAX_PAGES = 1_000;

/**
 * Checks through GET /api/v1/commands/{uuid} that every target acknowledged: the counts by state first, then
 * every target page by page. (A server without paging answers every target at once; that is checked the same.)
 */
async function verifyAcknowledged(url: string, token: string, uuid: string, devices: readonly BenchDevice[]) {
  let t = performance.now();
  const first = await apiCall(url, "GET", `/api/v1/commands/${uuid}?limit=${PAGE}`, { token });
  if (first.status !== 200) throw new Error(`GET /api/v1/commands/${uuid}: HTTP ${first.status} ${first.body.toString().slice(0, 200)}`);
  let page = first.json<StatusPage>();
  const countsSeconds = (performance.now() - t) / 1000;
  if (page.counts !== undefined && (page.total !== devices.length || page.counts.acknowledged !== devices.length)) {
    throw new Error(`command ${uuid}: ${page.counts.acknowledged ?? 0} of ${devices.length} targets acknowledged (total ${page.total ?? "?"}: ${JSON.stringify(page.counts)})`);
  }
  const expected = new Set(devices.map((d) => d.udid));
  let acknowledged = 0;
  let seen = 0;
  let largestAnswerBytes = first.body.length;
  t = performance.now();
  for (let i = 0; ; i++) {
    for (const x of page.targets) {
      seen++;
      if (x.status === "acknowledged" && expected.delete(x.enrollmentId)) acknowledged++;
    }
    if (!page.nextCursor) break;
    if (i >= MAX_PAGES) throw new Error(`command ${uuid}: more than ${MAX_PAGES} pages of targets`);
    const next = await apiCall(url, "GET", `/api/v1/commands/${uuid}?limit=${PAGE}&cursor=${encodeURIComponent(page.nextCursor)}`, { token });
    if (next.status !== 200) throw new Error(`GET /api/v1/commands/${uuid} (cursor): HTTP ${next.status}`);
    largestAnswerBytes = Math.max(largestAnswerBytes, next.body.length);
    page = next.json<StatusPage>();
  }
  const pagesSeconds = countsSeconds + (performance.now() - t) / 1000;
  if (acknowledged !== devices.length || seen !== devices.length) {
    throw new Error(`command ${uuid}: ${acknowledged} of ${devices.length} targets acknowledged (${seen} listed)`);
  }
  return { countsSeconds, pagesSeconds, acknowledged, largestAnswerBytes };
}
