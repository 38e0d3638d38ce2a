// Two replicas on one database share a push fan-out: the jobs a big push becomes are claimed through the
// jobs table's lease (SKIP LOCKED on PostgreSQL), so every enrollment is pushed exactly once, whichever replica
// runs its job, and both replicas do part of the work.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../databases.ts";
import type { AppContext } from "../../src/app-context.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { buildContext } from "../../src/server/context.ts";
import { startApnsDev, type ApnsDev } from "../../src/push/apns-dev/apns-dev.ts";
import { issuePushCertificate } from "../../src/push/apns-dev/authority.ts";
import { PUSH_JOB, type PushJobPayload } from "../../src/push/push-dispatcher.ts";
import { enqueueJob } from "../../src/store/jobs.ts";
import { insertPushableEnrollments } from "../../bench/lib/push-enrollments.ts";

const ENROLLMENTS = 4000;
const PER_JOB = 100;

describeEachDatabase("push fan-out across two replicas", (database) => {
  let dir: string;
  let dev: ApnsDev;
  let replicas: AppContext[];
  let cleanupDb: () => Promise<void>;
  let topic: string;

  beforeAll(async () => {
    if (database.dialect === "sqlite") return;
    dir = mkdtempSync(join(tmpdir(), "orchard-push-replicas-"));
    dev = await startApnsDev({ devicePort: false, recordLimit: ENROLLMENTS * 2 });
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    const config = { ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_MASTER_KEY: randomBytes(32).toString("base64"), ORCHARD_PUBLIC_URL: "https://orchard.test" }), databaseUrl: fresh.url, logLevel: "silent" as const };
    replicas = [];
    for (let i = 0; i < 2; i++) {
      const ctx = await buildContext(config, createLogger("silent"));
      ctx.push.client.useGateway(dev.url, [dev.caPem]);
      replicas.push(ctx);
    }
    const cert = await issuePushCertificate(dev.authority.ca);
    topic = cert.topic;
    // Uploaded through one replica, used by both.
    await replicas[0]!.push.certificates.upload({ certificate: cert.certPem, privateKey: cert.keyPem }, "system:test");
  });
  afterAll(async () => {
    for (const r of replicas ?? []) {
      await r.push.client.close();
      await r.store.close();
    }
    await dev?.close();
    await cleanupDb?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // Replicas are a PostgreSQL deployment; SQLite is one process's embedded database.
  it.skipIf(database.dialect === "sqlite")("pushes every enrollment exactly once while both replicas run the jobs", async () => {
    const db = replicas[0]!.store.db;
    const ids = await insertPushableEnrollments(replicas[0]!.store, ENROLLMENTS, topic);
    // The jobs a fan-out becomes (small ones here, so that both replicas' claims interleave).
    for (let i = 0; i < ids.length; i += PER_JOB) {
      await enqueueJob(replicas[0]!.store, { kind: PUSH_JOB, payload: { ids: ids.slice(i, i + PER_JOB), requestedAt: Date.now(), reason: "command" } satisfies PushJobPayload });
    }
    const before = dev.apns.lastSeq;
    const ran = await Promise.all(replicas.map((r) => r.jobs.runDue()));
    expect(ran[0]! + ran[1]!).toBe(ENROLLMENTS / PER_JOB);
    expect(ran[0]).toBeGreaterThan(0);
    expect(ran[1]).toBeGreaterThan(0);

    const pushes = dev.apns.pushes({ afterSeq: before });
    expect(pushes.every((p) => p.status === 200 && p.topic === topic)).toBe(true);
    expect(pushes).toHaveLength(ENROLLMENTS);
    expect(new Set(pushes.map((p) => p.token)).size).toBe(ENROLLMENTS);
    const ok = await db.selectFrom("enrollments").select((eb) => eb.fn.countAll<number>().as("n")).where("last_push_result", "=", "ok").executeTakeFirst();
    expect(Number(ok?.n)).toBe(ENROLLMENTS);
    expect(await db.selectFrom("jobs").select("id").where("kind", "=", PUSH_JOB).execute()).toEqual([]);
  });
});
