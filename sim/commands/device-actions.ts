// DeviceLock, EraseDevice, ClearPasscode, RestartDevice, ShutDownDevice. Erase, restart and shut down are
// acknowledged first and carried out after the report (the device cannot report once it has wiped itself).
// ClearPasscode works only with the UnlockToken this device sent in its TokenUpdate.
import { fromB64 } from "../keychain.ts";
import { ack, fail, type CommandContext, type CommandHandler, type CommandResult } from "./command-types.ts";
import { chainItem, MDM_DOMAIN } from "./error-chain.ts";

function deviceLock(ctx: CommandContext): CommandResult {
  const { state } = ctx.device;
  const pin = ctx.request.command.PIN;
  // macOS computers without Apple silicon need a six-digit PIN to lock (Apple's DeviceLock command).
  if (state.platform === "macOS" && !state.productName.startsWith("Mac") && (typeof pin !== "string" || !/^\d{6}$/.test(pin))) {
    return fail([chainItem(MDM_DOMAIN, 12064, "A six-digit PIN is required to lock this Mac.")]);
  }
  state.locked = true;
  const message = ctx.request.command.Message;
  return state.platform === "tvOS" ? ack() : ack(typeof message === "string" ? { MessageResult: "Displayed" } : undefined);
}

function eraseDevice(ctx: CommandContext): CommandResult {
  const { state } = ctx.device;
  const pin = ctx.request.command.PIN;
  if (state.platform === "macOS" && !state.productName.startsWith("Mac") && (typeof pin !== "string" || !/^\d{6}$/.test(pin))) {
    return fail([chainItem(MDM_DOMAIN, 12064, "A six-digit PIN is required to erase this Mac.")]);
  }
  return { status: "Acknowledged", afterReport: "erase" };
}

function clearPasscode(ctx: CommandContext): CommandResult {
  const { state } = ctx.device;
  const token = ctx.request.command.UnlockToken;
  const expected = state.mdm?.unlockToken;
  if (!(token instanceof Uint8Array) || expected === undefined || !Buffer.from(fromB64(expected)).equals(Buffer.from(token))) {
    return fail([chainItem(MDM_DOMAIN, 12017, "The unlock token is invalid.")]);
  }
  state.passcodePresent = false;
  state.locked = false;
  return ack();
}

export const deviceActionHandlers: CommandHandler[] = [
  { requestType: "DeviceLock", handle: deviceLock },
  { requestType: "EraseDevice", handle: eraseDevice },
  { requestType: "ClearPasscode", handle: clearPasscode },
  { requestType: "RestartDevice", handle: () => ({ status: "Acknowledged", afterReport: "restart" }) },
  { requestType: "ShutDownDevice", handle: () => ({ status: "Acknowledged", afterReport: "shutdown" }) },
];
