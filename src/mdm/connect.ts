// The connect endpoint's logic: record what the device reports about the last command, then hand it
// the next one (or nothing). One command at a time per enrollment, by priority then age.
import type { Store } from "../store/db.ts";
import type { Outbox } from "../events/outbox.ts";
import { claimNext, completeDelivery, markNotNow, type ReportOutcome } from "../store/command-queue.ts";
import { hotPath, type Gate } from "../store/hot-path.ts";
import type { CommandReport } from "../wire/command-report.ts";
import type { PlistDict } from "../wire/plist.ts";
import { plistJsonReplacer } from "../wire/plist-json.ts";
import type { ResultProcessors } from "./result-processors.ts";
import { resolveChannel } from "./enrollment-id.ts";
import type { IdentityBinding } from "./identity-binding.ts";
import type { DeviceIdentity } from "./device-identity.ts";
import type { MdmResponse } from "./checkin.ts";
import type { SecretBox } from "../secrets/envelope.ts";
import { commandBodyPurpose } from "./sealed-commands.ts";

const RESULT_STATUS = { Acknowledged: "acknowledged", Error: "error", CommandFormatError: "commandformaterror" } as const;
/**
 * last_seen_at is written when it is at least this old: a connect should not always be a write. The gate read
 * brings the stored value along, so no replica keeps a per-device map (memory that grows with the fleet).
 */
const LAST_SEEN_RESOLUTION_MS = 60_000;

export class ConnectService {
  constructor(
    private readonly store: Store,
    private readonly outbox: Outbox,
    private readonly binding: IdentityBinding,
    private readonly results: ResultProcessors,
    private readonly secrets: SecretBox,
  ) {}

  /** `parsed` is the report as the front end parsed it (result processors read it; nothing parses twice). */
  async handle(report: CommandReport, raw: Uint8Array, identity: DeviceIdentity, parsed: PlistDict): Promise<MdmResponse> {
    const channel = resolveChannel(report);
    const idle = report.Status === "Idle";
    const now = Date.now();
    const hp = hotPath(this.store);
    // After Idle the gate also says whether anything is deliverable: most Idle connects then need no other statement.
    const gate: (Gate & { queued?: boolean }) | undefined = idle ? await hp.idleGate(channel.id, now) : await hp.gate(channel.id);
    if (!gate) return { status: 401, reason: `unknown enrollment ${channel.id}` };
    if (gate.status === "checked_out") return { status: 401, reason: `enrollment ${channel.id} has checked out` };
    if (gate.cert_fingerprint !== identity.fingerprint) {
      const verdict = await this.binding.check(channel.deviceId, identity);
      if (!verdict.ok) return { status: verdict.status, reason: verdict.reason };
    }
    if (gate.last_seen_at === null || now - gate.last_seen_at >= LAST_SEEN_RESOLUTION_MS) await hp.touchLastSeen(channel.id, now);

    if (report.Status !== "Idle") {
      const outcome = report.Status === "NotNow" ? await this.notNow(channel.id, report.CommandUUID as string, now) : await this.result(channel.id, report, raw, parsed, now);
      if (outcome === "unknown") return { status: 400, reason: `command ${report.CommandUUID} was not sent to enrollment ${channel.id}` };
    }

    if (gate.queued === false) return { status: 200 };
    const next = await claimNext(this.store, channel.id, idle, now);
    if (!next) return { status: 200 };
    // Commands that carry secrets are stored sealed and opened only here, as they leave for the device.
    const body = next.bodySealed ? this.secrets.openString(next.bodySealed, commandBodyPurpose(next.commandUuid)) : next.body;
    return { status: 200, contentType: "application/xml", body };
  }

  private async notNow(enrollmentId: string, uuid: string, now: number): Promise<ReportOutcome> {
    return this.store.transaction(async (tx) => {
      const outcome = await markNotNow(tx, enrollmentId, uuid, now);
      if (outcome === "recorded") await this.outbox.record(tx, "command.notnow", { commandUuid: uuid, enrollmentId });
      return outcome;
    });
  }

  /** A final result: stored, processed by its RequestType's processors and its events recorded, in one transaction. */
  private async result(enrollmentId: string, report: CommandReport, raw: Uint8Array, parsed: PlistDict, now: number): Promise<ReportOutcome> {
    const uuid = report.CommandUUID as string;
    const status = RESULT_STATUS[report.Status as keyof typeof RESULT_STATUS];
    const errorChain = report.ErrorChain ? JSON.stringify(report.ErrorChain, plistJsonReplacer) : null;
    return this.store.transaction(async (tx) => {
      const outcome = await completeDelivery(tx, enrollmentId, uuid, status, raw, errorChain, now);
      if (outcome !== "recorded") return outcome;
      const requestType = (await hotPath(tx).requestType(uuid)) ?? null;
      if (requestType !== null && this.results.has(requestType)) await this.results.run(tx, { enrollmentId, commandUuid: uuid, requestType, status, report: parsed, completedAt: now });
      await this.outbox.record(tx, "command.completed", {
        commandUuid: uuid,
        requestType,
        enrollmentId,
        status,
        raw,
        errorChain: errorChain === null ? null : (JSON.parse(errorChain) as unknown[]),
      });
      return outcome;
    });
  }
}
