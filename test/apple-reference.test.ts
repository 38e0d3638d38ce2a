// The rule that keeps the schema drift tests honest: skip without the reference locally, fail without it in CI.
import { describe, expect, it } from "vitest";
import { APPLE_REFERENCE_DIR, appleReferenceAvailability, runningInCi } from "./apple-reference.ts";

describe("Apple reference availability", () => {
  it("reads CI like CI services set it", () => {
    expect(runningInCi({ CI: "true" })).toBe(true);
    expect(runningInCi({ CI: "1" })).toBe(true);
    expect(runningInCi({})).toBe(false);
    expect(runningInCi({ CI: "" })).toBe(false);
    expect(runningInCi({ CI: "false" })).toBe(false);
    expect(runningInCi({ CI: "0" })).toBe(false);
  });

  it("skips with the reason locally and fails under CI when the reference is missing", () => {
    const nowhere = "/nonexistent/apple-device-management";
    const local = appleReferenceAvailability({}, nowhere);
    expect(local).toEqual({ present: false, reason: expect.stringContaining(nowhere) });
    const ci = appleReferenceAvailability({ CI: "true" }, nowhere);
    expect(ci.present).toBe(false);
    expect(ci.failure).toMatch(/CI is set, so the schema tests fail instead of skipping/);
  });

  it.runIf(appleReferenceAvailability({}, APPLE_REFERENCE_DIR).present)("finds the reference where the suites read it, under CI too", () => {
    expect(appleReferenceAvailability({ CI: "true" })).toEqual({ present: true, reason: "" });
  });
});
