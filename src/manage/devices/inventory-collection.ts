// Inventory collection (issue 17, item 2): queues a device's inventory plan (inventory-plan.ts) when its device
// channel becomes active, again on a schedule, and when an operator asks. Each collection runs in one
// transaction that locks the device row, so the plan's commands are queued together and never twice: a request
// type that still has an outstanding inventory command for the device is skipped. Inventory commands are marked
// by their CommandUUID prefix (not their creator: an operator's refresh is audited under the operator's name and
// must still count), queued below admin commands (priority -10) and expire after an hour, so a device that is
// away does not collect a backlog of stale questions.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Executor, Store, Tx } from "../../store/db.ts";
import type { Outbox } from "../../events/outbox.ts";
import { systemActor, type Actor } from "../../events/actor.ts";
import { enqueueJob } from "../../store/jobs.ts";
import { getEnrollment } from "../../store/enrollments.ts";
import { dropInventoryDue, dueForInventory, lockDevice, outstandingInventoryTypes, setInventoryDue, type DeviceRow } from "../../store/devices.ts";
import type { EnrollmentsTable } from "../../store/schema.ts";
import { CommandError, type CommandService } from "../../mdm/commands.ts";
import { ALL_ACCESS_RIGHTS, type Platform } from "../../wire/schema/index.ts";
import { deriveEnrollmentType } from "./enrollment-type.ts";
import { InventoryPlanError, planInventory, type InventoryTarget } from "./inventory-plan.ts";

export const INVENTORY_COLLECT_JOB = "inventory.collect";
export const INVENTORY_SCHEDULE_JOB = "inventory.schedule";
export const INVENTORY_ACTOR: Actor = systemActor("inventory");
/** Below admin commands (0): a device answers what an admin asked before the routine inventory. */
export const INVENTORY_PRIORITY = -10;
export const INVENTORY_EXPIRY_MS = 3_600_000;
/** The CommandUUID prefix that marks a command as inventory collection's. */
export const INVENTORY_UUID_PREFIX = "inventory-";
/** Devices one schedule run collects at most; the rest wait for the next run (every 5 minutes). */
export const INVENTORY_BATCH = 2_000;
/**
 * How long one schedule run works at most. The job's lease is a minute: a run that outlasted it could be claimed
 * again by another worker while still running. What is left over is still due at the next run.
 */
export const INVENTORY_RUN_BUDGET_MS = 40_000;
/** Each device's collection comes up to this share of the interval later, by a stable hash of its id. */
const JITTER_SHARE = 0.2;

export interface QueuedInventoryCommand {
  requestType: string;
  commandUuid: string;
}

export interface SkippedInventoryCommand {
  requestType: string;
  reason: string;
}

export type CollectionResult =
  | { ok: true; deviceId: string; queued: QueuedInventoryCommand[]; skipped: SkippedInventoryCommand[] }
  | { ok: false; status: 404 | 409; reason: string };

export interface InventoryCollectionDeps {
  store: Store;
  outbox: Outbox;
  /** Reached lazily: the MDM module sets it up before this one, but the lookup costs nothing. */
  commands: () => CommandService;
  /** The AccessRights of an enrollment profile, read through `ex`. */
  accessRights: (profileId: string, ex: Executor) => Promise<number | undefined>;
  intervalHours: number;
  /** Collect at a device channel's activation (ORCHARD_INVENTORY_ON_ENROLL). */
  onEnroll: boolean;
  logger: Logger;
  batch?: number;
  runBudgetMs?: number;
}

export class InventoryCollection {
  constructor(private readonly deps: InventoryCollectionDeps) {}

  /** Durable reactions: a device channel's activation queues its collection; unenrolling takes it off the schedule. */
  subscribe(): void {
    this.deps.outbox.react("enrollment.activated", async (tx, e) => {
      if (e.channel !== "device" || !this.deps.onEnroll) return;
      // One pending job per device: a second activation before the job ran adds nothing.
      await enqueueJob(tx, { kind: INVENTORY_COLLECT_JOB, payload: { deviceId: e.deviceId }, singletonKey: `${INVENTORY_COLLECT_JOB}:${e.deviceId}` });
    });
    this.deps.outbox.react("device.unenrolled", (tx, e) => dropInventoryDue(tx, e.deviceId));
  }

  /** The inventory.collect job: payload {deviceId}. A device gone or unplannable is not an error worth retrying. */
  async runJob(payload: unknown): Promise<void> {
    const deviceId = isRecord(payload) && typeof payload.deviceId === "string" ? payload.deviceId : undefined;
    if (!deviceId) throw new Error(`${INVENTORY_COLLECT_JOB}: payload must be {deviceId: string}`);
    const r = await this.collect(deviceId, INVENTORY_ACTOR);
    if (!r.ok) this.deps.logger.info({ deviceId, reason: r.reason }, "inventory not collected");
  }

  /** The inventory.schedule job: collects the devices whose scheduled collection is due, at most a batch. */
  async runSchedule(now = Date.now()): Promise<{ devices: number; queued: number }> {
    if (this.deps.intervalHours <= 0) return { devices: 0, queued: 0 };
    const ids = await dueForInventory(this.deps.store, now, this.deps.batch ?? INVENTORY_BATCH);
    const deadline = Date.now() + (this.deps.runBudgetMs ?? INVENTORY_RUN_BUDGET_MS);
    let devices = 0;
    let queued = 0;
    for (const id of ids) {
      if (Date.now() > deadline) break;
      try {
        const r = await this.collect(id, INVENTORY_ACTOR);
        devices++;
        if (r.ok) queued += r.queued.length;
      } catch (err) {
        // One device's failure must not starve the rest; it stays due and is tried again at the next run.
        this.deps.logger.warn({ err, deviceId: id }, "scheduled inventory collection failed");
      }
    }
    return { devices, queued };
  }

  /**
   * Queues the device's inventory plan now, skipping what is still outstanding from an earlier collection, and
   * moves its next scheduled collection to an interval (plus its jitter) from now. `actor` is the commands'
   * creator and the actor of their audit entries.
   */
  async collect(deviceId: string, actor: Actor): Promise<CollectionResult> {
    return this.deps.store.transaction(async (tx) => {
      const device = await lockDevice(tx, deviceId);
      if (!device) return { ok: false, status: 404, reason: `device ${deviceId} not found` };
      const enrollment = await getEnrollment(tx, deviceId);
      if (device.status !== "enrolled" || !enrollment || enrollment.status === "checked_out") {
        await dropInventoryDue(tx, deviceId);
        return { ok: false, status: 409, reason: `device ${deviceId} is not enrolled` };
      }
      const now = Date.now();
      // Whatever the outcome below, the device's turn on the schedule moves on: a device that cannot be asked
      // now must not come up again at every run.
      await setInventoryDue(tx, deviceId, now + this.nextCollectionIn(deviceId));
      const target = await this.targetOf(tx, device, enrollment);
      if (typeof target === "string") return { ok: false, status: 409, reason: target };
      let plan;
      try {
        plan = planInventory(target);
      } catch (e) {
        if (e instanceof InventoryPlanError) return { ok: false, status: 409, reason: e.message };
        throw e;
      }
      const outstanding = await outstandingInventoryTypes(tx, deviceId, INVENTORY_UUID_PREFIX, now);
      const queued: QueuedInventoryCommand[] = [];
      const skipped: SkippedInventoryCommand[] = [];
      for (const c of plan.commands) {
        if (outstanding.has(c.requestType)) {
          skipped.push({ requestType: c.requestType, reason: `an inventory ${c.requestType} is still outstanding for this device` });
          continue;
        }
        try {
          const q = await this.deps.commands().queueIn(tx, c.requestType, c.params, {
            targets: [deviceId],
            createdBy: actor,
            priority: INVENTORY_PRIORITY,
            expiresAt: now + INVENTORY_EXPIRY_MS,
            commandUuid: `${INVENTORY_UUID_PREFIX}${randomUUID()}`,
          });
          queued.push({ requestType: c.requestType, commandUuid: q.commandUuid });
        } catch (e) {
          // The engine refused what the plan allowed (their facts differ, e.g. supervision learnt meanwhile):
          // the refusal is checked before anything is written, so the rest of the plan still goes.
          if (!(e instanceof CommandError)) throw e;
          skipped.push({ requestType: c.requestType, reason: e.message });
        }
      }
      skipped.push(...plan.skipped);
      return { ok: true, deviceId, queued, skipped };
    });
  }

  /** Milliseconds until the device's next scheduled collection: the interval and its own share of the jitter. */
  nextCollectionIn(deviceId: string): number {
    const intervalMs = this.deps.intervalHours * 3_600_000;
    return intervalMs + inventoryJitterMs(deviceId, intervalMs);
  }

  /** The plan's view of the device, or why there is none yet. */
  private async targetOf(tx: Tx, device: DeviceRow, enrollment: Pick<EnrollmentsTable, "kind" | "platform" | "os_version" | "supervised" | "awaiting_configuration" | "enrollment_profile_id">): Promise<InventoryTarget | string> {
    const platform = schemaPlatform(device.platform ?? enrollment.platform);
    if (!platform) return "the device's platform is not known yet (its Authenticate named no product or model Orchard recognises)";
    const profileId = device.enrollment_profile_id ?? enrollment.enrollment_profile_id;
    const accessRights = (profileId ? await this.deps.accessRights(profileId, tx) : undefined) ?? ALL_ACCESS_RIGHTS;
    const enrollmentType = deriveEnrollmentType({
      kind: enrollment.kind,
      enrolledViaDEP: device.dep_capable === 1,
      awaitingConfigurationSeen: enrollment.awaiting_configuration === 1,
    });
    const osVersion = device.os_version ?? enrollment.os_version;
    return {
      platform,
      ...(osVersion ? { osVersion } : {}),
      enrollmentType,
      // Until DeviceInformation says so, a device counts as unsupervised: the plan then asks nothing only a
      // supervised device may be asked, and the next collection asks it once supervision is known.
      supervised: (device.supervised ?? enrollment.supervised) === 1,
      accessRights,
      ...(device.ownership ? { ownership: device.ownership } : {}),
    };
  }
}

/**
 * A device's own delay within a fifth of the interval, from a stable hash (FNV-1a) of its id: a fleet enrolled in
 * one morning does not come due in the same minute, and each device keeps its delay from one interval to the next.
 */
export function inventoryJitterMs(deviceId: string, intervalMs: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < deviceId.length; i++) {
    h ^= deviceId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return Math.floor((h / 0x1_0000_0000) * JITTER_SHARE * intervalMs);
}

function schemaPlatform(p: string | null): Platform | undefined {
  if (p === "iPadOS") return "iOS";
  if (p === "iOS" || p === "macOS" || p === "tvOS" || p === "visionOS" || p === "watchOS") return p;
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
