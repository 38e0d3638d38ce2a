// `orchard push send` in-process: an enrollment id that does not exist is an error, not "queued pushes to 0".
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { orchard } from "../../test/cli.ts";

it("push send of an unknown enrollment id exits non-zero naming it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "orchard-push-cli-"));
  try {
    const r = await orchard(["push", "send", "NO-SUCH-UDID", "ALSO-NOT"], { ORCHARD_DATA_DIR: dir, ORCHARD_MASTER_KEY: randomBytes(32).toString("base64"), ORCHARD_LOG_LEVEL: "silent" });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe('orchard: no enrollment with id "NO-SUCH-UDID", "ALSO-NOT" (`GET /api/v1/enrollments` lists them)\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
