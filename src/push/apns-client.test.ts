// The APNs client against the local APNs endpoint over real HTTP/2 + TLS with client certificates:
// headers and body as Apple specifies, refusals classified, reconnection after a killed or GOAWAY'd connection.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApnsDev, type ApnsDev } from "./apns-dev/apns-dev.ts";
import { issuePushCertificate, type IssuedPushCertificate } from "./apns-dev/authority.ts";
import { ApnsClient, type PushIdentity } from "./apns-client.ts";
import { classifyApnsResult } from "./apns-response.ts";
import { createCa } from "../pki/ca.ts";
import { certificateFingerprint, pemToDer } from "../pki/pem.ts";

const token = (n: number) => n.toString(16).padStart(64, "0");

function identityOf(c: IssuedPushCertificate): PushIdentity {
  return { topic: c.topic, fingerprint: certificateFingerprint(pemToDer(c.certPem)), certPem: c.certPem, keyPem: c.keyPem };
}

describe("APNs client against the local APNs endpoint", () => {
  let dev: ApnsDev;
  let cert: IssuedPushCertificate;
  let client: ApnsClient;

  beforeAll(async () => {
    dev = await startApnsDev({ devicePort: false });
    cert = await issuePushCertificate(dev.authority.ca);
    client = new ApnsClient({ url: dev.url, extraCaPem: [dev.caPem], expirationSeconds: 3600, pingIntervalMs: 0 });
  });
  afterAll(async () => {
    await client.close();
    await dev.close();
  });

  it("uses Apple's production gateway, the development one for UseDevelopmentAPNS, or the override for both", () => {
    const apple = new ApnsClient({ expirationSeconds: 60 });
    expect(apple.gatewayFor(false)).toBe("https://api.push.apple.com");
    expect(apple.gatewayFor(true)).toBe("https://api.sandbox.push.apple.com");
    expect(client.gatewayFor(true)).toBe(dev.url);
    expect(client.gatewayFor(false)).toBe(dev.url);
  });

  it("sends an MDM push with Apple's headers and body, over one connection", async () => {
    const before = dev.apns.lastSeq;
    const nowS = Math.floor(Date.now() / 1000);
    const r = await client.send(identityOf(cert), false, token(1), "MAGIC-1");
    expect(r).toMatchObject({ status: 200 });
    expect(r.apnsId).toMatch(/^[0-9A-F-]{36}$/);
    const [p] = dev.apns.pushes({ afterSeq: before });
    expect(p).toMatchObject({ token: token(1), topic: cert.topic, pushMagic: "MAGIC-1", status: 200, body: '{"mdm":"MAGIC-1"}' });
    expect(p!.headers).toMatchObject({ "apns-push-type": "mdm", "apns-topic": cert.topic, "apns-priority": "10" });
    const exp = Number(p!.headers["apns-expiration"]);
    expect(exp).toBeGreaterThanOrEqual(nowS + 3600);
    expect(exp).toBeLessThanOrEqual(nowS + 3602);
    expect(p!.certificateSubject).toContain("APSP:");
  });

  it("multiplexes many concurrent pushes on the connection", async () => {
    const before = dev.apns.stats.connections;
    const results = await Promise.all(Array.from({ length: 2000 }, (_, i) => client.send(identityOf(cert), false, token(1000 + i), `M${i}`)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(dev.apns.stats.connections).toBe(before);
  });

  it("classifies refusals: 410 Unregistered and BadDeviceToken mark the token bad, 429/5xx retry, 403 is a certificate alert", async () => {
    dev.apns.unregister(token(7));
    const gone = await client.send(identityOf(cert), false, token(7), "M");
    expect(gone).toMatchObject({ status: 410, reason: "Unregistered" });
    expect(typeof gone.timestamp).toBe("number");
    expect(classifyApnsResult(gone)).toBe("bad_token");
    const bad = await client.send(identityOf(cert), false, "zz", "M");
    expect(bad).toMatchObject({ status: 400, reason: "BadDeviceToken" });
    expect(classifyApnsResult(bad)).toBe("bad_token");
    dev.apns.fail(token(8), 429, "TooManyRequests");
    const busy = await client.send(identityOf(cert), false, token(8), "M");
    expect(busy).toMatchObject({ status: 429, reason: "TooManyRequests" });
    expect(classifyApnsResult(busy)).toBe("retry");
    expect((await client.send(identityOf(cert), false, token(8), "M")).status).toBe(200);
    dev.apns.fail(token(9), 503, "ServiceUnavailable");
    expect(classifyApnsResult(await client.send(identityOf(cert), false, token(9), "M"))).toBe("retry");
  });

  it("is refused a topic its certificate does not carry, and a certificate from an untrusted CA", async () => {
    const other = await issuePushCertificate(dev.authority.ca);
    const wrongTopic = await client.send({ ...identityOf(other), topic: cert.topic }, false, token(11), "M");
    expect(wrongTopic).toMatchObject({ status: 400, reason: "TopicDisallowed" });
    expect(classifyApnsResult(wrongTopic)).toBe("rejected");
    const stranger = await issuePushCertificate(await createCa({ subject: "CN=Stranger CA" }));
    const refused = await client.send(identityOf(stranger), false, token(12), "M");
    expect(refused).toMatchObject({ status: 403, reason: "BadCertificate" });
    expect(classifyApnsResult(refused)).toBe("certificate");
  });

  it("reconnects after the connection is killed, and after GOAWAY, without losing pushes", async () => {
    expect((await client.send(identityOf(cert), false, token(20), "M")).status).toBe(200);
    const dialled = client.connects;
    expect(dev.apns.killConnections()).toBeGreaterThan(0);
    expect((await client.send(identityOf(cert), false, token(21), "M")).status).toBe(200);
    expect(client.connects).toBe(dialled + 1);
    // Killed while pushes are in flight: each is retried on a new connection and answered.
    const inFlight = Array.from({ length: 200 }, (_, i) => client.send(identityOf(cert), false, token(300 + i), "M"));
    setImmediate(() => dev.apns.killConnections());
    const results = await Promise.all(inFlight);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    dev.apns.goAway();
    await new Promise((r) => setTimeout(r, 50));
    expect((await client.send(identityOf(cert), false, token(22), "M")).status).toBe(200);
  });
});
