// The device side of the local APNs endpoint, as a virtual device in another process uses it: Server-Sent
// Events per token (and resuming with Last-Event-ID), long-polling, and the control routes (unregister, faults).
import { get, type IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApnsClient, type PushIdentity } from "../apns-client.ts";
import { certificateFingerprint, pemToDer } from "../../pki/pem.ts";
import { startApnsDev, type ApnsDev } from "./apns-dev.ts";
import { issuePushCertificate } from "./authority.ts";
import type { DevicePush } from "./device-feed.ts";

const token = (n: number) => n.toString(16).padStart(64, "a");

/** Reads SSE `push` events from a response until `count` arrived. */
function readEvents(res: IncomingMessage, count: number): Promise<Array<{ id: string; data: DevicePush }>> {
  return new Promise((resolve, reject) => {
    const out: Array<{ id: string; data: DevicePush }> = [];
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`only ${out.length} events`)), 5000);
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const fields = Object.fromEntries(block.split("\n").filter((l) => !l.startsWith(":") && l.includes(": ")).map((l) => [l.slice(0, l.indexOf(": ")), l.slice(l.indexOf(": ") + 2)]));
        if (fields.event === "push") out.push({ id: fields.id!, data: JSON.parse(fields.data!) as DevicePush });
        if (out.length === count) {
          clearTimeout(timer);
          res.destroy();
          resolve(out);
        }
      }
    });
  });
}

function open(url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => get(url, { headers }, resolve).on("error", reject));
}

describe("local APNs device feed", () => {
  let dev: ApnsDev;
  let client: ApnsClient;
  let identity: PushIdentity;
  beforeAll(async () => {
    dev = await startApnsDev({ devicePort: 0 });
    const cert = await issuePushCertificate(dev.authority.ca);
    identity = { topic: cert.topic, fingerprint: certificateFingerprint(pemToDer(cert.certPem)), certPem: cert.certPem, keyPem: cert.keyPem };
    client = new ApnsClient({ url: dev.url, extraCaPem: [dev.caPem], expirationSeconds: 60, pingIntervalMs: 0 });
  });
  afterAll(async () => {
    await client.close();
    await dev.close();
  });

  it("streams the pushes for a token as Server-Sent Events, and resumes after Last-Event-ID", async () => {
    const res = await open(`${dev.feed!.url}/v1/events?token=${token(1).toUpperCase()}`);
    expect(res.headers["content-type"]).toBe("text/event-stream");
    const events = readEvents(res, 2);
    await client.send(identity, false, token(2), "OTHER");
    await client.send(identity, false, token(1), "MAGIC-A");
    await client.send(identity, false, token(1), "MAGIC-B");
    const got = await events;
    expect(got.map((e) => e.data.pushMagic)).toEqual(["MAGIC-A", "MAGIC-B"]);
    expect(got[0]!.data).toMatchObject({ token: token(1), topic: identity.topic });
    // A device that reconnects with the last id it saw gets what it missed.
    await client.send(identity, false, token(1), "MAGIC-C");
    const again = await open(`${dev.feed!.url}/v1/events?token=${token(1)}`, { "last-event-id": got[1]!.id });
    expect((await readEvents(again, 1))[0]!.data.pushMagic).toBe("MAGIC-C");
  });

  it("long-polls for pushes, and lets a device unregister its token and inject faults", async () => {
    const since = dev.apns.lastSeq;
    const waiting = fetch(`${dev.feed!.url}/v1/pushes?token=${token(3)}&since=${since}&wait=3000`).then((r) => r.json() as Promise<{ pushes: DevicePush[]; next: number }>);
    await new Promise((r) => setTimeout(r, 50));
    await client.send(identity, false, token(3), "POLLED");
    const polled = await waiting;
    expect(polled.pushes.map((p) => p.pushMagic)).toEqual(["POLLED"]);
    expect(polled.next).toBeGreaterThan(since);

    expect((await fetch(`${dev.feed!.url}/v1/tokens/${token(3)}/unregister`, { method: "POST" })).status).toBe(200);
    expect(await client.send(identity, false, token(3), "M")).toMatchObject({ status: 410, reason: "Unregistered" });
    await fetch(`${dev.feed!.url}/v1/tokens/${token(3)}/register`, { method: "POST" });
    expect((await client.send(identity, false, token(3), "M")).status).toBe(200);

    const fault = await fetch(`${dev.feed!.url}/v1/faults`, { method: "POST", body: JSON.stringify({ token: token(4), status: 503, reason: "ServiceUnavailable", times: 1 }) });
    expect(fault.status).toBe(200);
    expect(await client.send(identity, false, token(4), "M")).toMatchObject({ status: 503, reason: "ServiceUnavailable" });
    expect((await client.send(identity, false, token(4), "M")).status).toBe(200);
    expect((await fetch(`${dev.feed!.url}/v1/faults`, { method: "POST", body: JSON.stringify({ status: 200 }) })).status).toBe(400);
    const ca = await (await fetch(`${dev.feed!.url}/v1/ca.pem`)).text();
    expect(ca).toBe(dev.caPem);
  });
});
