// Identity renewal: devices whose identity certificate expires within the renewal window get their
// enrollment profile again through InstallProfile, with the same identifiers and a fresh SCEP payload whose
// one-time challenge is tied to the device. The device replaces the profile in place, obtains a new
// certificate and keeps its enrollment and its queue; the certificate's binding moves when the device first
// presents the new certificate (see mdm/identity-binding.ts).
import type { Logger } from "pino";
import type { Store } from "../../store/db.ts";
import { identitiesExpiringBefore, type IssuedCursor } from "../../store/issued-certificates.ts";
import { deviceChannelBoundTo, getEnrollment } from "../../store/enrollments.ts";
import { hasOpenScepChallengeFor } from "../../store/scep-challenges.ts";
import { CommandError, type CommandService } from "../../mdm/commands.ts";
import { newChallengeSecret, type EnrollmentProfileService } from "./enrollment-profiles.ts";
import { systemActor, type Actor } from "../../events/actor.ts";
import type { AuditLog } from "../../events/audit-log.ts";

/** The actor of the daily renewal job in the audit log (and the createdBy of the commands it queues). */
export const IDENTITY_RENEWAL_ACTOR = systemActor("identity-renewal");

export const RENEWAL_WINDOW_MS = 30 * 86_400_000;
/** The challenge stays usable this long: a device that is offline for a while still renews when it returns. */
const RENEWAL_CHALLENGE_TTL_MS = 14 * 86_400_000;

export interface RenewalOutcome {
  queued: string[];
  skipped: Array<{ enrollmentId: string | null; reason: string }>;
}

export class IdentityRenewal {
  constructor(
    private readonly store: Store,
    private readonly profiles: EnrollmentProfileService,
    /** Lazily: the MDM engine's module is set up after this one. */
    private readonly commands: () => CommandService,
    private readonly logger: Logger,
    private readonly audit: AuditLog,
  ) {}

  async run(now = Date.now()): Promise<RenewalOutcome> {
    const out: RenewalOutcome = { queued: [], skipped: [] };
    let cursor: IssuedCursor | undefined;
    for (;;) {
      const certs = await identitiesExpiringBefore(this.store, now + RENEWAL_WINDOW_MS, 500, cursor);
      if (certs.length === 0) break;
      const last = certs[certs.length - 1]!;
      cursor = { notAfter: last.not_after, serial: last.serial };
      for (const cert of certs) {
        const device = await deviceChannelBoundTo(this.store, cert.fingerprint);
        if (!device || device.status !== "active") continue; // Not (or no longer) anyone's identity.
        // An unspent challenge for the device: a renewal is already on its way.
        if (await hasOpenScepChallengeFor(this.store, device.id, now)) continue;
        const queued = await this.queueRenewal(device, IDENTITY_RENEWAL_ACTOR, "expiring");
        if (!queued.ok) {
          out.skipped.push({ enrollmentId: device.id, reason: queued.reason });
          continue;
        }
        out.queued.push(device.id);
      }
      if (certs.length < 500) break;
    }
    if (out.queued.length || out.skipped.length) this.logger.info({ queued: out.queued.length, skipped: out.skipped }, "identity renewal");
    return out;
  }

  /** Renews one device's identity now (an admin's request), whatever its certificate's expiry. */
  async renewEnrollment(enrollmentId: string, actor: Actor): Promise<{ ok: true; commandUuid: string } | { ok: false; reason: string; status: 404 | 409 }> {
    const device = await getEnrollment(this.store, enrollmentId);
    if (!device) return { ok: false, status: 404, reason: `enrollment ${enrollmentId} not found` };
    if (device.channel !== "device") return { ok: false, status: 409, reason: "identities belong to the device channel; renew the device's enrollment" };
    if (device.status !== "active") return { ok: false, status: 409, reason: `enrollment ${enrollmentId} is not active (${device.status})` };
    const r = await this.queueRenewal(device, actor, "requested");
    return r.ok ? r : { ...r, status: 409 };
  }

  private async queueRenewal(device: {
    id: string;
    enrollment_profile_id: string | null;
    serial_number: string | null;
    udid: string | null;
    device_name: string | null;
  }, actor: Actor, trigger: "expiring" | "requested"): Promise<{ ok: true; commandUuid: string } | { ok: false; reason: string }> {
    if (!device.enrollment_profile_id) return { ok: false, reason: "enrolled without a known enrollment profile" };
    const row = await this.profiles.rowIncludingDeleted(device.enrollment_profile_id);
    if (!row) return { ok: false, reason: "its enrollment profile no longer exists" };
    // The challenge is tied to this device: the certificate it yields may replace this device's binding, and no other.
    // The profile is built first (it reads the push topic outside any transaction); then the challenge, the
    // InstallProfile that carries it and the audit entry commit together: a renewal the command service refuses
    // leaves no unspent challenge behind (which would hold the next sweep off this device until it expired).
    const challenge = newChallengeSecret();
    const profile = await this.profiles.mobileconfig(row, {
      signed: row.signed === 1,
      challenge,
      device: { ...(device.serial_number ? { serialNumber: device.serial_number } : {}), ...(device.udid ? { udid: device.udid } : {}), ...(device.device_name ? { deviceName: device.device_name } : {}) },
    });
    try {
      return await this.store.transaction(async (tx) => {
        const c = await this.profiles.createChallengeIn(tx, { enrollmentId: device.id, profileId: row.id, ttlMs: RENEWAL_CHALLENGE_TTL_MS, challenge });
        // The command service stores the profile (and the challenge in it) sealed: InstallProfile can carry secrets.
        const queued = await this.commands().queueIn(tx, "InstallProfile", { Payload: Buffer.from(profile).toString("base64") }, { targets: [device.id], createdBy: actor, priority: 50 });
        await this.audit.record(tx, {
          actor,
          action: "identity.renew",
          target: device.id,
          detail: { trigger, enrollmentProfileId: row.id, challengeId: c.id, challengeExpiresAt: c.expiresAt, commandUuid: queued.commandUuid },
        });
        return { ok: true as const, commandUuid: queued.commandUuid };
      });
    } catch (e) {
      // A device that may not be sent the profile (e.g. its enrollment grants no profile installation) is skipped
      // with the reason; it must not stop the sweep for every other device.
      if (e instanceof CommandError) return { ok: false, reason: e.message };
      throw e;
    }
  }
}
