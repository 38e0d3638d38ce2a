import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const runTs = fileURLToPath(new URL("../../bin/run-ts.js", import.meta.url));
const script = fileURLToPath(new URL("../../test/fixtures/memory/parsed-string-retention.ts", import.meta.url));

describe("parsed plist strings", () => {
  it("do not keep the document they came from alive", () => {
    // 500 documents of ~100 KB are ~50 MB; their 500 UDIDs alone are a few kilobytes.
    const out = JSON.parse(execFileSync(process.execPath, ["--expose-gc", runTs, script], { encoding: "utf8" })) as { kept: number; heapUsedBytes: number };
    expect(out.kept).toBe(500);
    expect(out.heapUsedBytes).toBeLessThan(25 * 2 ** 20);
  }, 30_000);
});
