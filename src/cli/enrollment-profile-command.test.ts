// `orchard enrollment-profile …` builds what devices use, so it takes the public URL the running server recorded,
// not the shell's environment (a profile exported from a shell without ORCHARD_HTTPS_PORT pointed at 8443).
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../config.ts";
import { createLogger } from "../log/logger.ts";
import { startServer } from "../server/serve.ts";
import { openStore } from "../store/db.ts";
import { readServerSettings } from "../store/server-settings.ts";
import { describeEachDatabase } from "../../test/databases.ts";
import { orchard } from "../../test/cli.ts";

describeEachDatabase("orchard enrollment-profile", (database) => {
  let dir: string;
  let env: Record<string, string>;
  let cleanupDb: () => Promise<void>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orchard-ep-cli-"));
    const fresh = await database.freshUrl();
    cleanupDb = fresh.cleanup;
    env = { ORCHARD_DATA_DIR: dir, ORCHARD_DATABASE_URL: fresh.url, ORCHARD_MASTER_KEY: randomBytes(32).toString("base64"), ORCHARD_LOG_LEVEL: "silent" };
  });
  afterAll(async () => {
    await cleanupDb();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses to build a profile before any server has recorded its settings, then uses the server's, warning when the shell disagrees", async () => {
    const before = await orchard(["enrollment-profile", "create", "--name", "Staff"], env);
    expect(before.code).toBe(1);
    expect(before.stderr).toMatch(/no server has recorded its public URL.*orchard serve/);

    // The server runs with a public URL the CLI's shell does not have.
    const serverEnv = { ...env, ORCHARD_PUBLIC_URL: "https://mdm.example.test:9443" };
    const server = await startServer({ ...loadConfig(serverEnv), httpsPort: 0, httpPort: 0, host: "127.0.0.1" }, { logger: createLogger("silent") });
    await server.stop();
    const store = await openStore(env.ORCHARD_DATABASE_URL!);
    const recorded = await readServerSettings(store);
    await store.close();
    expect(recorded).toMatchObject({ publicUrl: "https://mdm.example.test:9443", httpsPort: server.httpsPort, httpPort: server.httpPort });

    const created = await orchard(["enrollment-profile", "create", "--name", "Staff", "--json"], env);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout).links.enroll).toMatch(/^https:\/\/mdm\.example\.test:9443\/enroll\//);

    const out = join(dir, "staff.mobileconfig");
    const exported = await orchard(["enrollment-profile", "export", "Staff", "--unsigned", "--out", out], { ...env, ORCHARD_HTTPS_PORT: "8443" });
    expect(exported.code).toBe(0);
    expect(exported.stderr).toMatch(/WARNING: .*https:\/\/\S+:8443.*mdm\.example\.test:9443: using the server's/);
    const xml = readFileSync(out, "utf8");
    expect(xml).toContain("https://mdm.example.test:9443/mdm/connect");
    expect(xml).toContain("https://mdm.example.test:9443/scep");
    expect(xml).not.toContain(":8443");
  });

  it("shows a profile by name as well as by id, and says which when neither matches", async () => {
    const byName = await orchard(["enrollment-profile", "show", "Staff"], env);
    expect(byName.code).toBe(0);
    const view = JSON.parse(byName.stdout) as { id: string; name: string };
    expect(view.name).toBe("Staff");
    const byId = await orchard(["enrollment-profile", "show", view.id], env);
    expect(JSON.parse(byId.stdout)).toMatchObject({ id: view.id, name: "Staff" });
    const missing = await orchard(["enrollment-profile", "show", "Nope"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no enrollment profile with id or name "Nope"');
  });
});
