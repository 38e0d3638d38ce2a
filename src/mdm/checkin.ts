// The check-in protocol: Authenticate, TokenUpdate, CheckOut, bootstrap tokens, UserAuthenticate,
// DeclarativeManagement, GetToken and ReturnToService. One method per message; the HTTP route has already
// parsed the body and established the device's certificate.
import type { Logger } from "pino";
import type { Executor, Store, Tx } from "../store/db.ts";
import type { SecretBox } from "../secrets/envelope.ts";
import type { Outbox } from "../events/outbox.ts";
import { buildPlist } from "../wire/plist.ts";
import type {
  AuthenticateMessage,
  CheckinMessage,
  CheckOutMessage,
  DeclarativeManagementMessage,
  GetBootstrapTokenMessage,
  GetTokenMessage,
  ReturnToServiceMessage,
  SetBootstrapTokenMessage,
  TokenUpdateMessage,
  UserAuthenticateMessage,
} from "../wire/checkin-message.ts";
import { countUserChannelsForUpdate, getEnrollment, insertEnrollment, updateDeviceChannels, updateEnrollment, type EnrollmentRow } from "../store/enrollments.ts";
import { platformOf, resolveChannel, type ChannelIdentity } from "./enrollment-id.ts";
import type { IdentityBinding } from "./identity-binding.ts";
import type { DeviceIdentity } from "./device-identity.ts";

export interface MdmResponse {
  status: number;
  body?: Uint8Array | string;
  contentType?: string;
  /** Why a request was refused; logged, and sent as the body of a 4xx. */
  reason?: string;
}

export type DeclarativeManagementHandler = (enrollmentId: string, msg: DeclarativeManagementMessage) => Promise<MdmResponse>;
export type GetTokenHandler = (enrollmentId: string, msg: GetTokenMessage) => Promise<Uint8Array>;
export type ReturnToServiceHandler = (enrollmentId: string, msg: ReturnToServiceMessage) => Promise<MdmResponse>;

export interface CheckinOptions {
  /**
   * "decline" answers UserAuthenticate with 410 (the user channel proceeds without authentication);
   * "empty-challenge" answers with a zero-length DigestChallenge and accepts the DigestResponse that follows.
   */
  userAuthenticate: "decline" | "empty-challenge";
  declarativeManagement?: DeclarativeManagementHandler;
  /** Handlers per TokenServiceType (e.g. com.apple.maid, com.apple.watch.pairing). */
  getToken: Map<string, GetTokenHandler>;
  returnToService?: ReturnToServiceHandler;
  /**
   * Most user channels (macOS users, Shared iPad users) one device may have: each is a row created by the device's
   * own TokenUpdate, so without a bound one device could create any number of them.
   */
  maxUserChannels: number;
}

/** Which enrollment profile issued the certificate a device authenticates with, when Orchard knows. */
export type ProfileOfCertificate = (ex: Executor, fingerprint: string) => Promise<string | null | undefined>;

const PURPOSE_UNLOCK = "enrollment.unlock-token";
const PURPOSE_BOOTSTRAP = "enrollment.bootstrap-token";
const PLIST = "application/xml";

export class CheckinService {
  constructor(
    private readonly store: Store,
    private readonly secrets: SecretBox,
    private readonly outbox: Outbox,
    private readonly binding: IdentityBinding,
    private readonly logger: Logger,
    private readonly options: CheckinOptions,
    private readonly profileOfCertificate: ProfileOfCertificate = async () => undefined,
  ) {}

  /**
   * Each message is one transaction: its writes, the identity binding and the events it causes (the raw
   * check-in feed included) commit together or not at all.
   */
  async handle(msg: CheckinMessage, raw: Uint8Array, identity: DeviceIdentity): Promise<MdmResponse> {
    const channel = resolveChannel(msg);
    if (msg.MessageType === "Authenticate") return this.store.transaction((tx) => this.authenticate(tx, msg, channel, identity, raw));

    const verdict = await this.binding.check(channel.deviceId, identity);
    if (!verdict.ok) return { status: verdict.status, reason: verdict.reason };
    return this.store.transaction(async (tx) => {
      const res = await this.dispatch(tx, msg, channel, identity);
      if (res.status < 400) await this.outbox.record(tx, "checkin.received", { enrollmentId: channel.id, messageType: msg.MessageType, raw });
      return res;
    });
  }

  private async dispatch(tx: Tx, msg: Exclude<CheckinMessage, AuthenticateMessage>, channel: ChannelIdentity, identity: DeviceIdentity): Promise<MdmResponse> {
    switch (msg.MessageType) {
      case "TokenUpdate":
        return this.tokenUpdate(tx, msg, channel, identity);
      case "CheckOut":
        return this.checkOut(tx, msg, channel);
      case "SetBootstrapToken":
        return this.setBootstrapToken(tx, msg, channel);
      case "GetBootstrapToken":
        return this.getBootstrapToken(tx, msg, channel);
      case "UserAuthenticate":
        return this.userAuthenticate(msg);
      case "DeclarativeManagement":
        if (!this.options.declarativeManagement) return { status: 404, reason: "declarative management is not enabled on this server" };
        return this.options.declarativeManagement(channel.id, msg);
      case "GetToken":
        return this.getToken(msg, channel);
      case "ReturnToService":
        if (!this.options.returnToService) return { status: 404, reason: "Return to Service is not configured on this server" };
        return this.options.returnToService(channel.id, msg);
    }
  }

  private async authenticate(tx: Tx, msg: AuthenticateMessage, channel: ChannelIdentity, identity: DeviceIdentity, raw: Uint8Array): Promise<MdmResponse> {
    if (channel.channel !== "device") return { status: 400, reason: "Authenticate is only sent on the device channel" };
    const verdict = await this.binding.checkForAuthenticate(tx, channel.deviceId, identity);
    if (!verdict.ok) return { status: verdict.status, reason: verdict.reason };

    const now = Date.now();
    const existing = await getEnrollment(tx, channel.id);
    const profileId = (await this.profileOfCertificate(tx, identity.fingerprint)) ?? existing?.enrollment_profile_id ?? null;
    // A User Enrollment's device identifiers are the person's, not the organisation's (Apple's data separation):
    // never kept, even when a device sends them.
    const personal = channel.kind === "user-enrollment";
    const facts = {
      serial_number: personal ? null : (given(msg.SerialNumber) ?? existing?.serial_number ?? null),
      model: given(msg.Model) ?? existing?.model ?? null,
      model_name: given(msg.ModelName) ?? existing?.model_name ?? null,
      product_name: given(msg.ProductName) ?? existing?.product_name ?? null,
      os_version: given(msg.OSVersion) ?? existing?.os_version ?? null,
      build_version: given(msg.BuildVersion) ?? existing?.build_version ?? null,
      device_name: given(msg.DeviceName) ?? existing?.device_name ?? null,
      imei: personal ? null : (given(msg.IMEI) ?? existing?.imei ?? null),
      meid: personal ? null : (given(msg.MEID) ?? existing?.meid ?? null),
    };
    const platform = platformOf(facts.product_name, facts.model) ?? existing?.platform ?? null;
    if (existing) {
      // A re-enrollment: the device is not managed again until its TokenUpdate, but it keeps its
      // history and its queue (a re-installed profile must not lose pending work).
      await updateEnrollment(tx, channel.id, {
        ...facts,
        platform,
        status: "authenticated",
        cert_fingerprint: identity.fingerprint,
        enrollment_profile_id: profileId,
        topic: given(msg.Topic) ?? existing.topic,
        authenticated_at: now,
        checked_out_at: null,
        updated_at: now,
      });
    } else {
      await insertEnrollment(tx, {
        ...emptyEnrollment(channel, now),
        ...facts,
        platform,
        status: "authenticated",
        cert_fingerprint: identity.fingerprint,
        enrollment_profile_id: profileId,
        topic: given(msg.Topic) ?? null,
        authenticated_at: now,
      });
    }
    await this.binding.bind(tx, channel.deviceId, identity.fingerprint);
    await this.outbox.record(tx, "enrollment.authenticated", {
      enrollmentId: channel.id,
      deviceId: channel.deviceId,
      serialNumber: facts.serial_number,
      enrollmentProfileId: profileId,
      reenrollment: existing !== undefined,
    });
    await this.outbox.record(tx, "checkin.received", { enrollmentId: channel.id, messageType: msg.MessageType, raw });
    return { status: 200 };
  }

  private async tokenUpdate(tx: Tx, msg: TokenUpdateMessage, channel: ChannelIdentity, identity: DeviceIdentity): Promise<MdmResponse> {
    const now = Date.now();
    const device = await getEnrollment(tx, channel.deviceId);
    if (!device || device.status === "checked_out") return { status: 401, reason: `device ${channel.deviceId} is not enrolled (Authenticate first)` };
    // Token and PushMagic are what a push needs: empty ones would be stored and every push to them would fail.
    if (msg.Token.length === 0) return { status: 400, reason: "TokenUpdate with an empty Token" };
    if (given(msg.PushMagic) === undefined) return { status: 400, reason: "TokenUpdate with an empty PushMagic" };
    let row: EnrollmentRow | undefined = channel.channel === "device" ? device : await getEnrollment(tx, channel.id);
    const topic = given(msg.Topic);
    const userLongName = given(msg.UserLongName);
    const patch = {
      topic: topic ?? row?.topic ?? device.topic,
      push_token: Buffer.from(msg.Token).toString("hex"),
      push_magic: msg.PushMagic,
      token_invalid_at: null,
      awaiting_configuration: msg.AwaitingConfiguration ? 1 : 0,
      not_on_console: msg.NotOnConsole ? 1 : 0,
      updated_at: now,
      // Devices send <data></data> when they have no unlock token: nothing escrowed, and a known one is kept.
      ...(msg.UnlockToken !== undefined && msg.UnlockToken.length > 0 ? { unlock_token_sealed: this.secrets.seal(msg.UnlockToken, PURPOSE_UNLOCK) } : {}),
      ...(userLongName !== undefined ? { user_long_name: userLongName } : {}),
    };
    if (!row) {
      // A user channel's first TokenUpdate creates it: macOS user channels never send Authenticate. Counted in
      // this transaction, so the count is the one the insert below adds to.
      const channels = await countUserChannelsForUpdate(tx, channel.deviceId);
      if (channels >= this.options.maxUserChannels) {
        return {
          status: 403,
          reason: `device ${channel.deviceId} already has ${channels} user channels, the most allowed (ORCHARD_MAX_USER_CHANNELS_PER_DEVICE=${this.options.maxUserChannels}): refusing a new one for ${channel.id}`,
        };
      }
      row = {
        ...emptyEnrollment(channel, now),
        platform: device.platform,
        serial_number: device.serial_number,
        enrollment_profile_id: device.enrollment_profile_id,
        cert_fingerprint: identity.fingerprint,
        status: "authenticated",
        ...patch,
        unlock_token_sealed: null,
      };
      await insertEnrollment(tx, row);
    } else {
      await updateEnrollment(tx, channel.id, patch);
    }
    const activating = row.status !== "active";
    if (activating) {
      await updateEnrollment(tx, channel.id, { status: "active", activated_at: now, checked_out_at: null });
      await this.outbox.record(tx, "enrollment.activated", { enrollmentId: channel.id, deviceId: channel.deviceId, channel: channel.channel });
    }
    await this.outbox.record(tx, "enrollment.token_updated", { enrollmentId: channel.id, deviceId: channel.deviceId });
    return { status: 200 };
  }

  private async checkOut(tx: Tx, _msg: CheckOutMessage, channel: ChannelIdentity): Promise<MdmResponse> {
    const now = Date.now();
    const patch = { status: "checked_out" as const, checked_out_at: now, updated_at: now };
    // Removing the enrollment profile unenrolls the device and every user channel on it.
    if (channel.channel === "device") await updateDeviceChannels(tx, channel.deviceId, patch);
    else await updateEnrollment(tx, channel.id, patch);
    await this.outbox.record(tx, "enrollment.checked_out", { enrollmentId: channel.id, deviceId: channel.deviceId });
    return { status: 200 };
  }

  private async setBootstrapToken(tx: Tx, msg: SetBootstrapTokenMessage, channel: ChannelIdentity): Promise<MdmResponse> {
    if (channel.channel !== "device") return { status: 400, reason: "SetBootstrapToken is only sent on the device channel" };
    // An absent BootstrapToken is the device asking the server to forget the escrowed one.
    const sealed = msg.BootstrapToken && msg.BootstrapToken.length > 0 ? this.secrets.seal(msg.BootstrapToken, PURPOSE_BOOTSTRAP) : null;
    await updateEnrollment(tx, channel.id, { bootstrap_token_sealed: sealed, updated_at: Date.now() });
    if (sealed) await this.outbox.record(tx, "bootstrap_token.escrowed", { enrollmentId: channel.id });
    return { status: 200 };
  }

  private async getBootstrapToken(tx: Tx, _msg: GetBootstrapTokenMessage, channel: ChannelIdentity): Promise<MdmResponse> {
    const row = await getEnrollment(tx, channel.deviceId);
    const token = row?.bootstrap_token_sealed ? this.secrets.open(row.bootstrap_token_sealed, PURPOSE_BOOTSTRAP) : undefined;
    return { status: 200, contentType: PLIST, body: buildPlist(token ? { BootstrapToken: new Uint8Array(token) } : {}) };
  }

  private async userAuthenticate(msg: UserAuthenticateMessage): Promise<MdmResponse> {
    if (this.options.userAuthenticate === "decline") return { status: 410, reason: "user authentication is not required" };
    if (msg.DigestResponse === undefined) return { status: 200, contentType: PLIST, body: buildPlist({ DigestChallenge: "" }) };
    return { status: 200 };
  }

  private async getToken(msg: GetTokenMessage, channel: ChannelIdentity): Promise<MdmResponse> {
    const handler = this.options.getToken.get(msg.TokenServiceType);
    if (!handler) return { status: 400, reason: `unsupported TokenServiceType "${msg.TokenServiceType}"` };
    const token = await handler(channel.id, msg);
    return { status: 200, contentType: PLIST, body: buildPlist({ TokenData: token }) };
  }

  /** The escrowed unlock token of an enrollment (for ClearPasscode), opened from its sealed form. */
  async unlockToken(enrollmentId: string, ex: Executor = this.store): Promise<Uint8Array | undefined> {
    const row = await getEnrollment(ex, enrollmentId);
    return row?.unlock_token_sealed ? new Uint8Array(this.secrets.open(row.unlock_token_sealed, PURPOSE_UNLOCK)) : undefined;
  }
}

/**
 * A string value as a fact, or undefined when the device sent it empty: devices send <string></string> for what
 * they do not have (IMEI and MEID on a Wi-Fi-only iPad), which means absent, and must not replace a known value.
 */
function given(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === "" ? undefined : s;
}

function emptyEnrollment(channel: ChannelIdentity, now: number): EnrollmentRow {
  return {
    id: channel.id,
    device_id: channel.deviceId,
    channel: channel.channel,
    kind: channel.kind,
    status: "authenticated",
    cert_fingerprint: null,
    enrollment_profile_id: null,
    udid: channel.udid,
    enrollment_user_id: channel.enrollmentUserId,
    serial_number: null,
    platform: null,
    model: null,
    model_name: null,
    product_name: null,
    os_version: null,
    build_version: null,
    device_name: null,
    imei: null,
    meid: null,
    user_id: channel.userId,
    user_short_name: channel.userShortName,
    user_long_name: null,
    supervised: null,
    topic: null,
    push_token: null,
    push_magic: null,
    token_invalid_at: null,
    unlock_token_sealed: null,
    bootstrap_token_sealed: null,
    awaiting_configuration: 0,
    not_on_console: 0,
    last_seen_at: now,
    last_push_at: null,
    last_push_result: null,
    authenticated_at: null,
    activated_at: null,
    checked_out_at: null,
    created_at: now,
    updated_at: now,
  };
}
