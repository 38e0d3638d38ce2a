// The device's MDM client, as Apple's behaves on the wire: check-in messages (Authenticate, TokenUpdate,
// CheckOut, SetBootstrapToken, GetBootstrapToken) to the CheckInURL, or to the ServerURL with the check-in
// Content-Type when the profile has none; the connect loop (Idle, then one report per command, until the server
// answers 200 with an empty body) to the ServerURL. Every request proves the device's identity: Mdm-Signature
// when the payload says SignMessage, else the identity as TLS client certificate. macOS users have their own
// channel (UserID, UserShortName, UserLongName and their own push token).
import { randomBytes, randomUUID } from "node:crypto";
import { buildPlist, parsePlist, PlistError, type PlistDict, type PlistValue } from "../src/wire/plist.ts";
import type { DeviceState, LocalUser, MdmEnrollmentState } from "./device-state.ts";
import type { VirtualDevice } from "./device.ts";
import { b64, fromB64 } from "./keychain.ts";
import { mdmUserAgent } from "./platform.ts";
import type { TransportResponse } from "./mdm-transport.ts";
import type { CommandChannel, CommandResult } from "./commands/command-types.ts";
import { executeCommand, parseCommandEnvelope, reportFor } from "./commands/dispatch.ts";

export const CHECKIN_CONTENT_TYPE = "application/x-apple-aspen-mdm-checkin";

export class MdmClientError extends Error {
  override readonly name = "MdmClientError";
}

/** The server answered a device request with something other than success. */
export class MdmHttpError extends MdmClientError {
  constructor(
    readonly endpoint: "checkin" | "connect",
    readonly what: string,
    readonly status: number,
    readonly responseText: string,
  ) {
    super(`${what}: the server answered HTTP ${status}${responseText ? `: ${responseText.trim().slice(0, 300)}` : ""}`);
  }
}

/** One request the client sent and what came back. */
export interface Exchange {
  at: string;
  endpoint: "checkin" | "connect";
  url: string;
  /** MessageType for check-ins, Status for reports. */
  kind: string;
  channel: "device" | "user";
  message: PlistDict;
  status: number;
  responseBody: Buffer;
  durationMs: number;
}

export interface ProcessedCommand {
  commandUuid: string;
  requestType: string;
  status: CommandResult["status"];
  channel: "device" | "user";
  command: PlistDict;
  /** The report as sent (Status, CommandUUID, ErrorChain, response keys); absent when the device sent none (it unenrolled). */
  report?: PlistDict;
}

export interface ConnectSummary {
  channel: "device" | "user";
  commands: ProcessedCommand[];
  requests: number;
  durationMs: number;
  /**
   * Why the session ended: the server had nothing more, the device wiped/restarted itself, a command removed
   * its enrollment, or the safety limit.
   */
  endedBy: "empty" | "erase" | "restart" | "shutdown" | "unenrolled" | "limit";
}

export interface ConnectOptions {
  /** macOS: connect on this local user's channel (short name) instead of the device channel. */
  user?: string;
  /** Safety limit on commands in one session (default 1,000): a server that never stops must not hang a test. */
  maxCommands?: number;
}

export interface ChannelOptions {
  /** macOS: the local user (short name) whose channel sends the message. */
  user?: string;
}

export class MdmClient {
  /** The last requests, newest last (see VirtualDeviceOptions.historySize). */
  readonly exchanges: Exchange[] = [];
  /** The last commands processed, newest last. */
  readonly processed: ProcessedCommand[] = [];
  /** Called after every request, e.g. to collect latencies across a fleet. */
  onExchange: ((exchange: Exchange) => void) | undefined;

  constructor(
    private readonly device: VirtualDevice,
    private readonly historySize: number,
  ) {}

  private get state(): DeviceState {
    return this.device.state;
  }

  private enrollment(): MdmEnrollmentState {
    const mdm = this.state.mdm;
    if (!mdm) throw new MdmClientError(`device ${this.state.udid} is not enrolled`);
    return mdm;
  }

  /** The last report the device sent, e.g. to inspect a command's result. */
  lastReport(): PlistDict | undefined {
    return this.processed.at(-1)?.report;
  }

  // Check-in messages ----------------------------------------------------------------------------------------

  async authenticate(): Promise<void> {
    const mdm = this.enrollment();
    const s = this.state;
    const msg: PlistDict = { MessageType: "Authenticate", Topic: mdm.settings.topic, UDID: s.udid };
    // Facts a device only shares when the MDM payload grants AllowQueryDeviceInformation (the schema marks them so).
    if (mdm.settings.accessRights & 16) {
      msg.OSVersion = s.osVersion;
      msg.BuildVersion = s.buildVersion;
      msg.ProductName = s.productName;
      msg.SerialNumber = s.serialNumber;
      if (s.imei !== undefined) msg.IMEI = s.imei;
      if (s.meid !== undefined) msg.MEID = s.meid;
    }
    if (s.platform === "macOS") {
      msg.DeviceName = s.deviceName;
      msg.Model = s.model;
      msg.ModelName = s.modelName;
    }
    await this.checkin(msg, "device");
    mdm.authenticated = true;
  }

  async tokenUpdate(options: ChannelOptions & { awaitingConfiguration?: boolean } = {}): Promise<void> {
    const mdm = this.enrollment();
    if (options.user !== undefined) {
      const user = this.userChannel(options.user);
      user.pushToken ??= b64(this.device.random.bytes(32));
      user.pushMagic ??= randomUUID().toUpperCase();
      const msg: PlistDict = {
        MessageType: "TokenUpdate",
        Topic: mdm.settings.topic,
        UDID: this.state.udid,
        UserID: user.guid,
        UserShortName: user.shortName,
        UserLongName: user.longName,
        NotOnConsole: !user.onConsole,
        Token: fromB64(user.pushToken),
        PushMagic: user.pushMagic,
      };
      await this.checkin(msg, "user");
      user.userChannelActive = true;
      return;
    }
    const msg: PlistDict = {
      MessageType: "TokenUpdate",
      Topic: mdm.settings.topic,
      UDID: this.state.udid,
      Token: fromB64(mdm.pushToken),
      PushMagic: mdm.pushMagic,
    };
    if (mdm.unlockToken !== undefined) msg.UnlockToken = fromB64(mdm.unlockToken);
    // Apple's schema makes NotOnConsole required on tvOS's device channel (it only exempts iOS, visionOS and
    // macOS's device channel); an Apple TV has no console user, so it is false.
    if (this.state.platform === "tvOS") msg.NotOnConsole = false;
    if (options.awaitingConfiguration !== undefined) msg.AwaitingConfiguration = options.awaitingConfiguration;
    await this.checkin(msg, "device");
    mdm.tokenUpdated = true;
  }

  async checkOut(): Promise<void> {
    const mdm = this.enrollment();
    await this.checkin({ MessageType: "CheckOut", Topic: mdm.settings.topic, UDID: this.state.udid }, "device");
  }

  /** macOS: escrows the bootstrap token (a fresh random one unless given); the server must advertise the capability. */
  async setBootstrapToken(token?: Uint8Array): Promise<Uint8Array> {
    const mdm = this.requireBootstrapCapability();
    const value = token ?? new Uint8Array(randomBytes(32));
    await this.checkin({ MessageType: "SetBootstrapToken", Topic: mdm.settings.topic, UDID: this.state.udid, BootstrapToken: value }, "device");
    this.state.bootstrapToken = b64(value);
    return value;
  }

  /** macOS: asks the server for the escrowed bootstrap token; undefined when it has none. */
  async getBootstrapToken(): Promise<Uint8Array | undefined> {
    const mdm = this.requireBootstrapCapability();
    const res = await this.checkin({ MessageType: "GetBootstrapToken", Topic: mdm.settings.topic, UDID: this.state.udid }, "device");
    if (res.body.length === 0) return undefined;
    const value = parseOrThrow(res.body, "GetBootstrapToken response");
    if (!isDict(value)) throw new MdmClientError("GetBootstrapToken response is not a dictionary");
    const token = value.BootstrapToken;
    if (token === undefined) return undefined;
    if (!(token instanceof Uint8Array)) throw new MdmClientError("GetBootstrapToken response: BootstrapToken is not data");
    return token;
  }

  /**
   * Sends any check-in message (e.g. GetToken, DeclarativeManagement) and returns the server's answer; the
   * identity keys of the channel are added. Throws MdmHttpError on a non-2xx answer.
   */
  async checkin(message: PlistDict, channel: "device" | "user" = "device"): Promise<TransportResponse> {
    const mdm = this.enrollment();
    const url = mdm.settings.checkInUrl ?? mdm.settings.serverUrl;
    const res = await this.send("checkin", url, message, CHECKIN_CONTENT_TYPE, channel);
    if (res.status < 200 || res.status > 299) {
      throw new MdmHttpError("checkin", String(message.MessageType), res.status, res.body.toString("utf8"));
    }
    return res;
  }

  // The connect loop ------------------------------------------------------------------------------------------

  async connect(options: ConnectOptions = {}): Promise<ConnectSummary> {
    const mdm = this.enrollment();
    const started = performance.now();
    const user = options.user !== undefined ? this.userChannel(options.user) : undefined;
    if (user && !user.userChannelActive) throw new MdmClientError(`user ${user.shortName} has not sent TokenUpdate on the user channel`);
    const channel: CommandChannel = user ? { kind: "user", user } : { kind: "device" };
    const ids: PlistDict = user ? { UDID: this.state.udid, UserID: user.guid, UserShortName: user.shortName } : { UDID: this.state.udid };
    const maxCommands = options.maxCommands ?? 1000;
    const summary: ConnectSummary = { channel: channel.kind, commands: [], requests: 0, durationMs: 0, endedBy: "empty" };
    let report: PlistDict = { ...ids, Status: "Idle" };
    for (;;) {
      const res = await this.send("connect", mdm.settings.serverUrl, report, this.state.behaviour.reportContentType, channel.kind);
      summary.requests++;
      if (res.status !== 200) {
        throw new MdmHttpError("connect", `report ${String(report.Status)}`, res.status, res.body.toString("utf8"));
      }
      if (res.body.length === 0) break;
      if (summary.commands.length >= maxCommands) {
        summary.endedBy = "limit";
        break;
      }
      const parsed = parseCommandEnvelope(parseOrThrow(res.body, "command"));
      if (!parsed.ok) {
        // Without a CommandUUID there is nothing to answer; Apple's client drops the session the same way.
        if (parsed.commandUuid === undefined) throw new MdmClientError(`unreadable command from the server: ${parsed.reason}`);
        report = { ...ids, ...reportFor({ status: "CommandFormatError" }, parsed.commandUuid) };
        continue;
      }
      const { request } = parsed;
      const result = await executeCommand(this.device, channel, request);
      if (result.status === "Unenrolled") {
        // The enrollment (identity, server, push token) is gone: no result is sent and the session ends.
        const processed: ProcessedCommand = {
          commandUuid: request.commandUuid,
          requestType: request.requestType,
          status: result.status,
          channel: channel.kind,
          command: request.command,
        };
        summary.commands.push(processed);
        this.remember(this.processed, processed);
        summary.endedBy = "unenrolled";
        break;
      }
      report = { ...ids, ...reportFor(result, request.commandUuid) };
      const processed: ProcessedCommand = {
        commandUuid: request.commandUuid,
        requestType: request.requestType,
        status: result.status,
        channel: channel.kind,
        command: request.command,
        report,
      };
      summary.commands.push(processed);
      this.remember(this.processed, processed);
      if (result.status === "Acknowledged" && result.afterReport) {
        // The device reports first, then acts; whatever the server answers is not read.
        const last = await this.send("connect", mdm.settings.serverUrl, report, this.state.behaviour.reportContentType, channel.kind);
        summary.requests++;
        if (last.status !== 200) throw new MdmHttpError("connect", `report ${String(report.Status)}`, last.status, last.body.toString("utf8"));
        this.device.afterCommand(result.afterReport);
        summary.endedBy = result.afterReport;
        break;
      }
    }
    if (this.state.mdm) this.state.mdm.lastConnectAt = new Date().toISOString();
    summary.durationMs = performance.now() - started;
    return summary;
  }

  // Plumbing ----------------------------------------------------------------------------------------------------

  private userChannel(shortName: string): LocalUser {
    if (this.state.platform !== "macOS") throw new MdmClientError(`${this.state.platform} has no user channel (only macOS does here)`);
    const mdm = this.enrollment();
    if (!mdm.settings.serverCapabilities.includes("com.apple.mdm.per-user-connections")) {
      throw new MdmClientError("the server does not advertise com.apple.mdm.per-user-connections, so macOS opens no user channel");
    }
    const user = this.state.users.find((u) => u.shortName === shortName);
    if (!user) throw new MdmClientError(`no local user ${shortName} on ${this.state.udid}`);
    return user;
  }

  private requireBootstrapCapability(): MdmEnrollmentState {
    const mdm = this.enrollment();
    if (this.state.platform !== "macOS") throw new MdmClientError("bootstrap tokens exist on macOS only");
    if (!mdm.settings.serverCapabilities.includes("com.apple.mdm.bootstraptoken")) {
      throw new MdmClientError("the server does not advertise com.apple.mdm.bootstraptoken");
    }
    return mdm;
  }

  private async send(
    endpoint: "checkin" | "connect",
    url: string,
    message: PlistDict,
    contentType: string | undefined,
    channel: "device" | "user",
  ): Promise<TransportResponse> {
    const mdm = this.enrollment();
    const body = new Uint8Array(Buffer.from(buildPlist(message), "utf8"));
    const headers: Record<string, string> = { "user-agent": mdmUserAgent(this.state.platform) };
    if (contentType !== undefined) headers["content-type"] = contentType;
    let clientCertificate: { cert: string; key: string } | undefined;
    if (mdm.settings.signMessage) {
      const identity = this.device.keychain.signingIdentity(mdm.settings.identityUuid);
      if (!identity) throw new MdmClientError(`identity ${mdm.settings.identityUuid} is not in the keychain`);
      headers["mdm-signature"] = this.device.signer(body, identity, this.state.behaviour.signatureDigest);
    } else {
      clientCertificate = this.device.keychain.tlsClientCertificate(mdm.settings.identityUuid);
      if (!clientCertificate) throw new MdmClientError(`identity ${mdm.settings.identityUuid} is not in the keychain`);
    }
    const started = performance.now();
    const res = await this.device.transport.request({
      method: "PUT",
      url,
      body,
      headers,
      ca: this.device.keychain.anchorsPem(),
      ...(clientCertificate ? { clientCertificate } : {}),
    });
    const exchange: Exchange = {
      at: new Date().toISOString(),
      endpoint,
      url,
      kind: String(message.MessageType ?? message.Status),
      channel,
      message,
      status: res.status,
      responseBody: res.body,
      durationMs: performance.now() - started,
    };
    this.remember(this.exchanges, exchange);
    this.onExchange?.(exchange);
    return res;
  }

  private remember<T>(list: T[], item: T): void {
    if (this.historySize <= 0) return;
    list.push(item);
    if (list.length > this.historySize) list.splice(0, list.length - this.historySize);
  }
}

function parseOrThrow(body: Uint8Array, what: string): PlistValue {
  try {
    return parsePlist(body);
  } catch (e) {
    if (e instanceof PlistError) throw new MdmClientError(`${what} is not a plist: ${e.message}`);
    throw e;
  }
}

function isDict(v: PlistValue): v is PlistDict {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date) && Object.getPrototypeOf(v) === Object.prototype;
}
