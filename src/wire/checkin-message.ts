// Check-in messages as the rest of Orchard sees them: typed values decoded from the device's plist.
// Decoding is liberal where devices in the field differ from the documentation (optional facts may be
// missing, NotOnConsole is often absent) and exact about what the protocol needs (MessageType, the
// identity keys, Token and PushMagic in TokenUpdate).
import type { PlistDict, PlistValue } from "./plist.ts";

export class CheckinMessageError extends Error {}

export const CHECKIN_MESSAGE_TYPES = [
  "Authenticate",
  "TokenUpdate",
  "CheckOut",
  "SetBootstrapToken",
  "GetBootstrapToken",
  "UserAuthenticate",
  "DeclarativeManagement",
  "GetToken",
  "ReturnToService",
] as const;
export type CheckinMessageType = (typeof CHECKIN_MESSAGE_TYPES)[number];

interface Identity {
  UDID?: string;
  EnrollmentID?: string;
  EnrollmentUserID?: string;
  UserID?: string;
  UserShortName?: string;
  UserLongName?: string;
  Topic?: string;
}

export interface AuthenticateMessage extends Identity {
  MessageType: "Authenticate";
  DeviceName?: string;
  Model?: string;
  ModelName?: string;
  ProductName?: string;
  OSVersion?: string;
  BuildVersion?: string;
  SerialNumber?: string;
  IMEI?: string;
  MEID?: string;
}

export interface TokenUpdateMessage extends Identity {
  MessageType: "TokenUpdate";
  Token: Uint8Array;
  PushMagic: string;
  UnlockToken?: Uint8Array;
  AwaitingConfiguration?: boolean;
  NotOnConsole?: boolean;
}

export interface CheckOutMessage extends Identity {
  MessageType: "CheckOut";
}
export interface SetBootstrapTokenMessage extends Identity {
  MessageType: "SetBootstrapToken";
  BootstrapToken?: Uint8Array;
  AwaitingConfiguration?: boolean;
}
export interface GetBootstrapTokenMessage extends Identity {
  MessageType: "GetBootstrapToken";
  AwaitingConfiguration?: boolean;
}
export interface UserAuthenticateMessage extends Identity {
  MessageType: "UserAuthenticate";
  DigestResponse?: string;
}
export interface DeclarativeManagementMessage extends Identity {
  MessageType: "DeclarativeManagement";
  Endpoint: string;
  Data?: Uint8Array;
}
export interface GetTokenMessage extends Identity {
  MessageType: "GetToken";
  TokenServiceType: string;
  TokenParameters?: PlistDict;
}
export interface ReturnToServiceMessage extends Identity {
  MessageType: "ReturnToService";
}

export type CheckinMessage =
  | AuthenticateMessage
  | TokenUpdateMessage
  | CheckOutMessage
  | SetBootstrapTokenMessage
  | GetBootstrapTokenMessage
  | UserAuthenticateMessage
  | DeclarativeManagementMessage
  | GetTokenMessage
  | ReturnToServiceMessage;

function str(d: PlistDict, key: string, required = false): string | undefined {
  const v = d[key];
  if (v === undefined) {
    if (required) throw new CheckinMessageError(`${key} is required`);
    return undefined;
  }
  if (typeof v !== "string") throw new CheckinMessageError(`${key} must be a string`);
  return v;
}

function bool(d: PlistDict, key: string): boolean | undefined {
  const v = d[key];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new CheckinMessageError(`${key} must be a boolean`);
  return v;
}

function data(d: PlistDict, key: string, required = false): Uint8Array | undefined {
  const v = d[key];
  if (v === undefined) {
    if (required) throw new CheckinMessageError(`${key} is required`);
    return undefined;
  }
  if (!(v instanceof Uint8Array)) throw new CheckinMessageError(`${key} must be data`);
  return v;
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

function isDict(v: PlistValue): v is PlistDict {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date) && v.constructor === Object;
}

export function decodeCheckinMessage(value: PlistValue): CheckinMessage {
  if (!isDict(value)) throw new CheckinMessageError("the check-in body must be a plist dictionary");
  const d = value;
  const type = str(d, "MessageType", true) as string;
  const identity: Identity = defined({
    UDID: str(d, "UDID"),
    EnrollmentID: str(d, "EnrollmentID"),
    EnrollmentUserID: str(d, "EnrollmentUserID"),
    UserID: str(d, "UserID"),
    UserShortName: str(d, "UserShortName"),
    UserLongName: str(d, "UserLongName"),
    Topic: str(d, "Topic"),
  });
  if (!identity.UDID && !identity.EnrollmentID) throw new CheckinMessageError("UDID (or EnrollmentID for User Enrollment) is required");
  switch (type) {
    case "Authenticate":
      return defined({
        ...identity,
        MessageType: type,
        DeviceName: str(d, "DeviceName"),
        Model: str(d, "Model"),
        ModelName: str(d, "ModelName"),
        ProductName: str(d, "ProductName"),
        OSVersion: str(d, "OSVersion"),
        BuildVersion: str(d, "BuildVersion"),
        SerialNumber: str(d, "SerialNumber"),
        IMEI: str(d, "IMEI"),
        MEID: str(d, "MEID"),
      });
    case "TokenUpdate":
      return defined({
        ...identity,
        MessageType: type,
        Token: data(d, "Token", true) as Uint8Array,
        PushMagic: str(d, "PushMagic", true) as string,
        UnlockToken: data(d, "UnlockToken"),
        AwaitingConfiguration: bool(d, "AwaitingConfiguration"),
        NotOnConsole: bool(d, "NotOnConsole"),
      });
    case "CheckOut":
      return { ...identity, MessageType: type };
    case "SetBootstrapToken":
      return defined({ ...identity, MessageType: type, BootstrapToken: data(d, "BootstrapToken"), AwaitingConfiguration: bool(d, "AwaitingConfiguration") });
    case "GetBootstrapToken":
      return defined({ ...identity, MessageType: type, AwaitingConfiguration: bool(d, "AwaitingConfiguration") });
    case "UserAuthenticate":
      return defined({ ...identity, MessageType: type, DigestResponse: str(d, "DigestResponse") });
    case "DeclarativeManagement":
      return defined({ ...identity, MessageType: type, Endpoint: str(d, "Endpoint", true) as string, Data: data(d, "Data") });
    case "GetToken": {
      const params = d.TokenParameters;
      if (params !== undefined && !isDict(params)) throw new CheckinMessageError("TokenParameters must be a dictionary");
      return defined({ ...identity, MessageType: type, TokenServiceType: str(d, "TokenServiceType", true) as string, TokenParameters: params });
    }
    case "ReturnToService":
      return { ...identity, MessageType: type };
    default:
      throw new CheckinMessageError(`unknown MessageType "${type}"`);
  }
}
