// A DeviceInformation result updates the facts Orchard keeps on the enrollment row (what command checks and
// the API use: OS version, supervision, names), in the result's transaction. The full inventory (attributes,
// history, data separation by enrollment type) is the devices module's; this keeps the engine's own facts true.
import type { Tx } from "../store/db.ts";
import { updateEnrollment, type EnrollmentPatch } from "../store/enrollments.ts";
import type { PlistDict, PlistValue } from "../wire/plist.ts";
import type { CommandResult } from "./result-processors.ts";

const STRING_FACTS = {
  OSVersion: "os_version",
  BuildVersion: "build_version",
  DeviceName: "device_name",
  Model: "model",
  ModelName: "model_name",
  ProductName: "product_name",
  SerialNumber: "serial_number",
} as const;

export async function applyDeviceInformation(tx: Tx, result: CommandResult): Promise<void> {
  if (result.status !== "acknowledged") return;
  const answers = result.report.QueryResponses;
  if (!isDict(answers)) return;
  const patch: EnrollmentPatch = {};
  for (const [key, column] of Object.entries(STRING_FACTS)) {
    const v = answers[key];
    // Empty means absent: some devices send "" for what they do not know.
    if (typeof v === "string" && v.length > 0) patch[column] = v;
  }
  if (typeof answers.IsSupervised === "boolean") patch.supervised = answers.IsSupervised ? 1 : 0;
  if (Object.keys(patch).length === 0) return;
  patch.updated_at = result.completedAt;
  await updateEnrollment(tx, result.enrollmentId, patch);
}

function isDict(v: PlistValue | undefined): v is PlistDict {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
}
