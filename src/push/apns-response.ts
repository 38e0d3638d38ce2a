// What an APNs answer means for Orchard, per Apple's "Handling notification responses from APNs".

export interface ApnsResult {
  /** HTTP status, or 0 when the request never got an answer (connection lost, timeout). */
  status: number;
  /** APNs' reason for a refusal (BadDeviceToken, Unregistered, TooManyRequests, …). */
  reason?: string;
  apnsId?: string;
  /** For 410: when APNs last knew the token valid (ms since the epoch). */
  timestamp?: number;
  /** Why there was no answer (status 0). */
  transportError?: string;
  latencyMs: number;
}

/**
 * ok: delivered to APNs. bad_token: the token is no longer valid for the topic, so stop pushing to it
 * until the device sends a new one. certificate: the push certificate was refused (raise an alert).
 * retry: transient (429, 5xx, no answer): back off and try again. rejected: a request APNs will never
 * accept as sent (a bug or bad data): record it, do not retry.
 */
export type PushVerdict = "ok" | "bad_token" | "certificate" | "retry" | "rejected";

const BAD_TOKEN_REASONS = new Set(["BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered", "ExpiredToken"]);

export function classifyApnsResult(r: Pick<ApnsResult, "status" | "reason">): PushVerdict {
  const s = r.status;
  if (s === 200) return "ok";
  if (s === 0) return "retry";
  if (s === 410) return "bad_token";
  if (s === 400 && r.reason !== undefined && BAD_TOKEN_REASONS.has(r.reason)) return "bad_token";
  if (s === 403) return "certificate";
  if (s === 429 || s >= 500) return "retry";
  return "rejected";
}

/** The text stored as an enrollment's last push result. */
export function describeApnsResult(r: ApnsResult): string {
  if (r.status === 200) return "ok";
  if (r.status === 0) return `no answer: ${r.transportError ?? "connection lost"}`;
  return `${r.status} ${r.reason ?? "(no reason)"}`;
}
