// Whether Apple's device-management schema (the YAML the generated types come from) sits beside the repo, at
// ../shared/reference/apple-device-management. A developer's clone may lack it, and the suites that read it
// then skip, saying why. CI always has it, so there a missing reference is a failure: a silently skipped
// drift test would let src/wire/generated drift from the schema unnoticed.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { it } from "vitest";
import { DEFAULT_REFERENCE_DIR } from "../scripts/gen-apple-schema.ts";

/** APPLE_SCHEMA_DIR moves it, as it does for `npm run gen:apple` (another checkout, or nowhere to see the suites skip or fail). */
export const APPLE_REFERENCE_DIR = process.env.APPLE_SCHEMA_DIR ? resolve(process.env.APPLE_SCHEMA_DIR) : DEFAULT_REFERENCE_DIR;

/** CI services set CI=true (or 1); "false", "0" or empty mean a local run. */
export function runningInCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI?.trim().toLowerCase();
  return ci !== undefined && ci !== "" && ci !== "false" && ci !== "0";
}

export interface ReferenceAvailability {
  present: boolean;
  /** Set when the reference is missing and CI is set: the suites must fail with this, not skip. */
  failure?: string;
  /** Why the suites are skipped or failing; empty when present. */
  reason: string;
}

export function appleReferenceAvailability(env: NodeJS.ProcessEnv = process.env, dir: string = APPLE_REFERENCE_DIR): ReferenceAvailability {
  if (existsSync(join(dir, "mdm"))) return { present: true, reason: "" };
  const reason = `Apple's schema is not at ${dir} (expected a checkout of github.com/apple/device-management beside the repo, in ../shared/reference)`;
  return runningInCi(env) ? { present: false, reason, failure: `${reason}; CI is set, so the schema tests fail instead of skipping` } : { present: false, reason };
}

/**
 * Call at the top of a suite file that reads the reference: returns whether it is present and, when it is
 * missing under CI, registers a failing test in its place.
 */
export function requireAppleReference(): ReferenceAvailability {
  const availability = appleReferenceAvailability();
  const { failure } = availability;
  if (failure !== undefined) {
    it("finds Apple's reference schema (CI must check out ../shared beside the repo)", () => {
      throw new Error(failure);
    });
  }
  return availability;
}

/** A suite's name that says, when it is skipped, why. */
export function skippedName(name: string, availability: ReferenceAvailability): string {
  return availability.present ? name : `${name} (skipped: ${availability.reason})`;
}
