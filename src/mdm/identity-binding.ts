// Binding a device's identity certificate to its enrollment. Authenticate binds the certificate the
// device presents (a re-enrollment may bring a new one); afterwards every request must present the bound
// certificate, or a renewal of it that Orchard issued for this very device, which then replaces the
// binding without touching the command queue. A certificate bound to another device is always refused.
import type { Store } from "../store/db.ts";
import { getEnrollment, otherDevicesBoundTo, updateDeviceChannels } from "../store/enrollments.ts";
import type { EventBus } from "../events/bus.ts";

export interface DeviceIdentity {
  /** SHA-256 of the certificate's DER, hex. */
  fingerprint: string;
  certDer: Uint8Array;
}

export type BindingVerdict = { ok: true } | { ok: false; status: number; reason: string };

/** Which enrollment (device id) Orchard issued a certificate for, when it knows, and when it issued it. */
export type IssuedForLookup = (fingerprint: string) => Promise<{ enrollmentId: string | null; issuedAt: number } | undefined>;

export class IdentityBinding {
  constructor(
    private readonly store: Store,
    private readonly events: EventBus,
    private readonly issuedFor: IssuedForLookup,
  ) {}

  /** At Authenticate: refuse a certificate bound to another device; otherwise it becomes this device's. */
  async checkForAuthenticate(deviceId: string, identity: DeviceIdentity): Promise<BindingVerdict> {
    const others = await otherDevicesBoundTo(this.store, identity.fingerprint, deviceId);
    if (others.length) return { ok: false, status: 401, reason: `certificate is bound to another enrollment (${others[0]})` };
    return { ok: true };
  }

  /** For every other message: the presented certificate must be the device's bound one (or its renewal). */
  async check(deviceId: string, identity: DeviceIdentity): Promise<BindingVerdict> {
    const device = await getEnrollment(this.store, deviceId);
    if (!device) return { ok: false, status: 401, reason: `unknown enrollment ${deviceId}` };
    if (device.cert_fingerprint === identity.fingerprint) return { ok: true };
    const others = await otherDevicesBoundTo(this.store, identity.fingerprint, deviceId);
    if (others.length) return { ok: false, status: 401, reason: `certificate is bound to another enrollment (${others[0]})` };
    if (device.cert_fingerprint === null) {
      await this.rebind(deviceId, null, identity.fingerprint);
      return { ok: true };
    }
    // A renewal: issued by Orchard for this device, and newer than the bound certificate (an older one,
    // e.g. the certificate a renewal replaced, must not take the binding back).
    const candidate = await this.issuedFor(identity.fingerprint);
    if (candidate?.enrollmentId === deviceId) {
      const current = await this.issuedFor(device.cert_fingerprint);
      if (!current || candidate.issuedAt > current.issuedAt) {
        await this.rebind(deviceId, device.cert_fingerprint, identity.fingerprint);
        return { ok: true };
      }
      return { ok: false, status: 401, reason: "certificate has been replaced by a renewed identity" };
    }
    return { ok: false, status: 401, reason: "certificate is not the identity bound to this enrollment" };
  }

  async bind(deviceId: string, fingerprint: string): Promise<void> {
    await updateDeviceChannels(this.store, deviceId, { cert_fingerprint: fingerprint });
    // The issued-certificate record learns whose identity it is (a no-op for certificates of other CAs).
    await this.store.db.updateTable("issued_certificates").set({ enrollment_id: deviceId }).where("fingerprint", "=", fingerprint).execute();
  }

  private async rebind(deviceId: string, previous: string | null, fingerprint: string): Promise<void> {
    await this.bind(deviceId, fingerprint);
    this.events.emit("enrollment.identity_rebound", { enrollmentId: deviceId, previousFingerprint: previous, fingerprint });
  }
}
