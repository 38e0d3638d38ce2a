// The one typed configuration object. Every setting has one entry in SETTINGS: its environment
// variable, its key in the optional JSON config file, how to parse it and whether it is secret.
// Environment variables override the file; a bad value stops start-up with one line naming the key.
import { readFileSync } from "node:fs";
import { availableParallelism, hostname } from "node:os";
import { resolve } from "node:path";

/**
 * Push worker threads for a machine with `cores` cores: one core's worth stays with the main thread, which serves the
 * connects a fan-out wakes; two threads at most. On 2 cores, one thread pushed as fast as two to the local endpoint
 * (~10,000/s in `bench/push-throughput.ts`) with ~15 % less CPU and half the p99 latency.
 */
export function defaultPushThreads(cores: number): number {
  return Math.max(0, Math.min(2, cores - 1));
}

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
/** auto: one readable line per event when stdout is a terminal, JSON lines otherwise (log collectors). */
export type LogFormat = "auto" | "json" | "pretty";

export interface OrchardConfig {
  dataDir: string;
  host: string;
  httpsPort: number;
  httpPort: number | undefined;
  publicUrl: string;
  organization: string;
  databaseUrl: string;
  masterKey: string | undefined;
  logLevel: LogLevel;
  logFormat: LogFormat;
  apiBodyLimit: number;
  mdmBodyLimit: number;
  requestTimeoutSeconds: number;
  certHeader: string | undefined;
  dev: boolean;
  scepAllowLegacyDes: boolean;
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  extraCaFiles: string[];
  caKeyType: "rsa-2048" | "rsa-3072" | "rsa-4096" | "ec-p256";
  caValidityDays: number;
  caCertFile: string | undefined;
  caKeyFile: string | undefined;
  userAuthenticate: "decline" | "empty-challenge";
  maxUserChannelsPerDevice: number;
  resultRetentionDays: number;
  inventoryIntervalHours: number;
  inventoryOnEnroll: boolean;
  certCacheSize: number;
  memoryTrimSeconds: number;
  apnsUrl: string | undefined;
  apnsCaFile: string | undefined;
  apnsExpirationSeconds: number;
  apnsDev: boolean;
  apnsDevPort: number | undefined;
  apnsDevFeedPort: number | undefined;
  pushRepushAfterSeconds: number;
  pushSweepLimit: number;
  pushCoalesceMs: number;
  pushRetryBaseMs: number;
  pushThreads: number;
  workers: boolean;
}

export class ConfigError extends Error {
  constructor(readonly key: string, message: string) {
    super(`${key}: ${message}`);
    this.name = "ConfigError";
  }
}

type Parser<T> = (raw: string) => T;

interface Setting<K extends keyof OrchardConfig> {
  key: K;
  env: string;
  secret?: boolean;
  description: string;
  parse: Parser<OrchardConfig[K]>;
  /** Default, computed from the settings already resolved (e.g. paths inside the data folder). */
  fallback: (partial: Partial<OrchardConfig>) => OrchardConfig[K];
}

class ParseProblem extends Error {}

const port: Parser<number> = (raw) => {
  if (!/^\d+$/.test(raw.trim())) throw new ParseProblem(`expected a port number (1-65535), got "${raw}"`);
  const n = Number(raw);
  if (n < 1 || n > 65535) throw new ParseProblem(`expected a port number (1-65535), got "${raw}"`);
  return n;
};
const optionalPort: Parser<number | undefined> = (raw) => (raw.trim() === "" ? undefined : port(raw));
const positiveInt: Parser<number> = (raw) => {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) throw new ParseProblem(`expected a positive whole number, got "${raw}"`);
  return Number(raw);
};
const nonNegativeInt: Parser<number> = (raw) => {
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(Number(raw))) throw new ParseProblem(`expected a whole number, 0 or more, got "${raw}"`);
  return Number(raw);
};
const bool: Parser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off", ""].includes(v)) return false;
  throw new ParseProblem(`expected true or false, got "${raw}"`);
};
const text: Parser<string> = (raw) => raw;
/** A name shown to device users (profile installation sheets, certificate subjects): one line, not empty. */
const displayName: Parser<string> = (raw) => {
  const v = raw.trim();
  if (v === "") throw new ParseProblem("expected a name, got an empty value");
  if (v.length > 200) throw new ParseProblem(`expected at most 200 characters, got ${v.length}`);
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new ParseProblem("expected one line of text without control characters");
  return v;
};
const optionalText: Parser<string | undefined> = (raw) => (raw.trim() === "" ? undefined : raw.trim());
const url =
  (protocols: string[]): Parser<string> =>
  (raw) => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new ParseProblem(`expected a URL, got "${raw}"`);
    }
    if (!protocols.includes(u.protocol)) throw new ParseProblem(`expected a ${protocols.join(" or ")} URL, got "${raw}"`);
    return raw.replace(/\/+$/, "");
  };
const optionalUrl =
  (protocols: string[]): Parser<string | undefined> =>
  (raw) => (raw.trim() === "" ? undefined : url(protocols)(raw));
const oneOf =
  <T extends string>(values: readonly T[]): Parser<T> =>
  (raw) => {
    if ((values as readonly string[]).includes(raw)) return raw as T;
    throw new ParseProblem(`expected one of ${values.join(", ")}, got "${raw}"`);
  };
const databaseUrl: Parser<string> = (raw) => {
  if (raw.startsWith("sqlite:") || raw.startsWith("postgres://") || raw.startsWith("postgresql://")) return raw;
  throw new ParseProblem(`expected sqlite:PATH or postgres://…, got "${raw.replace(/:[^:@/]*@/, ":***@")}"`);
};
const list: Parser<string[]> = (raw) =>
  raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

function setting<K extends keyof OrchardConfig>(s: Setting<K>): Setting<K> {
  return s;
}

/** Order matters: fallbacks may read settings listed before them. */
export const SETTINGS = [
  setting({ key: "dataDir", env: "ORCHARD_DATA_DIR", description: "Folder for the SQLite database, keys and the admin token", parse: (r) => resolve(r), fallback: () => resolve("data") }),
  setting({ key: "host", env: "ORCHARD_HOST", description: "Address to listen on", parse: text, fallback: () => "0.0.0.0" }),
  setting({ key: "httpsPort", env: "ORCHARD_HTTPS_PORT", description: "HTTPS port (TLS certificate from Orchard's CA)", parse: port, fallback: () => 8443 }),
  setting({ key: "httpPort", env: "ORCHARD_HTTP_PORT", description: "Optional plain-HTTP port, for a TLS-terminating proxy or loopback development", parse: optionalPort, fallback: () => undefined }),
  setting({
    key: "publicUrl",
    env: "ORCHARD_PUBLIC_URL",
    description: "Base URL devices use to reach Orchard",
    parse: url(["https:", "http:"]),
    fallback: (c) => `https://${hostname()}:${c.httpsPort}`,
  }),
  setting({
    key: "organization",
    env: "ORCHARD_ORGANIZATION",
    description: "The organisation's name, as devices show it: PayloadOrganization of enrollment profiles, O= of newly created server certificates",
    parse: displayName,
    fallback: () => "Orchard",
  }),
  setting({ key: "databaseUrl", env: "ORCHARD_DATABASE_URL", secret: true, description: "sqlite:PATH or postgres://user:pass@host/db", parse: databaseUrl, fallback: (c) => `sqlite:${resolve(c.dataDir ?? "data", "orchard.db")}` }),
  setting({ key: "masterKey", env: "ORCHARD_MASTER_KEY", secret: true, description: "Key-encryption key (base64, 32 bytes); default: generated in the data folder", parse: optionalText, fallback: () => undefined }),
  setting({ key: "logLevel", env: "ORCHARD_LOG_LEVEL", description: "Log level", parse: oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const), fallback: () => "info" }),
  setting({
    key: "logFormat",
    env: "ORCHARD_LOG_FORMAT",
    description: "Log format: auto (readable lines at a terminal, JSON otherwise), json or pretty",
    parse: oneOf(["auto", "json", "pretty"] as const),
    fallback: () => "auto",
  }),
  setting({ key: "apiBodyLimit", env: "ORCHARD_API_BODY_LIMIT", description: "Largest admin API request body, bytes", parse: positiveInt, fallback: () => 1024 * 1024 }),
  setting({ key: "mdmBodyLimit", env: "ORCHARD_MDM_BODY_LIMIT", description: "Largest device request body, bytes", parse: positiveInt, fallback: () => 8 * 1024 * 1024 }),
  setting({
    key: "requestTimeoutSeconds",
    env: "ORCHARD_REQUEST_TIMEOUT_SECONDS",
    description: "Longest a client may take to send a request's headers and body (devices on slow cellular links send a few KB to a few MB), seconds; a slower or stalled client gets 408 and its connection closed",
    parse: positiveInt,
    fallback: () => 60,
  }),
  setting({ key: "certHeader", env: "ORCHARD_CERT_HEADER", description: "Header in which a trusted TLS-terminating proxy forwards the device certificate", parse: optionalText, fallback: () => undefined }),
  setting({ key: "dev", env: "ORCHARD_DEV", description: "Development mode (allows plain http URLs to loopback)", parse: bool, fallback: () => false }),
  setting({ key: "scepAllowLegacyDes", env: "ORCHARD_SCEP_ALLOW_LEGACY_DES", description: "Accept single-DES SCEP envelopes from old clients", parse: bool, fallback: () => false }),
  setting({ key: "tlsCertFile", env: "ORCHARD_TLS_CERT_FILE", description: "PEM TLS certificate (chain) to serve instead of one from Orchard's CA", parse: optionalText, fallback: () => undefined }),
  setting({ key: "tlsKeyFile", env: "ORCHARD_TLS_KEY_FILE", secret: true, description: "PEM private key for ORCHARD_TLS_CERT_FILE", parse: optionalText, fallback: () => undefined }),
  setting({ key: "extraCaFiles", env: "ORCHARD_EXTRA_CA_FILES", description: "Comma-separated PEM files of further CAs trusted for device identities", parse: list, fallback: () => [] }),
  setting({ key: "caKeyType", env: "ORCHARD_CA_KEY_TYPE", description: "Key type of a newly created CA", parse: oneOf(["rsa-2048", "rsa-3072", "rsa-4096", "ec-p256"] as const), fallback: () => "rsa-2048" }),
  setting({ key: "caValidityDays", env: "ORCHARD_CA_VALIDITY_DAYS", description: "Validity of a newly created CA, days", parse: positiveInt, fallback: () => 3650 }),
  setting({ key: "caCertFile", env: "ORCHARD_CA_CERT_FILE", description: "PEM certificate (and chain) of an external CA to issue from, instead of a generated one", parse: optionalText, fallback: () => undefined }),
  setting({ key: "caKeyFile", env: "ORCHARD_CA_KEY_FILE", secret: true, description: "PEM private key of ORCHARD_CA_CERT_FILE", parse: optionalText, fallback: () => undefined }),
  setting({
    key: "userAuthenticate",
    env: "ORCHARD_USER_AUTHENTICATE",
    description: "Answer to UserAuthenticate: decline (410) or empty-challenge (zero-length DigestChallenge)",
    parse: oneOf(["decline", "empty-challenge"] as const),
    fallback: () => "decline",
  }),
  setting({
    key: "maxUserChannelsPerDevice",
    env: "ORCHARD_MAX_USER_CHANNELS_PER_DEVICE",
    description: "Most user channels (macOS users, Shared iPad users) one device may have; a TokenUpdate that would create one more is refused with 403",
    parse: positiveInt,
    fallback: () => 64,
  }),
  setting({
    key: "certCacheSize",
    env: "ORCHARD_CERT_CACHE_SIZE",
    description: "Device certificates kept parsed, with their imported keys, in memory (~6 KB each); beyond it a connect imports the key again (RSA-2048 ~0.03 ms, P-256 ~0.13 ms)",
    parse: positiveInt,
    fallback: () => 5_000,
  }),
  setting({
    key: "memoryTrimSeconds",
    env: "ORCHARD_MEMORY_TRIM_SECONDS",
    description: "How often to check whether memory freed since the last check should be given back to the system (malloc_trim; needs the native helper), seconds; 0 never",
    parse: nonNegativeInt,
    fallback: () => 5,
  }),
  setting({ key: "resultRetentionDays", env: "ORCHARD_RESULT_RETENTION_DAYS", description: "How long command results are kept, days", parse: positiveInt, fallback: () => 30 }),
  setting({
    key: "inventoryIntervalHours",
    env: "ORCHARD_INVENTORY_INTERVAL_HOURS",
    description: "How often each enrolled device's inventory is collected again, hours (each device a little later, spread over a fifth of it); 0 only at activation and on request",
    parse: nonNegativeInt,
    fallback: () => 8,
  }),
  setting({
    key: "inventoryOnEnroll",
    env: "ORCHARD_INVENTORY_ON_ENROLL",
    description: "Collect a device's inventory as soon as it enrolls (its first TokenUpdate); false leaves it to the schedule and to refresh requests, e.g. while moving a large fleet in",
    parse: bool,
    fallback: () => true,
  }),
  setting({ key: "apnsUrl", env: "ORCHARD_APNS_URL", description: "Override of the APNs gateway base URL", parse: optionalUrl(["https:", "http:"]), fallback: () => undefined }),
  setting({ key: "apnsCaFile", env: "ORCHARD_APNS_CA_FILE", description: "Extra CA (PEM) to trust for the APNs gateway", parse: optionalText, fallback: () => undefined }),
  setting({ key: "apnsExpirationSeconds", env: "ORCHARD_APNS_EXPIRATION_SECONDS", description: "apns-expiration: how long APNs keeps an undelivered push, seconds", parse: positiveInt, fallback: () => 7 * 24 * 3600 }),
  setting({ key: "apnsDev", env: "ORCHARD_APNS_DEV", description: "Run the local APNs endpoint in-process and push through it (development and demo; `serve --apns-dev`)", parse: bool, fallback: () => false }),
  setting({ key: "apnsDevPort", env: "ORCHARD_APNS_DEV_PORT", description: "Provider (HTTP/2) port of the in-process local APNs endpoint; default any free port", parse: optionalPort, fallback: () => undefined }),
  setting({ key: "apnsDevFeedPort", env: "ORCHARD_APNS_DEV_FEED_PORT", description: "Device feed port of the in-process local APNs endpoint (virtual devices listen there); default any free port", parse: optionalPort, fallback: () => undefined }),
  setting({ key: "pushRepushAfterSeconds", env: "ORCHARD_PUSH_REPUSH_AFTER_SECONDS", description: "Push again to a device with pending commands that has not connected this long after a push (doubling, up to a day)", parse: positiveInt, fallback: () => 600 }),
  setting({ key: "pushSweepLimit", env: "ORCHARD_PUSH_SWEEP_LIMIT", description: "Most enrollments the re-push sweep looks at per minute", parse: positiveInt, fallback: () => 2000 }),
  setting({ key: "pushRetryBaseMs", env: "ORCHARD_PUSH_RETRY_BASE_MS", description: "First wait before retrying a push APNs answered with 429 or 5xx (doubling per attempt), ms", parse: positiveInt, fallback: () => 5000 }),
  setting({ key: "pushThreads", env: "ORCHARD_PUSH_THREADS", description: "Worker threads that send pushes to APNs (started on the first push, stopped when idle); 0 sends on the main thread", parse: nonNegativeInt, fallback: () => defaultPushThreads(availableParallelism()) }),
  setting({ key: "pushCoalesceMs", env: "ORCHARD_PUSH_COALESCE_MS", description: "How long a replica gathers newly queued work before pushing, so a burst of commands to a device costs one push, ms", parse: positiveInt, fallback: () => 25 }),
  setting({
    key: "workers",
    env: "ORCHARD_WORKERS",
    description: "Run background work on this replica (jobs: pushes, webhook deliveries, maintenance). false makes a replica that only serves requests; its work is recorded in the database and run by the replicas that have workers",
    parse: bool,
    fallback: () => true,
  }),
] as const;

export const CONFIG_FILE_ENV = "ORCHARD_CONFIG_FILE";

/**
 * Builds the configuration from the environment and an optional JSON file (ORCHARD_CONFIG_FILE, keys
 * named like the config object, e.g. {"httpsPort": 9443}). Throws ConfigError naming the first bad key.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): OrchardConfig {
  const file = readConfigFile(env[CONFIG_FILE_ENV]);
  const out: Partial<Record<keyof OrchardConfig, unknown>> = {};
  for (const s of SETTINGS) {
    const fromEnv = env[s.env];
    const fromFile = file[s.key];
    const source = fromEnv !== undefined ? s.env : fromFile !== undefined ? `${s.key} (in ${env[CONFIG_FILE_ENV]})` : undefined;
    const raw = fromEnv ?? (fromFile === undefined ? undefined : Array.isArray(fromFile) ? fromFile.join(",") : String(fromFile));
    if (raw === undefined || source === undefined) {
      out[s.key] = s.fallback(out as Partial<OrchardConfig>);
      continue;
    }
    try {
      out[s.key] = s.parse(raw);
    } catch (e) {
      if (e instanceof ParseProblem) throw new ConfigError(source, e.message);
      throw e;
    }
  }
  const config = out as OrchardConfig;
  if ((config.caCertFile === undefined) !== (config.caKeyFile === undefined)) {
    throw new ConfigError("ORCHARD_CA_CERT_FILE", "ORCHARD_CA_CERT_FILE and ORCHARD_CA_KEY_FILE must be set together");
  }
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    throw new ConfigError("ORCHARD_TLS_CERT_FILE", "ORCHARD_TLS_CERT_FILE and ORCHARD_TLS_KEY_FILE must be set together");
  }
  return config;
}

/** The settings given explicitly (environment or config file) rather than left to their defaults. */
export function explicitSettings(env: NodeJS.ProcessEnv = process.env): Set<keyof OrchardConfig> {
  const file = readConfigFile(env[CONFIG_FILE_ENV]);
  return new Set(SETTINGS.filter((s) => env[s.env] !== undefined || file[s.key] !== undefined).map((s) => s.key));
}

/** Variables the tests and benchmarks read; they are not server settings. */
const NON_SETTING_PREFIXES = ["ORCHARD_TEST_", "ORCHARD_BENCH_"];

/**
 * ORCHARD_* variables in `env` that are no setting (a typo, or one from another version): loadConfig ignores
 * them, so `orchard serve` says so rather than run with a default the operator did not mean.
 */
export function unknownSettingVariables(env: NodeJS.ProcessEnv): string[] {
  const known = new Set<string>([CONFIG_FILE_ENV, ...SETTINGS.map((s) => s.env)]);
  return Object.keys(env)
    .filter((name) => name.startsWith("ORCHARD_") && !known.has(name) && !NON_SETTING_PREFIXES.some((p) => name.startsWith(p)))
    .sort();
}

function readConfigFile(path: string | undefined): Record<string, unknown> {
  if (!path) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConfigError(CONFIG_FILE_ENV, `cannot read JSON config file ${path}: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(CONFIG_FILE_ENV, `${path} must hold a JSON object`);
  }
  const known = new Set<string>(SETTINGS.map((s) => s.key));
  for (const k of Object.keys(parsed)) {
    if (!known.has(k)) throw new ConfigError(CONFIG_FILE_ENV, `unknown key "${k}" in ${path}`);
  }
  return parsed as Record<string, unknown>;
}

/** The effective configuration for display, secrets replaced. */
export function redactedConfig(config: OrchardConfig): Array<{ key: string; env: string; value: string; description: string }> {
  return SETTINGS.map((s) => {
    const v = config[s.key];
    let shown = v === undefined ? "(unset)" : Array.isArray(v) ? v.join(",") || "(none)" : String(v);
    if (s.secret && v !== undefined) {
      shown = s.key === "databaseUrl" ? String(v).replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@") : "***";
    }
    return { key: s.key, env: s.env, value: shown, description: s.description };
  });
}
