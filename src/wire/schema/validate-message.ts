// validateAgainstSpec applied to the wire objects Orchard handles: check-in messages, command dictionaries,
// profile payloads and whole profiles. Each picks the spec from the object's own type key and reports an unknown
// type as a problem rather than throwing.
import {
  checkinSchema,
  commandSchema,
  profilePayloadSchema,
  profilePayloadSpec,
  TOP_LEVEL_PAYLOAD,
} from "./spec-lookup.ts";
import type { SupportedOS } from "./spec-types.ts";
import { deviceInformationRequestSpec } from "./device-information-queries.ts";
import type { SpecProblem, ValidateOptions } from "./validate.ts";
import { describeValue, validateAgainstSpec } from "./validate.ts";

function isDict(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function problem(path: string, kind: SpecProblem["kind"], text: string): SpecProblem {
  return { path, kind, message: `${path === "" ? "value" : path}: ${text}` };
}

/** Options with the context's supportedOS defaulting to the schema entry's own. */
function withSupport(options: ValidateOptions, supportedOS: SupportedOS | undefined): ValidateOptions {
  if (!options.context || options.context.supportedOS || !supportedOS) return options;
  return { ...options, context: { ...options.context, supportedOS } };
}

/** A check-in message (the device's plist) against the schema of its MessageType. */
export function validateCheckinMessage(message: unknown, options: ValidateOptions = {}): SpecProblem[] {
  if (!isDict(message)) return [problem("", "type", `expected dictionary, got ${describeValue(message)}`)];
  const messageType = message.MessageType;
  if (typeof messageType !== "string") {
    return [problem("MessageType", messageType === undefined ? "missing" : "type", "a check-in message needs a string MessageType")];
  }
  const schema = checkinSchema(messageType);
  if (!schema) return [problem("MessageType", "rangelist", `${JSON.stringify(messageType)} is not a check-in message type in Apple's schema`)];
  return validateAgainstSpec(message, schema.request, "", withSupport(options, schema.supportedOS));
}

/**
 * Parameters an admin gives for a command (the `Command` dictionary without RequestType), reported under
 * "Command". Unknown request types are a problem, not an exception.
 */
export function validateCommandParams(
  requestType: string,
  params: unknown,
  options: ValidateOptions = {},
): SpecProblem[] {
  const schema = commandSchema(requestType);
  if (!schema) return [problem("Command.RequestType", "rangelist", `${JSON.stringify(requestType)} is not a command in Apple's schema`)];
  const spec = requestType === "DeviceInformation" ? (deviceInformationRequestSpec() ?? schema.request) : schema.request;
  return validateAgainstSpec(params, spec, "Command", withSupport(options, schema.supportedOS));
}

/** A full `Command` dictionary, RequestType included. */
export function validateCommand(command: unknown, options: ValidateOptions = {}): SpecProblem[] {
  if (!isDict(command)) return [problem("Command", "type", `expected dictionary, got ${describeValue(command)}`)];
  const { RequestType: requestType, ...params } = command;
  if (typeof requestType !== "string") {
    return [problem("Command.RequestType", requestType === undefined ? "missing" : "type", "a command needs a string RequestType")];
  }
  return validateCommandParams(requestType, params, options);
}

/** One payload dictionary of a profile, by its PayloadType, common payload keys included. */
export function validateProfilePayload(payload: unknown, options: ValidateOptions = {}, path = ""): SpecProblem[] {
  if (!isDict(payload)) return [problem(path, "type", `expected dictionary, got ${describeValue(payload)}`)];
  const payloadType = payload.PayloadType;
  const typePath = path === "" ? "PayloadType" : `${path}.PayloadType`;
  if (typeof payloadType !== "string") {
    return [problem(typePath, payloadType === undefined ? "missing" : "type", "a payload needs a string PayloadType")];
  }
  const spec = profilePayloadSpec(payloadType);
  if (!spec || payloadType === TOP_LEVEL_PAYLOAD) {
    return [problem(typePath, "rangelist", `${JSON.stringify(payloadType)} is not a payload type in Apple's schema`)];
  }
  return validateAgainstSpec(payload, spec, path, withSupport(options, profilePayloadSchema(payloadType)?.supportedOS));
}

/** A whole configuration profile: the top level, then each PayloadContent item by its own PayloadType. */
export function validateProfile(profile: unknown, options: ValidateOptions = {}): SpecProblem[] {
  const topLevel = profilePayloadSchema(TOP_LEVEL_PAYLOAD);
  if (!topLevel) throw new Error("the generated profile tables have no TopLevel entry");
  const problems = validateAgainstSpec(profile, topLevel.keys, "", withSupport(options, topLevel.supportedOS));
  if (isDict(profile) && Array.isArray(profile.PayloadContent)) {
    profile.PayloadContent.forEach((payload, i) => {
      problems.push(...validateProfilePayload(payload, options, `PayloadContent[${i}]`));
    });
  }
  return problems;
}
