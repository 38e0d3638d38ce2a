// Queuing commands for devices: validated against Apple's schema, checked against what each target may
// execute (platform, channel, supervision, User Enrollment, the access rights of its enrollment profile),
// built once into the plist devices receive, and queued to every target in one transaction.
import { randomUUID } from "node:crypto";
import type { Executor, Store, Tx } from "../store/db.ts";
import type { Actor } from "../events/actor.ts";
import type { AuditLog } from "../events/audit-log.ts";
import type { Outbox } from "../events/outbox.ts";
import { cancelOutstanding, commandCounts, type CancelOutcome, commandTargets, getCommand, insertCommand, type TargetState } from "../store/command-queue.ts";
import { enrollmentsForTargeting } from "../store/enrollments.ts";
import { buildPlist, parsePlist, PlistError, type PlistDict, type PlistValue } from "../wire/plist.ts";
import { jsonDictToPlist, JsonToPlistError } from "../wire/json-to-plist.ts";
import { checkCommandAllowed, commandSchema, formatProblems, validateCommandParams, ALL_ACCESS_RIGHTS, type Platform } from "../wire/schema/index.ts";
import { plistJsonReplacer } from "../wire/plist-json.ts";
import { installProfilePayloadProblem } from "../wire/schema/install-profile-payload.ts";
import { commandBodyPurpose, sealsBody } from "./sealed-commands.ts";
import type { SecretBox } from "../secrets/envelope.ts";

export class CommandError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface QueueOptions {
  targets: string[];
  priority?: number;
  /** Epoch ms after which the command is no longer delivered. */
  expiresAt?: number | null;
  /** Who queues it: the command's createdBy and the actor of its audit entry. */
  createdBy: Actor;
  /** Queue to the targets that may receive the command and list the others, instead of refusing the batch. */
  skipRefused?: boolean;
  /** The CommandUUID to use instead of a random one (inventory collection marks its commands by a prefix). */
  commandUuid?: string;
}

export interface Refusal {
  enrollmentId: string;
  reason: string;
}

export interface QueuedCommand {
  commandUuid: string;
  requestType: string;
  targets: number;
  /** With skipRefused: the targets not queued, and why (at most REFUSED_LIST_LIMIT). */
  refused?: Refusal[];
}

/**
 * The AccessRights an enrollment profile granted; undefined for devices enrolled without a known profile. Reads
 * through `ex` (a caller's transaction, when queueing inside one).
 */
export type AccessRightsLookup = (enrollmentProfileId: string, ex: Executor) => Promise<number | undefined>;

/** The UnlockToken a device escrowed at TokenUpdate, for ClearPasscode (read through `ex`). */
export type UnlockTokenLookup = (enrollmentId: string, ex: Executor) => Promise<Uint8Array | undefined>;

export const MAX_TARGETS = 100_000;
/** Targets named in a command's audit entry; the rest are counted (GET /commands/{uuid} lists them all). */
const AUDITED_TARGETS = 20;
export const REFUSED_LIST_LIMIT = 1000;
export { CANCEL_LIST_LIMIT } from "../store/command-queue.ts";
const UUID_RE = /^[0-9A-Za-z._-]{1,100}$/;

export class CommandService {
  constructor(
    private readonly store: Store,
    private readonly outbox: Outbox,
    private readonly secrets: SecretBox,
    private readonly audit: AuditLog,
    private readonly accessRightsOf: AccessRightsLookup = async () => undefined,
    private readonly unlockTokenOf: UnlockTokenLookup = async () => undefined,
  ) {}

  /** Queues a command given as JSON parameters (converted to plist types by the schema). */
  async queue(requestType: string, params: Record<string, unknown>, opts: QueueOptions): Promise<QueuedCommand> {
    return this.queueJson(undefined, requestType, params, opts);
  }

  /**
   * The same, in the caller's transaction: the command commits (or rolls back) with the caller's other writes, e.g.
   * identity renewal's one-time challenge and the InstallProfile that carries it. Every read goes through `tx`.
   */
  async queueIn(tx: Tx, requestType: string, params: Record<string, unknown>, opts: QueueOptions): Promise<QueuedCommand> {
    return this.queueJson(tx, requestType, params, opts);
  }

  private async queueJson(tx: Tx | undefined, requestType: string, params: Record<string, unknown>, opts: QueueOptions): Promise<QueuedCommand> {
    const schema = commandSchema(requestType);
    if (!schema) throw new CommandError(400, `"${requestType}" is not a command in Apple's device-management schema`);
    let command: PlistDict;
    try {
      command = jsonDictToPlist(params, schema.request, "params");
    } catch (e) {
      if (e instanceof JsonToPlistError) throw new CommandError(400, e.message);
      throw e;
    }
    const uuid = opts.commandUuid ?? randomUUID();
    if (!UUID_RE.test(uuid)) throw new CommandError(400, "CommandUUID must be a short string of letters, digits, '.', '_' or '-'");
    return this.queueBuilt(tx, requestType, command, uuid, opts);
  }

  /** Queues a command given as a complete command plist ({CommandUUID?, Command: {RequestType, …}}). */
  async queueRaw(plist: Uint8Array, opts: QueueOptions): Promise<QueuedCommand> {
    let value: PlistValue;
    try {
      value = parsePlist(plist);
    } catch (e) {
      if (e instanceof PlistError) throw new CommandError(400, `malformed command plist: ${e.message}`);
      throw e;
    }
    if (!isDict(value) || !isDict(value.Command)) throw new CommandError(400, "a command plist is a dictionary with a Command dictionary");
    const { RequestType: requestType, ...params } = value.Command;
    if (typeof requestType !== "string") throw new CommandError(400, "Command.RequestType must be a string");
    const uuid = value.CommandUUID ?? randomUUID();
    if (typeof uuid !== "string" || !UUID_RE.test(uuid)) throw new CommandError(400, "CommandUUID must be a short string of letters, digits, '.', '_' or '-'");
    return this.queueBuilt(undefined, requestType, params, uuid, opts);
  }

  private async queueBuilt(outer: Tx | undefined, requestType: string, params: PlistDict, uuid: string, opts: QueueOptions): Promise<QueuedCommand> {
    // Inside a caller's transaction every read goes through it (on SQLite a read beside it would wait forever).
    const ex: Executor = outer ?? this.store;
    if (requestType === "ClearPasscode" && params.UnlockToken === undefined) params = await this.withUnlockToken(ex, params, opts.targets);
    // As strict as the top level: a misspelt key would otherwise be sent, ignored by the device, and look like success.
    const problems = validateCommandParams(requestType, params, { reportUnknownKeys: true });
    if (problems.length) throw new CommandError(400, `invalid ${requestType} command: ${formatProblems(problems)}`, problems);
    if (requestType === "InstallProfile" && params.Payload instanceof Uint8Array) {
      const problem = installProfilePayloadProblem(params.Payload);
      if (problem) throw new CommandError(400, `invalid InstallProfile command: ${problem}`);
    }
    const now = Date.now();
    if (opts.expiresAt != null && opts.expiresAt <= now) throw new CommandError(400, `expiresAt ${new Date(opts.expiresAt).toISOString()} is in the past: the command would never be delivered`);
    let targets = [...new Set(opts.targets)];
    if (targets.length === 0) throw new CommandError(400, "at least one target enrollment is required");
    if (targets.length > MAX_TARGETS) throw new CommandError(400, `at most ${MAX_TARGETS} targets per command`);
    const refused = await this.checkTargets(ex, requestType, params, targets, opts.skipRefused ?? false);
    if (refused.length) {
      const out = new Set(refused.map((r) => r.enrollmentId));
      targets = targets.filter((t) => !out.has(t));
      if (targets.length === 0) throw new CommandError(409, `${requestType} cannot be sent to any of the targets: ${refused[0]!.reason}`, { refused: refused.slice(0, REFUSED_LIST_LIMIT) });
    }

    const plist = buildPlist({ CommandUUID: uuid, Command: { RequestType: requestType, ...params } });
    // A command that can carry secrets is stored sealed (sealed-commands.ts); the connect service opens it at delivery.
    const sealed = sealsBody(requestType);
    const body = sealed ? "" : plist;
    const bodySealed = sealed ? this.secrets.seal(plist, commandBodyPurpose(uuid)) : null;
    try {
      // The command, its queue rows and the pushes it owes commit together (the outbox).
      const write = async (tx: Tx) => {
        await insertCommand(tx, { uuid, requestType, body, bodySealed, priority: opts.priority ?? 0, expiresAt: opts.expiresAt ?? null, createdBy: opts.createdBy }, targets, now);
        await this.outbox.record(tx, "command.queued", { commandUuid: uuid, requestType, targets });
        // Who queued what to which devices: the first targets by id (the command's own page lists them all).
        await this.audit.record(tx, {
          actor: opts.createdBy,
          action: "command.queue",
          target: targets.length === 1 ? targets[0]! : null,
          detail: {
            commandUuid: uuid,
            requestType,
            targetCount: targets.length,
            targets: targets.slice(0, AUDITED_TARGETS),
            ...(opts.priority ? { priority: opts.priority } : {}),
            ...(opts.expiresAt != null ? { expiresAt: new Date(opts.expiresAt).toISOString() } : {}),
            ...(refused.length ? { refused: refused.length } : {}),
          },
        });
      };
      if (outer) await write(outer);
      else await this.store.transaction(write);
    } catch (e) {
      if (/unique|duplicate/i.test((e as Error).message)) throw new CommandError(409, `a command with CommandUUID ${uuid} already exists`);
      throw e;
    }
    const queued: QueuedCommand = { commandUuid: uuid, requestType, targets: targets.length };
    if (opts.skipRefused) queued.refused = refused.slice(0, REFUSED_LIST_LIMIT);
    return queued;
  }

  /** ClearPasscode needs the device's own escrowed UnlockToken, so it goes to one device at a time. */
  private async withUnlockToken(ex: Executor, params: PlistDict, targets: string[]): Promise<PlistDict> {
    const unique = [...new Set(targets)];
    if (unique.length !== 1) throw new CommandError(400, "ClearPasscode carries the device's own UnlockToken: queue it to one enrollment at a time");
    const token = await this.unlockTokenOf(unique[0]!, ex);
    if (!token) throw new CommandError(409, `no UnlockToken is escrowed for ${unique[0]} (the device sends one at TokenUpdate when the enrollment grants device lock and passcode removal)`);
    return { ...params, UnlockToken: token };
  }

  /**
   * What each target may not receive: unknown or checked-out enrollments, commands the schema does not allow it
   * (platform, channel, supervision, access rights), and keys of the command that do not exist for it (a
   * macOS-only key sent to an iPhone). Throws on the first kind of refusal unless `skipRefused`; returns the refusals.
   */
  private async checkTargets(ex: Executor, requestType: string, params: PlistDict, targets: string[], skipRefused: boolean): Promise<Refusal[]> {
    const rows = await enrollmentsForTargeting(ex, targets);
    const found = new Map(rows.map((r) => [r.id, r]));
    const unknown = targets.filter((t) => !found.has(t));
    if (unknown.length && !skipRefused) throw new CommandError(404, `unknown enrollment${unknown.length > 1 ? "s" : ""}: ${unknown.slice(0, 10).join(", ")}${unknown.length > 10 ? ", …" : ""}`, { unknown: unknown.slice(0, 100) });

    const refusals: Refusal[] = unknown.map((enrollmentId) => ({ enrollmentId, reason: "unknown enrollment" }));
    const rightsCache = new Map<string, number | undefined>();
    // The keys' problems depend only on the kind of target: validate once per kind, not once per target.
    const keyProblems = new Map<string, string | undefined>();
    for (const row of rows) {
      if (row.status === "checked_out") {
        refusals.push({ enrollmentId: row.id, reason: "the enrollment has checked out (the device removed its MDM profile)" });
        continue;
      }
      const platform = schemaPlatform(row.platform);
      if (!platform) continue; // Not yet known (no Authenticate facts): nothing to hold against the command.
      let rights = ALL_ACCESS_RIGHTS;
      if (row.enrollment_profile_id) {
        if (!rightsCache.has(row.enrollment_profile_id)) rightsCache.set(row.enrollment_profile_id, await this.accessRightsOf(row.enrollment_profile_id, ex));
        rights = rightsCache.get(row.enrollment_profile_id) ?? ALL_ACCESS_RIGHTS;
      }
      const userEnrollment = row.kind === "user-enrollment";
      const sharedIPad = row.kind === "shared-ipad";
      const verdict = checkCommandAllowed(requestType, {
        platform,
        ...(row.os_version ? { osVersion: row.os_version } : {}),
        channel: row.channel,
        // Supervision is learnt from DeviceInformation; until then it is not held against a command.
        supervised: row.supervised === null ? true : row.supervised === 1,
        userEnrollment,
        sharedIPad,
        accessRights: rights,
      });
      if (!verdict.ok) {
        refusals.push({ enrollmentId: row.id, reason: verdict.reason });
        continue;
      }
      const kind = `${platform}|${row.channel}|${userEnrollment}|${sharedIPad}`;
      if (!keyProblems.has(kind)) {
        const problems = validateCommandParams(requestType, params, { reportUnknownKeys: true, reportInapplicableKeys: true, context: { platform, channel: row.channel, userEnrollment, sharedIPad } });
        keyProblems.set(kind, problems.length ? formatProblems(problems).replace(/\n/g, "; ") : undefined);
      }
      const problem = keyProblems.get(kind);
      if (problem) refusals.push({ enrollmentId: row.id, reason: problem });
    }
    if (refusals.length && !skipRefused) {
      const first = refusals[0]!;
      throw new CommandError(409, `${requestType} cannot be sent to ${refusals.length === 1 ? first.enrollmentId : `${refusals.length} of the targets`}: ${first.reason}`, { refused: refusals.slice(0, 100) });
    }
    return refusals;
  }

  /** A command, how many targets are in each state, and one page of targets (enrollment-id order). */
  async status(uuid: string, page: { limit: number; after?: string }): Promise<CommandStatus | undefined> {
    const cmd = await getCommand(this.store, uuid);
    if (!cmd) return undefined;
    const now = Date.now();
    const lapsed = cmd.expires_at !== null && cmd.expires_at <= now;
    const counts: Record<TargetView["status"], number> = { pending: 0, notnow: 0, acknowledged: 0, error: 0, commandformaterror: 0, expired: 0, cancelled: 0 };
    for (const [status, n] of Object.entries(await commandCounts(this.store, uuid))) {
      const view: TargetView["status"] = status === "sent" ? "pending" : (status as TargetView["status"]);
      // Outstanding rows past the command's expiry are expired before the retention job moves them.
      counts[lapsed && (view === "pending" || view === "notnow") ? "expired" : view] += n;
    }
    const rows = await commandTargets(this.store, uuid, page.limit + 1, page.after);
    const targets = rows.slice(0, page.limit).map((t) => targetView(t, cmd.expires_at, now));
    return {
      commandUuid: cmd.uuid,
      requestType: cmd.request_type,
      createdAt: cmd.created_at,
      expiresAt: cmd.expires_at,
      total: Object.values(counts).reduce((a, b) => a + b, 0),
      counts,
      targets,
      nextCursor: rows.length > page.limit ? (targets[targets.length - 1]?.enrollmentId ?? null) : null,
    };
  }

  /**
   * Cancels the command for every target not yet sent it; with `force`, also for targets that were sent it and
   * have not answered (they are not sent it again). Says per target why the command stays where it does.
   */
  async cancel(uuid: string, actor: Actor, opts: { force?: boolean } = {}): Promise<CancelOutcome | undefined> {
    return this.store.transaction(async (tx) => {
      const command = await getCommand(tx, uuid);
      if (!command) return undefined;
      const outcome = await cancelOutstanding(tx, uuid, Date.now(), opts.force ?? false);
      await this.audit.record(tx, {
        actor,
        action: "command.cancel",
        target: null,
        detail: { commandUuid: uuid, requestType: command.request_type, cancelled: outcome.cancelled, notCancelled: outcome.notCancelledTotal, force: opts.force ?? false },
      });
      return outcome;
    });
  }
}

export interface CommandStatus {
  commandUuid: string;
  requestType: string;
  createdAt: number;
  expiresAt: number | null;
  total: number;
  counts: Record<TargetView["status"], number>;
  targets: TargetView[];
  nextCursor: string | null;
}

export interface TargetView {
  enrollmentId: string;
  status: "pending" | "acknowledged" | "error" | "commandformaterror" | "notnow" | "expired" | "cancelled";
  /** pending covers queued and sent-without-answer; this says which. */
  delivered: boolean;
  updatedAt: string | null;
  result: Record<string, unknown> | null;
  errorChain: unknown[] | null;
}

function targetView(t: TargetState, expiresAt: number | null, now: number): TargetView {
  let status: TargetView["status"];
  if (t.status === "sent") status = "pending";
  else status = t.status;
  // A row past its expiry is expired even before the retention job moves it.
  if ((status === "pending" || status === "notnow") && expiresAt !== null && expiresAt <= now) status = "expired";
  let result: Record<string, unknown> | null = null;
  if (t.raw) {
    try {
      const parsed = parsePlist(t.raw);
      result = JSON.parse(JSON.stringify(parsed, plistJsonReplacer)) as Record<string, unknown>;
    } catch {
      result = null;
    }
  }
  return {
    enrollmentId: t.enrollmentId,
    status,
    delivered: t.status === "sent",
    updatedAt: t.updatedAt === null ? null : new Date(t.updatedAt).toISOString(),
    result,
    errorChain: t.errorChain ? (JSON.parse(t.errorChain) as unknown[]) : null,
  };
}

function schemaPlatform(p: string | null): Platform | undefined {
  if (p === "iPadOS") return "iOS";
  if (p === "iOS" || p === "macOS" || p === "tvOS" || p === "visionOS" || p === "watchOS") return p;
  return undefined;
}

function isDict(v: PlistValue | undefined): v is PlistDict {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date) && v.constructor === Object;
}
