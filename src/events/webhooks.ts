// Outgoing webhooks: every subscribed event becomes a delivery (logged in webhook_deliveries) sent by a
// job, so retries with backoff survive restarts. Bodies are JSON, signed with HMAC-SHA256 over
// "<timestamp>.<body>" in X-Orchard-Signature. The "nanomdm" format sends the body NanoMDM and MicroMDM
// send (topic, event_id, created_at, checkin_event / acknowledge_event with raw_payload), so integrations
// written for them work unchanged.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Store, Tx } from "../store/db.ts";
import type { SecretBox } from "../secrets/envelope.ts";
import { enqueueJob } from "../store/jobs.ts";
import type { EventName, OrchardEvents } from "./bus.ts";
import type { Outbox } from "./outbox.ts";

export const WEBHOOK_JOB = "webhook.deliver";
const PURPOSE = "webhook.secret";

export interface WebhookInfo {
  id: string;
  url: string;
  events: string[];
  format: "orchard" | "nanomdm";
  enabled: boolean;
  createdAt: string;
}

interface DeliveryJob {
  deliveryId: string;
  webhookId: string;
  event: string;
  body: string;
}

export class WebhookService {
  private cache: { at: number; hooks: Array<{ id: string; events: Set<string> | "*"; format: "orchard" | "nanomdm" }> } | undefined;

  constructor(
    private readonly store: Store,
    private readonly secrets: SecretBox,
    private readonly logger: Logger,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  /** Every event becomes its deliveries in the transaction that records it (the outbox). */
  subscribe(outbox: Outbox): void {
    outbox.reactToAny((tx, payload, event) => this.fanOut(tx, event, payload));
  }

  async create(input: { url: string; events: string[]; format: "orchard" | "nanomdm"; secret?: string }): Promise<{ webhook: WebhookInfo; secret: string }> {
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
    await this.store.db.insertInto("webhooks").values(row).execute();
    this.cache = undefined;
    return { webhook: info(row), secret };
  }

  async list(): Promise<WebhookInfo[]> {
    return (await this.store.db.selectFrom("webhooks").selectAll().orderBy("created_at").execute()).map(info);
  }

  async remove(id: string): Promise<boolean> {
    const r = await this.store.db.deleteFrom("webhooks").where("id", "=", id).executeTakeFirst();
    this.cache = undefined;
    return Number(r.numDeletedRows) > 0;
  }

  async deliveries(webhookId: string, limit: number) {
    return this.store.db.selectFrom("webhook_deliveries").selectAll().where("webhook_id", "=", webhookId).orderBy("created_at", "desc").limit(limit).execute();
  }

  /** Read through `tx` (the recording transaction): on SQLite a read beside it would wait for it forever. */
  private async hooks(tx: Tx) {
    // Re-read at most every few seconds: another replica may have changed the subscriptions.
    if (!this.cache || Date.now() - this.cache.at > 5_000) {
      const rows = await tx.db.selectFrom("webhooks").select(["id", "events", "format"]).where("enabled", "=", 1).execute();
      this.cache = { at: Date.now(), hooks: rows.map((r) => ({ id: r.id, format: r.format, events: r.events === "*" ? "*" : new Set(r.events.split(",")) })) };
    }
    return this.cache.hooks;
  }

  private async fanOut(tx: Tx, event: EventName, payload: OrchardEvents[EventName]): Promise<void> {
    const hooks = await this.hooks(tx);
    if (hooks.length === 0) return;
    for (const hook of hooks) {
      const body = hook.format === "nanomdm" ? nanomdmBody(event, payload) : orchardBody(event, payload);
      if (body === undefined) continue;
      const wants = hook.events === "*" || hook.events.has(event) || (hook.format === "nanomdm" && hook.events.has(JSON.parse(body).topic as string));
      if (!wants) continue;
      const deliveryId = randomUUID();
      await tx.db
        .insertInto("webhook_deliveries")
        .values({ id: deliveryId, webhook_id: hook.id, event, status: "pending", attempts: 0, response_status: null, last_error: null, created_at: Date.now(), completed_at: null })
        .execute();
      const job: DeliveryJob = { deliveryId, webhookId: hook.id, event, body };
      await enqueueJob(tx, { kind: WEBHOOK_JOB, payload: job, maxAttempts: 8 });
    }
  }

  /** The job handler: one attempt at one delivery. Throwing schedules a retry. */
  async deliver(payload: unknown, attempt: number, maxAttempts: number): Promise<void> {
    const job = payload as DeliveryJob;
    const hook = await this.store.db.selectFrom("webhooks").selectAll().where("id", "=", job.webhookId).executeTakeFirst();
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
      await res.body?.cancel();
      if (res.status >= 300) error = `HTTP ${res.status}`;
    } catch (e) {
      error = (e as Error).message;
    }
    const done = error === null;
    await this.store.db
      .updateTable("webhook_deliveries")
      .set({ attempts: attempt, response_status: status, last_error: error, status: done ? "delivered" : attempt >= maxAttempts ? "failed" : "pending", completed_at: done || attempt >= maxAttempts ? Date.now() : null })
      .where("id", "=", job.deliveryId)
      .execute();
    if (!done) throw new Error(`webhook delivery to ${new URL(hook.url).host} failed: ${error}`);
  }
}

function info(r: { id: string; url: string; events: string; format: "orchard" | "nanomdm"; enabled: number; created_at: number }): WebhookInfo {
  return { id: r.id, url: r.url, events: r.events === "*" ? ["*"] : r.events.split(","), format: r.format, enabled: r.enabled === 1, createdAt: new Date(r.created_at).toISOString() };
}

function jsonSafe(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v)));
}

function orchardBody(event: EventName, payload: unknown): string | undefined {
  // checkin.received is the raw feed for the NanoMDM format; Orchard's own events say the same more precisely.
  if (event === "checkin.received") return undefined;
  return JSON.stringify({ id: randomUUID(), event, createdAt: new Date().toISOString(), data: jsonSafe(payload) });
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
