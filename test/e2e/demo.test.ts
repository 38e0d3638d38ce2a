// `orchard serve --demo`: the local APNs endpoint and a mixed fleet that enrolls through a real profile and is
// woken by real pushes, so a queued command is answered within moments, not at the next poll.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { startDemo, type Demo } from "../../src/server/demo.ts";
import { freePort } from "../../bench/lib/server-process.ts";

describe("orchard serve --demo", () => {
  let server: RunningServer;
  let demo: Demo;
  let dir: string;
  let auth: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orchard-demo-"));
    const port = await freePort();
    const config = { ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_PUBLIC_URL: `https://localhost:${port}` }), httpsPort: port, host: "127.0.0.1" };
    const logger = createLogger("silent");
    server = await startServer(config, { logger, apnsDev: true });
    demo = await startDemo(server, logger, 6);
    auth = { authorization: `Bearer ${(await server.ctx.tokens.create("t", "admin", "system:test")).token}` };
  }, 120_000);
  afterAll(async () => {
    await demo?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("enrolls devices of every platform that answer a pushed command within seconds", async () => {
    const list = (await server.app.inject({ url: "/api/v1/enrollments?channel=device", headers: auth })).json().enrollments as Array<{ id: string; platform: string; status: string }>;
    expect(list).toHaveLength(6);
    expect(new Set(list.map((e) => e.platform))).toEqual(new Set(["iOS", "iPadOS", "macOS", "tvOS", "visionOS"]));
    expect(list.every((e) => e.status === "active")).toBe(true);
    const before = server.push.apnsDev!.apns.lastSeq;
    const q = (await server.app.inject({ method: "POST", url: "/api/v1/commands", headers: auth, payload: { targets: list.map((e) => e.id), requestType: "ProfileList" } })).json();
    let statuses: string[] = [];
    for (let i = 0; i < 50; i++) {
      statuses = (await server.app.inject({ url: `/api/v1/commands/${q.commandUuid}`, headers: auth })).json().targets.map((t: { status: string }) => t.status);
      if (statuses.every((s) => s === "acknowledged")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(statuses).toEqual(Array(6).fill("acknowledged"));
    // The devices were woken by pushes (their polls are 30 s apart), one per device.
    const pushes = server.push.apnsDev!.apns.pushes({ afterSeq: before, status: 200 });
    expect(pushes.length).toBeGreaterThanOrEqual(6);
    expect(new Set(pushes.map((p) => p.token)).size).toBe(pushes.length);
  }, 60_000);
});
