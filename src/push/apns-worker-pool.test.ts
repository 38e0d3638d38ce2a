// The push worker pool against the local APNs endpoint (real HTTP/2 + TLS in worker threads): answers reach the
// push they belong to, a dead worker's pushes end without an answer (so the dispatcher retries them) and the next
// push starts a fresh worker, idle workers stop, and a gateway change reaches running workers.
import type { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApnsDev, type ApnsDev } from "./apns-dev/apns-dev.ts";
import { issuePushCertificate, type IssuedPushCertificate } from "./apns-dev/authority.ts";
import type { PushIdentity } from "./apns-client.ts";
import { ApnsWorkerPool } from "./apns-worker-pool.ts";
import { certificateFingerprint, pemToDer } from "../pki/pem.ts";

const token = (n: number) => n.toString(16).padStart(64, "0");

function identityOf(c: IssuedPushCertificate): PushIdentity {
  return { topic: c.topic, fingerprint: certificateFingerprint(pemToDer(c.certPem)), certPem: c.certPem, keyPem: c.keyPem };
}

/** The pool's live worker threads (private state, read here to kill one as a crash would). */
function workersOf(pool: ApnsWorkerPool): Worker[] {
  return (pool as unknown as { workers: Array<{ worker: Worker }> }).workers.map((w) => w.worker);
}

describe("APNs worker pool", () => {
  let dev: ApnsDev;
  let cert: IssuedPushCertificate;

  beforeAll(async () => {
    dev = await startApnsDev({ devicePort: false });
    cert = await issuePushCertificate(dev.authority.ca);
  });
  afterAll(async () => {
    await dev.close();
  });

  it("sends from two workers and gives every push its own answer", async () => {
    const pool = new ApnsWorkerPool({ threads: 2, url: dev.url, extraCaPem: [dev.caPem], expirationSeconds: 3600, pingIntervalMs: 0 });
    try {
      const before = dev.apns.lastSeq;
      dev.apns.unregister(token(7), 1_700_000_000_000);
      const results = await Promise.all(Array.from({ length: 400 }, (_, i) => pool.send(identityOf(cert), false, token(i), `MAGIC-${i}`)));
      expect(pool.started).toBe(2);
      expect(dev.apns.stats.connections).toBeGreaterThanOrEqual(2);
      results.forEach((r, i) => {
        if (i === 7) expect(r).toMatchObject({ status: 410, reason: "Unregistered", timestamp: 1_700_000_000_000 });
        else expect(r.status).toBe(200);
      });
      // Each answer is the one APNs gave that push: its apns-id is the id recorded with that token and magic.
      const byId = new Map(dev.apns.pushes({ afterSeq: before }).map((p) => [p.apnsId, p]));
      results.forEach((r, i) => {
        const p = byId.get(r.apnsId!);
        expect(p).toMatchObject({ token: token(i), pushMagic: `MAGIC-${i}`, topic: cert.topic });
        expect(p!.headers).toMatchObject({ "apns-push-type": "mdm", "apns-priority": "10" });
      });
    } finally {
      dev.apns.register(token(7));
      await pool.close();
    }
  });

  it("ends a dead worker's pushes without an answer and starts a fresh worker for the next push", async () => {
    const pool = new ApnsWorkerPool({ threads: 1, url: dev.url, extraCaPem: [dev.caPem], expirationSeconds: 3600, pingIntervalMs: 0 });
    const stall = await dev.apns.stall();
    try {
      const inFlight = Array.from({ length: 5 }, (_, i) => pool.send(identityOf(cert), false, token(100 + i), "M"));
      for (let i = 0; i < 100 && stall.waiting() < 5; i++) await new Promise((r) => setTimeout(r, 50));
      expect(stall.waiting()).toBe(5);
      await workersOf(pool)[0]!.terminate();
      for (const r of await Promise.all(inFlight)) expect(r).toMatchObject({ status: 0, transportError: expect.stringContaining("push worker") });
      stall.release();
      const next = await pool.send(identityOf(cert), false, token(200), "M");
      expect(next.status).toBe(200);
      expect(pool.started).toBe(2);
    } finally {
      stall.release();
      await pool.close();
    }
  });

  it("stops idle workers and starts them again on the next push", async () => {
    const pool = new ApnsWorkerPool({ threads: 1, idleMs: 100, url: dev.url, extraCaPem: [dev.caPem], expirationSeconds: 3600, pingIntervalMs: 0 });
    try {
      expect((await pool.send(identityOf(cert), false, token(300), "M")).status).toBe(200);
      expect(workersOf(pool)).toHaveLength(1);
      for (let i = 0; i < 40 && workersOf(pool).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(workersOf(pool)).toHaveLength(0);
      expect((await pool.send(identityOf(cert), false, token(301), "M")).status).toBe(200);
      expect(pool.started).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it("moves running workers to another gateway", async () => {
    const other = await startApnsDev({ devicePort: false });
    const otherCert = await issuePushCertificate(other.authority.ca);
    const pool = new ApnsWorkerPool({ threads: 1, url: dev.url, extraCaPem: [dev.caPem], expirationSeconds: 3600, pingIntervalMs: 0 });
    try {
      expect((await pool.send(identityOf(cert), false, token(400), "M")).status).toBe(200);
      pool.useGateway(other.url, [other.caPem]);
      expect(pool.gatewayFor(false)).toBe(other.url);
      const before = other.apns.lastSeq;
      expect((await pool.send(identityOf(otherCert), false, token(401), "M")).status).toBe(200);
      expect(other.apns.pushes({ afterSeq: before }).map((p) => p.token)).toEqual([token(401)]);
      expect(pool.started).toBe(1);
    } finally {
      await pool.close();
      await other.close();
    }
  });
});
