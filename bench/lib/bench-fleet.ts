// Enrolls a benchmark fleet against a running server over its public protocols: one enrollment profile,
// SCEP for each device's identity (keys drawn from a small pool, since RSA key generation would otherwise
// dominate), then Authenticate and TokenUpdate signed with Mdm-Signature.
import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { Agent } from "node:http";
import { ScepClient } from "../../sim/scep-client.ts";
import { createMdmBodySigner, type MdmBodySigner } from "../../src/pki/mdm-signature-sign.ts";
import { buildPlist, parsePlist, type PlistDict } from "../../src/wire/plist.ts";
import { httpCall } from "./load.ts";

export interface BenchDevice {
  udid: string;
  sign: MdmBodySigner;
  /** A pre-signed Idle report: its bytes never change, so neither does its signature. */
  idle: { body: Buffer; signature: string };
}

export async function createProfile(url: string, token: string, name: string): Promise<{ id: string; challenge: string }> {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const p = (await (await fetch(`${url}/api/v1/enrollment-profiles`, { method: "POST", headers, body: JSON.stringify({ name }) })).json()) as { id: string };
  const raw = new Uint8Array(await (await fetch(`${url}/api/v1/enrollment-profiles/${p.id}/mobileconfig?signed=false`, { headers })).arrayBuffer());
  const profile = parsePlist(raw) as { PayloadContent: Array<{ PayloadContent: { Challenge: string } }> };
  return { id: p.id, challenge: profile.PayloadContent[1]!.PayloadContent.Challenge };
}

export function keyPool(size: number): KeyObject[] {
  return Array.from({ length: size }, () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey);
}

/** Enrolls `count` devices with `concurrency` in flight; returns them and the enrollment rate. */
export async function enrollFleet(url: string, challenge: string, count: number, concurrency: number, keys: KeyObject[]): Promise<{ devices: BenchDevice[]; perSecond: number }> {
  const scep = new ScepClient({ url: `${url}/scep` });
  await scep.getCaCert();
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const base = new URL(url);
  const devices: BenchDevice[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        const key = keys[i % keys.length]!;
        const udid = randomUUID().toUpperCase();
        const r = await scep.enroll({ key, subject: `CN=${udid}`, challenge });
        if (r.status !== "SUCCESS" || !r.certDer) throw new Error(`SCEP failed: ${r.status} ${r.failInfo ?? ""}`);
        const sign = createMdmBodySigner(r.certDer, key, { digest: "sha256" });
        const send = async (msg: PlistDict) => {
          const body = Buffer.from(buildPlist(msg));
          const res = await httpCall(agent, base, { method: "PUT", path: "/mdm/checkin", headers: { "content-type": "application/x-apple-aspen-mdm-checkin", "mdm-signature": sign(body) }, body });
          if (res.status !== 200) throw new Error(`${msg.MessageType as string}: HTTP ${res.status} ${res.body.toString()}`);
        };
        await send({ MessageType: "Authenticate", UDID: udid, Topic: "com.apple.mgmt.bench", Model: "iPhone15,2", ModelName: "iPhone", ProductName: "iPhone15,2", OSVersion: "17.4", BuildVersion: "21E219", SerialNumber: `B${i}`, DeviceName: `bench-${i}` });
        await send({ MessageType: "TokenUpdate", UDID: udid, Topic: "com.apple.mgmt.bench", Token: new Uint8Array(32).fill(i % 251), PushMagic: randomUUID() });
        const idleBody = Buffer.from(buildPlist({ UDID: udid, Status: "Idle" }));
        devices.push({ udid, sign, idle: { body: idleBody, signature: sign(idleBody) } });
      }
    }),
  );
  agent.destroy();
  return { devices, perSecond: count / ((performance.now() - start) / 1000) };
}
