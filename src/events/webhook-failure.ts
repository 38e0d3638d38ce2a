// Why a webhook delivery failed, in words an admin can act on. fetch (undici) reports every network failure as
// "fetch failed" and keeps the reason in `cause` (ECONNREFUSED, ENOTFOUND, a TLS verdict); a receiver that
// answers non-2xx usually says why in its body.

/** How much of a receiver's error body is kept: enough to read the reason, not a page of HTML. */
const BODY_EXCERPT_CHARS = 200;
const BODY_READ_LIMIT = 4096;

/** A failure before any answer: the network cause (code and message), or the timeout. */
export function describeFetchFailure(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  if (e.name === "TimeoutError" || e.name === "AbortError") return `no answer in time (${e.message})`;
  const cause = (e as { cause?: unknown }).cause;
  if (!(cause instanceof Error)) return e.message;
  // Happy eyeballs tries every address: each one's reason matters.
  const parts = cause instanceof AggregateError && cause.errors.length > 0 ? cause.errors.filter((x): x is Error => x instanceof Error) : [cause];
  return parts
    .map((c) => {
      // fetch refuses some ports outright (9, 25, 6000, …: the Fetch standard's "bad ports") without trying them.
      if (c.message === "bad port") return "bad port (fetch refuses to connect to this port; use another)";
      const code = (c as { code?: unknown }).code;
      return typeof code === "string" && !c.message.includes(code) ? `${code} ${c.message}` : c.message;
    })
    .join("; ");
}

/** A non-2xx answer: its status and the start of its body, on one line. */
export async function describeHttpFailure(res: Response): Promise<string> {
  const excerpt = await bodyExcerpt(res);
  return `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}${excerpt ? `: ${excerpt}` : ""}`;
}

async function bodyExcerpt(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    // Read only the start: a receiver's error page can be large, or never end.
    while (size < BODY_READ_LIMIT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A body cut short still says what it said so far.
  } finally {
    void reader.cancel().catch(() => {});
  }
  const text = Buffer.concat(chunks).toString("utf8").replace(/\s+/g, " ").trim();
  return text.length > BODY_EXCERPT_CHARS ? `${text.slice(0, BODY_EXCERPT_CHARS)}…` : text;
}
