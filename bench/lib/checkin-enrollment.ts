// Enrolls devices that already hold an identity certificate: Authenticate, then TokenUpdate, each a real
// check-in over HTTP signed with Mdm-Signature, as a device does right after installing the profile.
import { createHash } from "node:crypto";
import { Agent } from "node:http";
import { buildPlist, type PlistDict } from "../../src/wire/plist.ts";
import type { BenchDevice } from "./bench-device.ts";
import { httpCall } from "./load.ts";

export const BENCH_TOPIC = "com.apple.mgmt.External.0d5bench-0000-4000-8000-000000000000";

export async function checkin(agent: Agent, base: URL, device: BenchDevice, msg: PlistDict): Promise<void> {
  const body = Buffer.from(buildPlist(msg));
  const res = await httpCall(agent, base, { method: "PUT", path: "/mdm/checkin", headers: { "content-type": "application/x-apple-aspen-mdm-checkin", "mdm-signature": device.sign(body) }, body });
  if (res.status !== 200) throw new Error(`${String(msg.MessageType)} for ${device.udid}: HTTP ${res.status} ${res.body.toString().slice(0, 200)}`);
}

/** The two check-ins of a new enrollment. Push token and magic derive from the UDID, so they are reproducible. */
export async function authenticateAndActivate(agent: Agent, base: URL, device: BenchDevice): Promise<void> {
  await checkin(agent, base, device, {
    MessageType: "Authenticate",
    UDID: device.udid,
    Topic: BENCH_TOPIC,
    Model: "iPhone15,2",
    ModelName: "iPhone",
    ProductName: "iPhone15,2",
    OSVersion: "17.4",
    BuildVersion: "21E219",
    SerialNumber: device.serial,
    DeviceName: `bench ${device.serial}`,
  });
  await checkin(agent, base, device, { MessageType: "TokenUpdate", UDID: device.udid, Topic: BENCH_TOPIC, Token: pushTokenOf(device.udid), PushMagic: pushMagicOf(device.udid) });
}

export function pushTokenOf(udid: string): Buffer {
  return createHash("sha256").update(`token:${udid}`).digest();
}

export function pushMagicOf(udid: string): string {
  return createHash("sha256").update(`magic:${udid}`).digest("hex").slice(0, 32).toUpperCase();
}

/**
 * Runs `work` for every item with `concurrency` in flight. Bounded: each item once, and the whole run is
 * abandoned with an error after `deadlineMs`.
 */
export async function forEachConcurrently<T>(items: readonly T[], concurrency: number, deadlineMs: number, work: (item: T, index: number) => Promise<void>): Promise<number> {
  const start = performance.now();
  const deadline = start + deadlineMs;
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      // After one failure the others stop taking work, so nothing runs on after the caller has moved on.
      while (!failed) {
        const i = next++;
        if (i >= items.length) return;
        try {
          if (performance.now() > deadline) throw new Error(`gave up after ${Math.round(deadlineMs / 1000)} s with ${i} of ${items.length} done`);
          await work(items[i]!, i);
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    }),
  );
  return (performance.now() - start) / 1000;
}

/** Authenticate + TokenUpdate for every device; returns the wall-clock seconds. */
export async function enrollByCheckin(url: string, devices: readonly BenchDevice[], concurrency: number, deadlineMs: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const base = new URL(url);
  try {
    return await forEachConcurrently(devices, concurrency, deadlineMs, (d) => authenticateAndActivate(agent, base, d));
  } finally {
    agent.destroy();
  }
}
