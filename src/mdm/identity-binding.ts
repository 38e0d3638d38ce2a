// Binding a device's identity certificate to its enrollment. Authenticate binds the certificate the
// device presents (a re-enrollment may bring a new one); afterwards every request must present the bound
// certificate, or a renewal of it that Orchard issued for this very device, which then replaces the
// binding without touching the command queue. A certificate bound to another device is always refused.
import type { Executor, Store, Tx } from "../store/db.ts";
import { getEnrollment, otherDevicesBoundTo, updateDeviceChannels } from "../store/enrollments.ts";
import { assignIssuedToEnrollment } from "../store/issued-certificates.ts";
import type { Outbox } from "../events/outbox.ts";

import type { DeviceIdentity } from "./device-identity.ts";

export type { DeviceIdentity };

export type BindingVerdict = { ok: true } | { ok: false; status: number; reason: string };

/** Which enrollment (device id) Orchard issued a certificate for, when it knows, and when it issued it. */
export type IssuedForLookup = (ex: Executor, fingerprint: string) => Promise<{ enrollmentId: string | null; issuedAt: number } | undefined>;

export class IdentityBinding {
  constructor(
    private readonly store: Store,
    private readonly outbox: Outbox,
    private readonly issuedFor: IssuedForLookup,
  ) {}

  /** At Authenticate, in its transaction: refuse a certificate bound to another device; otherwise it becomes this device's. */
  async checkForAuthenticate(tx: Tx, deviceId: string, identity: DeviceIdentity): Promise<BindingVerdict> {
    const others = await otherDevicesBoundTo(tx, identity.fingerprint, deviceId);
    if (others.length) return { ok: false, status: 401, reason: `certificate is bound to another enrollment (${others[0]})` };
    return { ok: true };
  }

  /**
   * For every other message: the presented certificate must be the device's bound one (or its renewal). A
   * rebinding (its writes and its event) is one transaction, whose reads decide it.
   */
  async check(deviceId: string, identity: DeviceIdentity): Promise<BindingVerdict> {
    const device = await getEnrollment(this.store, deviceId);
    if (!device) return { ok: false, status: 401, reason: `unknown enrollment ${deviceId}` };
    if (device.cert_fingerprint === identity.fingerprint) return { ok: true };
    return this.store.transaction((tx) => this.checkNew(tx, deviceId, identity));
  }

  private async checkNew(tx: Tx, deviceId: string, identity: DeviceIdentity): Promise<BindingVerdict> {
    const device = await getEnrollment(tx, deviceId);
    if (!device) return { ok: false, status: 401, reason: `unknown enrollment ${deviceId}` };
    if (device.cert_fingerprint === identity.fingerprint) return { ok: true };
    const others = await otherDevicesBoundTo(tx, identity.fingerprint, deviceId);
    if (others.length) return { ok: false, status: 401, reason: `certificate is bound to another enrollment (${others[0]})` };
    if (device.cert_fingerprint === null) {
      await this.rebind(tx, deviceId, null, identity.fingerprint);
      return { ok: true };
    }
    // A renewal: issued by Orchard for this device, and newer than the bound certificate (an older one,
    // e.g. the certificate a renewal replaced, must not take the binding back).
    const candidate = await this.issuedFor(tx, identity.fingerprint);
    if (candidate?.enrollmentId === deviceId) {
      const current = await this.issuedFor(tx, device.cert_fingerprint);
      if (!current || candidate.issuedAt > current.issuedAt) {
        await this.rebind(tx, deviceId, device.cert_fingerprint, identity.fingerprint);
        return { ok: true };
      }
      return { ok: false, status: 401, reason: "certificate has been replaced by a renewed identity" };
    }
    return { ok: false, status: 401, reason: "certificate is not the identity bound to this enrollment" };
  }

  async bind(tx: Tx, deviceId: string, fingerprint: string): Promise<void> {
    await updateDeviceChannels(tx, deviceId, { cert_fingerprint: fingerprint });
    // The issued-certificate record learns whose identity it is (a no-op for certificates of other CAs).
    await assignIssuedToEnrollment(tx, fingerprint, deviceId);
  }

  private async rebind(tx: Tx, deviceId: string, previous: string | null, fingerprint: string): Promise<void> {
    await this.bind(tx, deviceId, fingerprint);
    await this.outbox.record(tx, "enrollment.identity_rebound", { enrollmentId: deviceId, previousFingerprint: previous, fingerprint });
  }
}
