// One readable line per log event, for a person watching `npm start` at a terminal: local time, level, message,
// then the fields as key=value. It is a pino destination stream that reformats the JSON line pino has already
// made, so redaction and serializers have run before anything is printed. Written here rather than taken from
// pino-pretty because pino's transports run in a worker thread: their lines would land after the startup banner
// that serve-command prints with console.log, and pino-pretty is one more dependency for a few dozen lines.
import type { DestinationStream } from "pino";

const LEVELS: Record<number, { label: string; color: string }> = {
  10: { label: "TRACE", color: "\x1b[90m" },
  20: { label: "DEBUG", color: "\x1b[36m" },
  30: { label: "INFO ", color: "\x1b[32m" },
  40: { label: "WARN ", color: "\x1b[33m" },
  50: { label: "ERROR", color: "\x1b[31m" },
  60: { label: "FATAL", color: "\x1b[41m" },
};
const RESET = "\x1b[0m";
const DIM = "\x1b[2m";

/** Fields every line has, shown in their own places or not at all. */
const OMIT = new Set(["level", "time", "msg", "pid", "hostname"]);

export interface PrettyOptions {
  /** ANSI colours for the level (a terminal that has not asked for NO_COLOR). */
  color?: boolean;
}

function clock(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

function value(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v);
  return JSON.stringify(v);
}

/** The readable form of one pino JSON line (without the newline); a line that is not JSON is returned as it is. */
export function prettyLine(line: string, options: PrettyOptions = {}): string {
  let event: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return line.trimEnd();
    event = parsed as Record<string, unknown>;
  } catch {
    return line.trimEnd();
  }
  const level = LEVELS[Number(event.level)] ?? { label: String(event.level ?? "?").toUpperCase().padEnd(5), color: "" };
  const parts = [typeof event.time === "number" ? clock(event.time) : "", options.color ? `${level.color}${level.label}${RESET}` : level.label];
  const shown = new Set(OMIT);
  // A request line (src/http/request-log.ts) reads as the request: "GET /api/v1/tokens 200 3.1 ms".
  if (typeof event.method === "string" && typeof event.url === "string" && typeof event.status === "number") {
    parts.push(`${event.method} ${event.url} ${event.status}${typeof event.ms === "number" ? ` ${event.ms} ms` : ""}`);
    for (const k of ["method", "url", "status", "ms", "msg"]) shown.add(k);
  } else if (typeof event.msg === "string") parts.push(event.msg);
  let stack = "";
  const fields: string[] = [];
  for (const [k, v] of Object.entries(event)) {
    if (shown.has(k) || v === undefined) continue;
    const err = v as { message?: unknown; stack?: unknown } | null;
    if (k === "err" && err && typeof err === "object") {
      fields.push(`err=${value(err.message)}`);
      if (typeof err.stack === "string") stack = "\n" + err.stack.replace(/^/gm, "    ");
      continue;
    }
    fields.push(`${k}=${value(v)}`);
  }
  if (fields.length) parts.push(options.color ? `${DIM}${fields.join(" ")}${RESET}` : fields.join(" "));
  return parts.filter(Boolean).join(" ") + stack;
}

/** A pino destination writing each event as a readable line to `out` (synchronously, as pino's default does). */
export function prettyDestination(out: { write(s: string): unknown }, options: PrettyOptions = {}): DestinationStream {
  return {
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line.trim() !== "") out.write(prettyLine(line, options) + "\n");
    },
  };
}
