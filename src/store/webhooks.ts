// Queries for webhook subscriptions and their delivery log.
import type { Insertable, Selectable } from "kysely";
import type { Executor, Tx } from "./db.ts";
import type { WebhookDeliveriesTable, WebhooksTable } from "./schema.ts";

export type WebhookRow = Selectable<WebhooksTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;

export async function insertWebhook(store: Executor, row: Insertable<WebhooksTable>): Promise<void> {
  await store.db.insertInto("webhooks").values(row).execute();
}

export async function listWebhooks(store: Executor): Promise<WebhookRow[]> {
  return store.db.selectFrom("webhooks").selectAll().orderBy("created_at").execute();
}

export async function getWebhook(store: Executor, id: string): Promise<WebhookRow | undefined> {
  return store.db.selectFrom("webhooks").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function deleteWebhook(store: Executor, id: string): Promise<boolean> {
  const r = await store.db.deleteFrom("webhooks").where("id", "=", id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** The subscriptions an event fans out to; read inside the recording transaction. */
export async function enabledSubscriptions(tx: Tx): Promise<Array<Pick<WebhookRow, "id" | "events" | "format">>> {
  return tx.db.selectFrom("webhooks").select(["id", "events", "format"]).where("enabled", "=", 1).execute();
}

/** A pending delivery, written in the transaction of the event it delivers (with its job). */
export async function insertDelivery(tx: Tx, delivery: { id: string; webhookId: string; event: string; createdAt: number }): Promise<void> {
  await tx.db
    .insertInto("webhook_deliveries")
    .values({ id: delivery.id, webhook_id: delivery.webhookId, event: delivery.event, status: "pending", attempts: 0, response_status: null, last_error: null, created_at: delivery.createdAt, completed_at: null })
    .execute();
}

/** The outcome of one attempt. */
export async function recordDeliveryAttempt(
  store: Executor,
  id: string,
  attempt: { attempts: number; responseStatus: number | null; lastError: string | null; status: WebhookDeliveriesTable["status"]; completedAt: number | null },
): Promise<void> {
  await store.db
    .updateTable("webhook_deliveries")
    .set({ attempts: attempt.attempts, response_status: attempt.responseStatus, last_error: attempt.lastError, status: attempt.status, completed_at: attempt.completedAt })
    .where("id", "=", id)
    .execute();
}

/** A webhook's delivery log, newest first. */
export async function listDeliveries(store: Executor, webhookId: string, limit: number): Promise<WebhookDeliveryRow[]> {
  return store.db.selectFrom("webhook_deliveries").selectAll().where("webhook_id", "=", webhookId).orderBy("created_at", "desc").limit(limit).execute();
}
