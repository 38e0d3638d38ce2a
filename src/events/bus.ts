// The in-process event bus. Services publish what happened; reactions (webhooks, audit, inventory
// updates, pushes) subscribe. Handlers run after the publisher's work, never inside it: a slow or
// failing subscriber cannot delay or break a device's check-in.
import type { Logger } from "pino";

export interface OrchardEvents {
  "enrollment.authenticated": { enrollmentId: string; deviceId: string; serialNumber: string | null; enrollmentProfileId: string | null; reenrollment: boolean };
  "enrollment.activated": { enrollmentId: string; deviceId: string; channel: "device" | "user" };
  "enrollment.token_updated": { enrollmentId: string; deviceId: string };
  "enrollment.checked_out": { enrollmentId: string; deviceId: string };
  "enrollment.identity_rebound": { enrollmentId: string; previousFingerprint: string | null; fingerprint: string };
  "command.queued": { commandUuid: string; requestType: string; targets: string[] };
  "command.completed": { commandUuid: string; requestType: string | null; enrollmentId: string; status: string; raw: Uint8Array; errorChain: unknown[] | null };
  "command.notnow": { commandUuid: string; enrollmentId: string };
  "bootstrap_token.escrowed": { enrollmentId: string };
  "checkin.received": { enrollmentId: string; messageType: string; raw: Uint8Array };
  "device.enrolled": { deviceId: string; serialNumber: string | null; platform: string | null; enrollmentProfileId: string | null; reenrollment: boolean };
  /** `changed`: the attributes that changed, and "apps", "profiles" or "certificates" when a list did. */
  "device.updated": { deviceId: string; changed: string[] };
  "device.unenrolled": { deviceId: string };
  "device.app.installed": { deviceId: string; bundleId: string; version: string | null };
  "device.app.removed": { deviceId: string; bundleId: string };
}

export type EventName = keyof OrchardEvents;

// Spelled out as an object typed over EventName so the compiler refuses a name missing here or one that is not an
// event: the runtime list (webhook subscriptions are checked against it, the OpenAPI document lists it) cannot
// drift from the type.
const EVENTS: { readonly [E in EventName]: true } = {
  "enrollment.authenticated": true,
  "enrollment.activated": true,
  "enrollment.token_updated": true,
  "enrollment.checked_out": true,
  "enrollment.identity_rebound": true,
  "command.queued": true,
  "command.completed": true,
  "command.notnow": true,
  "bootstrap_token.escrowed": true,
  "checkin.received": true,
  "device.enrolled": true,
  "device.updated": true,
  "device.unenrolled": true,
  "device.app.installed": true,
  "device.app.removed": true,
};
export const EVENT_NAMES: readonly EventName[] = Object.keys(EVENTS) as EventName[];
export const isEventName = (name: string): name is EventName => Object.hasOwn(EVENTS, name);
export type EventHandler<E extends EventName> = (payload: OrchardEvents[E], event: E) => void | Promise<void>;

export class EventBus {
  private readonly handlers = new Map<EventName, Array<EventHandler<EventName>>>();
  private readonly anyHandlers: Array<(event: EventName, payload: unknown) => void | Promise<void>> = [];
  private inFlight = new Set<Promise<void>>();

  constructor(private readonly logger: Logger) {}

  on<E extends EventName>(event: E, handler: EventHandler<E>): void {
    const list = this.handlers.get(event) ?? [];
    list.push(handler as unknown as EventHandler<EventName>);
    this.handlers.set(event, list);
  }

  onAny(handler: (event: EventName, payload: unknown) => void | Promise<void>): void {
    this.anyHandlers.push(handler);
  }

  emit<E extends EventName>(event: E, payload: OrchardEvents[E]): void {
    const list = this.handlers.get(event) ?? [];
    if (list.length === 0 && this.anyHandlers.length === 0) return;
    const run = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      for (const h of list) await this.safely(event, () => h(payload, event));
      for (const h of this.anyHandlers) await this.safely(event, () => h(event, payload));
    });
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  /** Resolves when every event emitted so far has been handled (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  private async safely(event: EventName, fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.logger.error({ err, event }, "event handler failed");
    }
  }
}
