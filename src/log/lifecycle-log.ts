// The moments of a device's life an operator watches for, at info: it authenticated (is enrolling), it
// enrolled (first TokenUpdate of a channel), its identity certificate changed, it checked out. The services
// publish these on the event bus; logging them here keeps the check-in path free of log calls. Push
// certificate problems are logged where they are found (push-certificates.ts, push-dispatcher.ts).
import type { Logger } from "pino";
import type { EventBus } from "../events/bus.ts";

export function logLifecycle(events: EventBus, logger: Logger): void {
  events.on("enrollment.authenticated", (e) =>
    logger.info({ enrollmentId: e.enrollmentId, serialNumber: e.serialNumber, enrollmentProfileId: e.enrollmentProfileId, reenrollment: e.reenrollment }, "device authenticated (enrolling)"),
  );
  events.on("enrollment.activated", (e) => logger.info({ enrollmentId: e.enrollmentId, deviceId: e.deviceId, channel: e.channel }, "device enrolled"));
  events.on("enrollment.identity_rebound", (e) => logger.info({ enrollmentId: e.enrollmentId, fingerprint: e.fingerprint }, "device identity certificate changed"));
  events.on("enrollment.checked_out", (e) => logger.info({ enrollmentId: e.enrollmentId, deviceId: e.deviceId }, "device checked out (unenrolled)"));
}
