// Active enrollments that can be pushed to (a push token and magic for one topic) and nothing else, written straight
// to the database: the push fan-out bench and the push replicas test need many of them and none of a check-in's work.
import { randomBytes, randomUUID } from "node:crypto";
import type { Store } from "../../src/store/db.ts";

/** Inserts `count` pushable enrollments on `topic`, 200 rows per statement; returns their ids in order. */
export async function insertPushableEnrollments(store: Store, count: number, topic: string): Promise<string[]> {
  const now = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < count; i += 200) {
    const rows = Array.from({ length: Math.min(200, count - i) }, () => {
      const id = randomUUID().toUpperCase();
      ids.push(id);
      return {
        id, device_id: id, channel: "device" as const, kind: "device" as const, status: "active" as const, cert_fingerprint: null, enrollment_profile_id: null,
        udid: id, enrollment_user_id: null, serial_number: null, platform: "iOS", model: null, model_name: null, product_name: null, os_version: "17.4",
        build_version: null, device_name: null, imei: null, meid: null, user_id: null, user_short_name: null, user_long_name: null, supervised: 1,
        topic, push_token: randomBytes(32).toString("hex"), push_magic: randomUUID().toUpperCase(), token_invalid_at: null,
        unlock_token_sealed: null, bootstrap_token_sealed: null, awaiting_configuration: 0, not_on_console: 0, last_seen_at: null, last_push_at: null,
        last_push_result: null, authenticated_at: now, activated_at: now, checked_out_at: null, created_at: now, updated_at: now,
      };
    });
    await store.db.insertInto("enrollments").values(rows).execute();
  }
  return ids;
}
