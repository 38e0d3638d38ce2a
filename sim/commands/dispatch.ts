// How the device decides what to do with a command before any handler runs, in the order Apple's client does:
// a malformed command is a CommandFormatError; a command it does not know, cannot run on this platform or
// channel, or that the MDM payload's AccessRights / supervision do not allow is an Error; a command needing the
// device's data protection while it is locked is NotNow. Only then does the family's handler run.
import type { PlistDict, PlistValue } from "../../src/wire/plist.ts";
import { checkCommandAllowed, commandInfo, validateCommandParams } from "../../src/wire/schema/index.ts";
import type { VirtualDevice } from "../device.ts";
import { schemaPlatform } from "../platform.ts";
import type { CommandChannel, CommandHandler, CommandRequest, CommandResult, ReportedResult } from "./command-types.ts";
import { deviceErrors } from "./error-chain.ts";
import { applicationHandlers } from "./applications.ts";
import { certificateHandlers } from "./certificates.ts";
import { deviceActionHandlers } from "./device-actions.ts";
import { deviceInformationHandlers } from "./device-information.ts";
import { lostModeHandlers } from "./lost-mode.ts";
import { osUpdateHandlers } from "./os-updates.ts";
import { profileHandlers } from "./profiles.ts";
import { securityInfoHandlers } from "./security-info.ts";
import { settingsHandlers } from "./settings.ts";

const HANDLERS = new Map<string, CommandHandler>(
  [
    ...deviceInformationHandlers,
    ...securityInfoHandlers,
    ...profileHandlers,
    ...certificateHandlers,
    ...applicationHandlers,
    ...deviceActionHandlers,
    ...lostModeHandlers,
    ...settingsHandlers,
    ...osUpdateHandlers,
  ].map((h) => [h.requestType, h]),
);

/** The request types the virtual device implements; everything else is answered with an Error. */
export function supportedRequestTypes(): string[] {
  return [...HANDLERS.keys()].sort();
}

export type ParsedCommand = { ok: true; request: CommandRequest } | { ok: false; commandUuid?: string; reason: string };

/** Reads the server's command envelope: {CommandUUID, Command: {RequestType, ...}}. */
export function parseCommandEnvelope(value: PlistValue): ParsedCommand {
  if (!isDict(value)) return { ok: false, reason: "the command is not a dictionary" };
  const uuid = value.CommandUUID;
  if (typeof uuid !== "string" || uuid.length === 0) return { ok: false, reason: "CommandUUID is missing" };
  const command = value.Command;
  if (!isDict(command)) return { ok: false, commandUuid: uuid, reason: "Command is not a dictionary" };
  const requestType = command.RequestType;
  if (typeof requestType !== "string") return { ok: false, commandUuid: uuid, reason: "Command.RequestType is missing" };
  return { ok: true, request: { commandUuid: uuid, requestType, command } };
}

export async function executeCommand(device: VirtualDevice, channel: CommandChannel, request: CommandRequest): Promise<CommandResult> {
  const { requestType } = request;
  const state = device.state;
  const handler = HANDLERS.get(requestType);
  const info = commandInfo(requestType);
  if (!handler || !info) return { status: "Error", errorChain: deviceErrors.unknownCommand(requestType) };
  const platform = schemaPlatform(state.platform);
  if (!info.platforms[platform].available) return { status: "Error", errorChain: deviceErrors.notOnPlatform(requestType, state.platform) };

  const { RequestType: _rt, ...params } = request.command;
  const problems = validateCommandParams(requestType, params, { context: { platform, channel: channel.kind, userEnrollment: state.userEnrollment === true } }).filter(
    (p) => p.kind === "missing" || p.kind === "type",
  );
  if (problems.length > 0) {
    return { status: "CommandFormatError", errorChain: deviceErrors.invalidRequest(requestType, problems.map((p) => p.message).join("; ")) };
  }

  const settings = state.mdm?.settings;
  // Apple's MDM protocol reference ("Terminating a Management Relationship"): "An MDM server can always remove
  // this profile [the one carrying the MDM payload], even if it does not have the access rights to add or remove
  // configuration profiles." So that one RemoveProfile is granted the right it would otherwise need.
  const granted = removesEnrollmentProfile(device, channel, request) ? (info.platforms[platform].accessRightsBits ?? 0) : 0;
  const verdict = checkCommandAllowed(requestType, {
    platform,
    osVersion: state.osVersion,
    channel: channel.kind,
    supervised: state.supervised,
    userEnrollment: state.userEnrollment === true,
    accessRights: (settings?.accessRights ?? 0) | granted,
  });
  if (!verdict.ok) return { status: "Error", errorChain: deviceErrors.notAuthorized(requestType, verdict.reason) };

  if (state.behaviour.alwaysNotNow.includes(requestType)) return { status: "NotNow" };
  if (state.locked && state.behaviour.notNowWhenLocked.includes(requestType)) return { status: "NotNow" };

  return handler.handle({ device, channel, request });
}

/** RemoveProfile on the device channel naming the profile that carries the MDM payload. */
function removesEnrollmentProfile(device: VirtualDevice, channel: CommandChannel, request: CommandRequest): boolean {
  if (request.requestType !== "RemoveProfile" || channel.kind !== "device") return false;
  const enrollment = device.profiles.enrollmentProfile();
  return enrollment !== undefined && request.command.Identifier === enrollment.identifier;
}

/** The keys a report carries besides the command's response. */
export function reportFor(result: ReportedResult, commandUuid: string): PlistDict {
  const report: PlistDict = { CommandUUID: commandUuid, Status: result.status };
  if ((result.status === "Error" || result.status === "CommandFormatError") && result.errorChain) report.ErrorChain = result.errorChain;
  if ((result.status === "Acknowledged" || result.status === "Error") && result.response) Object.assign(report, result.response);
  return report;
}

function isDict(v: PlistValue | undefined): v is PlistDict {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date) && Object.getPrototypeOf(v) === Object.prototype;
}
