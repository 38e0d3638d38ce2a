// The device's report on the connect endpoint: its identity keys, a Status and, for a result, the
// CommandUUID and any ErrorChain. Everything else in the report is the command's response, kept raw.
import type { PlistDict, PlistValue } from "./plist.ts";

export class CommandReportError extends Error {}

export const REPORT_STATUSES = ["Idle", "Acknowledged", "Error", "CommandFormatError", "NotNow"] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];

export interface CommandReport {
  Status: ReportStatus;
  UDID?: string;
  EnrollmentID?: string;
  EnrollmentUserID?: string;
  UserID?: string;
  UserShortName?: string;
  CommandUUID?: string;
  ErrorChain?: PlistValue[];
}

export function decodeCommandReport(value: PlistValue): CommandReport {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array || value instanceof Date) {
    throw new CommandReportError("the report must be a plist dictionary");
  }
  const d = value as PlistDict;
  const status = d.Status;
  if (typeof status !== "string") throw new CommandReportError("Status is required");
  if (!(REPORT_STATUSES as readonly string[]).includes(status)) throw new CommandReportError(`unknown Status "${status}"`);
  const out: CommandReport = { Status: status as ReportStatus };
  for (const key of ["UDID", "EnrollmentID", "EnrollmentUserID", "UserID", "UserShortName", "CommandUUID"] as const) {
    const v = d[key];
    if (v === undefined) continue;
    if (typeof v !== "string") throw new CommandReportError(`${key} must be a string`);
    out[key] = v;
  }
  if (!out.UDID && !out.EnrollmentID) throw new CommandReportError("UDID (or EnrollmentID for User Enrollment) is required");
  if (status !== "Idle" && !out.CommandUUID) throw new CommandReportError(`CommandUUID is required with Status ${status}`);
  if (d.ErrorChain !== undefined) {
    if (!Array.isArray(d.ErrorChain)) throw new CommandReportError("ErrorChain must be an array");
    out.ErrorChain = d.ErrorChain;
  }
  return out;
}
