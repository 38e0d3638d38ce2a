// A DeviceInformation result updates the facts Orchard keeps on the enrollment row (what command checks and
// the API use: OS version, supervision, names), in the result's transaction. The full inventory (attributes,
// history, data separation by enrollment type) is the devices module's; this keeps the engine's own facts true.
// Every DeviceInformation result passes through here on the device's request: one prepared statement. The serial
// number is not taken from here: Authenticate brings it, and a User Enrollment's must never be kept (the devices
// module keeps inventory, filtered by enrollment type).
import type { Tx } from "../store/db.ts";
import { hotPath, type DeviceFacts } from "../store/hot-path.ts";
import type { PlistDict, PlistValue } from "../wire/plist.ts";
import type { CommandResult } from "./result-processors.ts";

const STRING_FACTS = {
  OSVersion: "os_version",
  BuildVersion: "build_version",
  DeviceName: "device_name",
  Model: "model",
  ModelName: "model_name",
  ProductName: "product_name",
} as const;

export async function applyDeviceInformation(tx: Tx, result: CommandResult): Promise<void> {
  if (result.status !== "acknowledged") return;
  const answers = result.report.QueryResponses;
  if (!isDict(answers)) return;
  const facts: DeviceFacts = { os_version: null, build_version: null, device_name: null, model: null, model_name: null, product_name: null, supervised: null };
  let any = false;
  for (const [key, column] of Object.entries(STRING_FACTS)) {
    const v = answers[key];
    // Empty means absent: some devices send "" for what they do not know.
    if (typeof v === "string" && v.length > 0) {
      facts[column] = v;
      any = true;
    }
  }
  if (typeof answers.IsSupervised === "boolean") {
    facts.supervised = answers.IsSupervised ? 1 : 0;
    any = true;
  }
  if (any) await hotPath(tx).updateDeviceFacts(result.enrollmentId, facts, result.completedAt);
}

function isDict(v: PlistValue | undefined): v is PlistDict {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
}
