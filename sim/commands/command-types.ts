// The contract between the MDM client's connect loop and the command handlers.
import type { PlistDict } from "../../src/wire/plist.ts";
import type { LocalUser } from "../device-state.ts";
import type { VirtualDevice } from "../device.ts";
import type { ErrorChainItem } from "./error-chain.ts";

export type CommandChannel = { kind: "device" } | { kind: "user"; user: LocalUser };

export interface CommandRequest {
  commandUuid: string;
  requestType: string;
  /** The `Command` dictionary, RequestType included. */
  command: PlistDict;
}

/** What the device does once the result has been reported (it cannot report after wiping itself). */
export type AfterReport = "erase" | "restart" | "shutdown";

/** A result the device sends back to the server. */
export type ReportedResult =
  | { status: "Acknowledged"; response?: PlistDict; afterReport?: AfterReport }
  | { status: "Error"; errorChain: ErrorChainItem[]; response?: PlistDict }
  | { status: "CommandFormatError"; errorChain?: ErrorChainItem[] }
  | { status: "NotNow" };

/**
 * The command removed the MDM enrollment (RemoveProfile of the enrollment profile): the device has no
 * identity or server left to report to, so it sends no result; the server learns of it from CheckOut, when
 * the MDM payload asked for one. Never sent as a Status.
 */
export interface UnenrolledResult {
  status: "Unenrolled";
  checkedOut: boolean;
  checkOutError?: string;
}

export type CommandResult = ReportedResult | UnenrolledResult;

export interface CommandContext {
  device: VirtualDevice;
  channel: CommandChannel;
  request: CommandRequest;
}

export interface CommandHandler {
  readonly requestType: string;
  handle(ctx: CommandContext): CommandResult | Promise<CommandResult>;
}

export const ack = (response?: PlistDict): CommandResult => (response ? { status: "Acknowledged", response } : { status: "Acknowledged" });
export const fail = (errorChain: ErrorChainItem[], response?: PlistDict): CommandResult =>
  response ? { status: "Error", errorChain, response } : { status: "Error", errorChain };
