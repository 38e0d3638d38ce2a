// Outgoing webhooks: every subscribed event becomes a delivery (logged in webhook_deliveries) sent by a
// job, so retries with backoff survive restarts. Bodies are JSON, signed with HMAC-SHA256 over
// "<timestamp>.<body>" in X-Orchard-Signature. The "nanomdm" format sends the body NanoMDM and MicroMDM
// send (topic, event_id, created_at, checkin_event / acknowledge_event with raw_payload), so integrations
// written for them work unchanged.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Store, Tx } from "../store/db.ts";
import { deleteWebhook, enabledSubscriptions, getWebhook, insertDelivery, insertWebhook, listDeliveries, listWebhooks, recordDeliveryAttempt, type WebhookDeliveryRow } from "../store/webhooks.ts";
import type { SecretBox } from "../secrets/envelope.ts";
import { enqueueJob } from "../store/jobs.ts";
import { parsePlist } from "../wire/plist.ts";
import { plistToJson } from "../wire/plist-json.ts";
import { CHECKIN_MESSAGE_TYPES } from "../wire/checkin-message.ts";
import { EVENT_NAMES, isEventName, type EventName, type OrchardEvents } from "./bus.ts";
import type { Outbox } from "./outbox.ts";
import type { Actor } from "./actor.ts";
import type { AuditLog } from "./audit-log.ts";
import { describeFetchFailure, describeHttpFailure } from "./webhook-failure.ts";

export const WEBHOOK_JOB = "webhook.deliver";
const PURPOSE = "webhook.secret";

export type WebhookFormat = "orchard" | "nanomdm";

/** The NanoMDM topics a nanomdm-format webhook may subscribe to: one per check-in MessageType, and mdm.Connect for results. */
export const NANOMDM_TOPICS: readonly string[] = [...CHECKIN_MESSAGE_TYPES.map((t) => `mdm.${t}`), "mdm.Connect"];
/** The Orchard events the nanomdm format has a body for. */
const NANOMDM_EVENTS: ReadonlySet<EventName> = new Set(["checkin.received", "command.completed"]);
/** Everything a subscription may name (the OpenAPI document lists these). */
export const SUBSCRIBABLE_EVENTS: readonly string[] = ["*", ...EVENT_NAMES, ...NANOMDM_TOPICS];

export interface WebhookInfo {
  id: string;
  url: string;
  events: string[];
  format: WebhookFormat;
  enabled: boolean;
  createdAt: string;
}

interface DeliveryJob {
  deliveryId: string;
  webhookId: string;
  event: string;
  body: string;
}

interface Subscription {
  id: string;
  events: ReadonlySet<string> | "*";
  format: WebhookFormat;
}

export class WebhookService {
  private cache: { at: number; hooks: Subscription[] } | undefined;

  constructor(
    private readonly store: Store,
    private readonly secrets: SecretBox,
    private readonly logger: Logger,
    private readonly audit: AuditLog,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  /** Every event becomes its deliveries in the transaction that records it (the outbox). */
  subscribe(outbox: Outbox): void {
    outbox.reactToAny((tx, payload, event) => this.fanOut(tx, event, payload));
  }

  /** The audit entry names the URL, events and format; never the signing secret. */
  async create(input: { url: string; events: string[]; format: WebhookFormat; secret?: string }, actor: Actor): Promise<{ webhook: WebhookInfo; secret: string }> {
    const secret = input.secret ?? randomBytes(24).toString("base64url");
    const row = {
      id: randomUUID(),
      url: input.url,
      secret_sealed: this.secrets.seal(secret, PURPOSE),
      events: input.events.length === 0 ? "*" : input.events.join(","),
      format: input.format,
      enabled: 1,
      created_at: Date.now(),
    };
    await this.store.transaction(async (tx) => {
      await insertWebhook(tx, row);
      await this.audit.record(tx, { actor, action: "webhook.create", target: row.id, detail: { url: urlForAudit(row.url), events: row.events, format: row.format } });
    });
    this.cache = undefined;
    return { webhook: info(row), secret };
  }

  async list(): Promise<WebhookInfo[]> {
    return (await listWebhooks(this.store)).map(info);
  }

  async remove(id: string, actor: Actor): Promise<boolean> {
    const removed = await this.store.transaction(async (tx) => {
      if (!(await deleteWebhook(tx, id))) return false;
      await this.audit.record(tx, { actor, action: "webhook.delete", target: id });
      return true;
    });
    this.cache = undefined;
    return removed;
  }

  async deliveries(webhookId: string, limit: number): Promise<WebhookDeliveryRow[]> {
    return listDeliveries(this.store, webhookId, limit);
  }

  /** Read through `tx` (the recording transaction): on SQLite a read beside it would wait for it forever. */
  private async hooks(tx: Tx): Promise<Subscription[]> {
    // Re-read at most every few seconds: another replica may have changed the subscriptions.
    if (!this.cache || Date.now() - this.cache.at > 5_000) {
      const rows = await enabledSubscriptions(tx);
      this.cache = { at: Date.now(), hooks: rows.map((r) => ({ id: r.id, format: r.format, events: r.events === "*" ? "*" : new Set(r.events.split(",")) })) };
    }
    return this.cache.hooks;
  }

  /** Runs inside the recording transaction: only `tx`, and nothing that leaves the process. */
  private async fanOut(tx: Tx, event: EventName, payload: OrchardEvents[EventName]): Promise<void> {
    const hooks = await this.hooks(tx);
    if (hooks.length === 0) return;
    // One body per format and event: every subscriber sees the same event id, and the raw plist is parsed once.
    const bodies = new Map<WebhookFormat, string | undefined>();
    for (const hook of hooks) {
      if (!wants(hook, event, payload)) continue;
      if (!bodies.has(hook.format)) bodies.set(hook.format, hook.format === "nanomdm" ? nanomdmBody(event, payload) : orchardBody(event, payload));
      const body = bodies.get(hook.format);
      if (body === undefined) continue;
      const deliveryId = randomUUID();
      await insertDelivery(tx, { id: deliveryId, webhookId: hook.id, event, createdAt: Date.now() });
      const job: DeliveryJob = { deliveryId, webhookId: hook.id, event, body };
      await enqueueJob(tx, { kind: WEBHOOK_JOB, payload: job, maxAttempts: 8 });
    }
  }

  /** The job handler: one attempt at one delivery. Throwing schedules a retry. */
  async deliver(payload: unknown, attempt: number, maxAttempts: number): Promise<void> {
    const job = payload as DeliveryJob;
    const hook = await getWebhook(this.store, job.webhookId);
    if (!hook) return; // Deleted since: nothing to do.
    const timestamp = Math.floor(Date.now() / 1000).toString();
    const signature = createHmac("sha256", this.secrets.openString(hook.secret_sealed, PURPOSE)).update(`${timestamp}.${job.body}`).digest("hex");
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await this.fetchImpl(hook.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "Orchard-Webhook/1",
          "x-orchard-event": job.event,
          "x-orchard-delivery": job.deliveryId,
          "x-orchard-timestamp": timestamp,
          "x-orchard-signature": `sha256=${signature}`,
        },
        body: job.body,
        signal: AbortSignal.timeout(10_000),
      });
      status = res.status;
      if (res.status >= 300) error = await describeHttpFailure(res);
      else await res.body?.cancel();
    } catch (e) {
      error = describeFetchFailure(e);
    }
    const done = error === null;
    const gaveUp = !done && attempt >= maxAttempts;
    await recordDeliveryAttempt(this.store, job.deliveryId, {
      attempts: attempt,
      responseStatus: status,
      lastError: error,
      status: done ? "delivered" : gaveUp ? "failed" : "pending",
      completedAt: done || gaveUp ? Date.now() : null,
    });
    if (done) return;
    // The host only: a webhook URL may carry a token in its path or query.
    const host = new URL(hook.url).host;
    this.logger.warn({ webhook: hook.id, delivery: job.deliveryId, event: job.event, host, attempt, gaveUp, status, error }, "webhook delivery failed");
    throw new Error(`webhook delivery to ${host} failed: ${error}`);
  }
}

/**
 * Why a subscription cannot be created as asked, or undefined when it can: an unknown name (with the nearest
 * known one), a NanoMDM topic on an Orchard-format hook, or an event the nanomdm format has no body for.
 */
export function subscriptionProblem(events: readonly string[], format: WebhookFormat): string | undefined {
  for (const name of events) {
    if (name === "*") continue;
    if (!isEventName(name) && !NANOMDM_TOPICS.includes(name)) {
      const near = nearest(name, format === "nanomdm" ? [...EVENT_NAMES, ...NANOMDM_TOPICS] : EVENT_NAMES);
      return `unknown event "${name}"${near ? ` (did you mean "${near}"?)` : ""}; known events: ${EVENT_NAMES.join(", ")}${format === "nanomdm" ? `, and the NanoMDM topics ${NANOMDM_TOPICS.join(", ")}` : ""}`;
    }
    if (format === "orchard" && !isEventName(name)) {
      return `"${name}" is a NanoMDM topic: subscribe with format "nanomdm", or to the Orchard event ${name === "mdm.Connect" ? "command.completed" : "checkin.received"}`;
    }
    if (format === "nanomdm" && isEventName(name) && !NANOMDM_EVENTS.has(name)) {
      return `the nanomdm format has no body for "${name}" (it sends ${[...NANOMDM_EVENTS].join(" and ")}, or the topics mdm.*): use format "orchard"`;
    }
  }
  return undefined;
}

/** The closest name by edit distance, when it is close enough to be what was meant. */
function nearest(name: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (!best || d < best.distance) best = { name: c, distance: d };
  }
  return best && best.distance <= Math.max(2, Math.floor(name.length / 3)) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

function wants(hook: Subscription, event: EventName, payload: OrchardEvents[EventName]): boolean {
  if (hook.format === "orchard") {
    // checkin.received is the raw feed NanoMDM integrations rely on; Orchard's own events say the same more
    // precisely, so an Orchard-format hook gets it only when it names it.
    if (event === "checkin.received") return hook.events !== "*" && hook.events.has(event);
    return hook.events === "*" || hook.events.has(event);
  }
  if (!NANOMDM_EVENTS.has(event)) return false;
  if (hook.events === "*" || hook.events.has(event)) return true;
  const topic = event === "checkin.received" ? `mdm.${(payload as OrchardEvents["checkin.received"]).messageType}` : "mdm.Connect";
  return hook.events.has(topic);
}

function info(r: { id: string; url: string; events: string; format: WebhookFormat; enabled: number; created_at: number }): WebhookInfo {
  return { id: r.id, url: r.url, events: r.events === "*" ? ["*"] : r.events.split(","), format: r.format, enabled: r.enabled === 1, createdAt: new Date(r.created_at).toISOString() };
}

/** The device's plist as JSON-ready values (null if it does not parse, which the device front end already ruled out). */
function parsedPlist(raw: Uint8Array): unknown {
  try {
    return JSON.parse(plistToJson(parsePlist(raw))) as unknown;
  } catch {
    return null;
  }
}

function orchardBody(event: EventName, payload: OrchardEvents[EventName]): string {
  let data: unknown = payload;
  if (event === "command.completed") data = { ...payload, result: parsedPlist((payload as OrchardEvents["command.completed"]).raw) };
  else if (event === "checkin.received") data = { ...payload, message: parsedPlist((payload as OrchardEvents["checkin.received"]).raw) };
  return plistToJson({ id: randomUUID(), event, createdAt: new Date().toISOString(), data });
}

function nanomdmBody(event: EventName, payload: unknown): string | undefined {
  const base = { event_id: randomUUID(), created_at: new Date().toISOString() };
  if (event === "checkin.received") {
    const p = payload as OrchardEvents["checkin.received"];
    const udid = p.enrollmentId.split(":")[0];
    return JSON.stringify({ topic: `mdm.${p.messageType}`, ...base, checkin_event: { udid, enrollment_id: p.enrollmentId, url_params: null, raw_payload: Buffer.from(p.raw).toString("base64") } });
  }
  if (event === "command.completed") {
    const p = payload as OrchardEvents["command.completed"];
    const status = { acknowledged: "Acknowledged", error: "Error", commandformaterror: "CommandFormatError" }[p.status] ?? p.status;
    return JSON.stringify({
      topic: "mdm.Connect",
      ...base,
      acknowledge_event: { udid: p.enrollmentId.split(":")[0], enrollment_id: p.enrollmentId, status, command_uuid: p.commandUuid, url_params: null, raw_payload: Buffer.from(p.raw).toString("base64") },
    });
  }
  return undefined;
}

/**
 * The URL as the audit log keeps it: without user-info or query, which some receivers use to carry a credential
 * (the audit log is readable with the readonly role; the full URL is in GET /api/v1/webhooks for admins).
 */
function urlForAudit(url: string): string {
  const u = new URL(url);
  u.username = "";
  u.password = "";
  u.search = "";
  return u.toString();
}
