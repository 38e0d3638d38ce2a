// pino, configured so that secrets cannot reach a log line: authorization and signature headers and
// key/token-looking fields are redacted, and secret-bearing URL segments (enrollment links) are masked.
import pino, { type Logger } from "pino";
import type { LogFormat, LogLevel } from "../config.ts";
import { prettyDestination } from "./pretty-stream.ts";

const REDACT = [
  "req.headers.authorization",
  "req.headers['mdm-signature']",
  "*.privateKey",
  "*.token",
  "*.password",
  "*.challenge",
  "*.masterKey",
];

/** Paths whose last segment is a secret (enrollment links carry their token in the URL). */
export function maskUrl(url: string): string {
  return url.replace(/^(\/enroll\/)[^/?#]+/, "$1***").replace(/([?&](?:challenge|token|message)=)[^&]*/gi, "$1***");
}

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT, censor: "***" },
      serializers: {
        req(req: { id?: string; method?: string; url?: string; ip?: string }) {
          return { id: req.id, method: req.method, url: maskUrl(req.url ?? ""), remoteAddress: req.ip };
        },
      },
    },
    destination,
  );
}

/**
 * Where the server's and the CLI's logs go for a configured format: readable lines (pretty-stream.ts) when asked,
 * or by default when `out` is a terminal; undefined means pino's own JSON lines on stdout.
 */
export function logDestination(format: LogFormat, out: NodeJS.WriteStream = process.stdout): pino.DestinationStream | undefined {
  if (format === "json" || (format === "auto" && !out.isTTY)) return undefined;
  return prettyDestination(out, { color: Boolean(out.isTTY) && process.env.NO_COLOR === undefined });
}
