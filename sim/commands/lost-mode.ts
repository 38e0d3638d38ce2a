// Lost Mode on supervised iOS/iPadOS (the schema marks these commands supervised-only; the dispatcher refuses
// them elsewhere): EnableLostMode, DisableLostMode, DeviceLocation (only while in Lost Mode), PlayLostModeSound.
import { PlistReal } from "../../src/wire/plist.ts";
import { ack, fail, type CommandContext, type CommandHandler, type CommandResult } from "./command-types.ts";
import { chainItem, MDM_DOMAIN } from "./error-chain.ts";

const notInLostMode = () => fail([chainItem(MDM_DOMAIN, 12067, "The device is not in Lost Mode.")]);

function enableLostMode(ctx: CommandContext): CommandResult {
  const cmd = ctx.request.command;
  const message = typeof cmd.Message === "string" ? cmd.Message : undefined;
  const phone = typeof cmd.PhoneNumber === "string" ? cmd.PhoneNumber : undefined;
  // Apple: "You must provide either a message or a phone number."
  if (message === undefined && phone === undefined) {
    return { status: "CommandFormatError", errorChain: [chainItem(MDM_DOMAIN, 12001, "EnableLostMode needs a Message or a PhoneNumber.")] };
  }
  const state = ctx.device.state;
  state.lostMode = { enabledAt: new Date().toISOString() };
  if (message !== undefined) state.lostMode.message = message;
  if (phone !== undefined) state.lostMode.phoneNumber = phone;
  if (typeof cmd.Footnote === "string") state.lostMode.footnote = cmd.Footnote;
  state.locked = true;
  return ack();
}

function disableLostMode(ctx: CommandContext): CommandResult {
  if (!ctx.device.state.lostMode) return notInLostMode();
  delete ctx.device.state.lostMode;
  return ack();
}

function deviceLocation(ctx: CommandContext): CommandResult {
  const state = ctx.device.state;
  if (!state.lostMode) return notInLostMode();
  return ack({
    Latitude: new PlistReal(state.location.latitude),
    Longitude: new PlistReal(state.location.longitude),
    HorizontalAccuracy: new PlistReal(16.5),
    VerticalAccuracy: new PlistReal(8),
    Altitude: new PlistReal(35),
    Speed: new PlistReal(0),
    Course: new PlistReal(-1),
    Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
  });
}

export const lostModeHandlers: CommandHandler[] = [
  { requestType: "EnableLostMode", handle: enableLostMode },
  { requestType: "DisableLostMode", handle: disableLostMode },
  { requestType: "DeviceLocation", handle: deviceLocation },
  { requestType: "PlayLostModeSound", handle: (ctx) => (ctx.device.state.lostMode ? ack() : notInLostMode()) },
];
