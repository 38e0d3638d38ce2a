// Enrolls devices the way an Apple device does after installing the enrollment profile: SCEP (PKCSReq with
// the profile's challenge) for an RSA-2048 identity, then Authenticate and TokenUpdate signed with it. Keys
// come from a small pool: RSA key generation would otherwise dominate, and it is the device's cost, not the
// server's.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { Agent } from "node:http";
import { ScepClient } from "../../sim/scep-client.ts";
import type { RandomSource } from "../../sim/seeded-random.ts";
import { parsePlist } from "../../src/wire/plist.ts";
import { apiCall } from "./admin-api.ts";
import { benchDevice, type BenchDevice } from "./bench-device.ts";
import { authenticateAndActivate, forEachConcurrently } from "./checkin-enrollment.ts";

export async function createProfile(url: string, token: string, name: string): Promise<{ id: string; challenge: string }> {
  const created = await apiCall(url, "POST", "/api/v1/enrollment-profiles", { token, json: { name } });
  if (created.status !== 201 && created.status !== 200) throw new Error(`creating the enrollment profile: HTTP ${created.status} ${created.body.toString().slice(0, 300)}`);
  const p = created.json<{ id: string }>();
  const res = await apiCall(url, "GET", `/api/v1/enrollment-profiles/${p.id}/mobileconfig?signed=false`, { token });
  if (res.status !== 200) throw new Error(`fetching the enrollment profile: HTTP ${res.status}`);
  const profile = parsePlist(new Uint8Array(res.body)) as { PayloadContent: Array<{ PayloadType: string; PayloadContent?: { Challenge?: string } }> };
  const scep = profile.PayloadContent.find((p) => p.PayloadType === "com.apple.security.scep");
  const challenge = scep?.PayloadContent?.Challenge;
  if (!challenge) throw new Error("the enrollment profile has no SCEP payload with a challenge");
  return { id: p.id, challenge };
}

export function rsaKeyPool(size: number): KeyObject[] {
  return Array.from({ length: size }, () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey);
}

/** SCEP + Authenticate + TokenUpdate for `count` devices, `concurrency` at a time; returns them and the wall-clock seconds. */
export async function enrollByScep(
  url: string,
  challenge: string,
  count: number,
  concurrency: number,
  keys: readonly KeyObject[],
  rnd: RandomSource,
  deadlineMs: number,
): Promise<{ devices: BenchDevice[]; seconds: number }> {
  const scep = new ScepClient({ url: `${url}/scep` });
  await scep.getCaCaps();
  await scep.getCaCert();
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const base = new URL(url);
  const planned = Array.from({ length: count }, (_, i) => ({ udid: rnd.uuid(), serial: `SCEP${i.toString(36).toUpperCase().padStart(7, "0")}`, key: keys[i % keys.length]! }));
  const devices: BenchDevice[] = new Array(count);
  try {
    const seconds = await forEachConcurrently(planned, concurrency, deadlineMs, async (p, i) => {
      const r = await scep.enroll({ key: p.key, subject: `CN=${p.udid}`, challenge });
      if (r.status !== "SUCCESS" || !r.certDer) throw new Error(`SCEP enrollment failed: ${r.status} ${r.failInfo ?? ""}`);
      const device = benchDevice(p.udid, p.serial, "rsa-2048-scep", r.certDer, p.key);
      await authenticateAndActivate(agent, base, device);
      devices[i] = device;
    });
    return { devices, seconds };
  } finally {
    agent.destroy();
  }
}
