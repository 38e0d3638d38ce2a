// Admin API tokens: created by the CLI or the API, shown once, stored only as a SHA-256 hash.
// Tokens are 256-bit random values, so a fast hash is enough (no password stretching needed).
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Store } from "../store/db.ts";
import type { Actor } from "../events/actor.ts";
import type { AuditLog } from "../events/audit-log.ts";
import { apiTokenByHash, countApiTokens, insertApiToken, listApiTokens, liveAdminTokenIdsForUpdate, liveTokenIdByName, liveTokensByIdOrName, revokeApiToken, touchApiToken } from "../store/api-tokens.ts";

export const ROLES = ["readonly", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
}

const TOKEN_PREFIX = "orch_";

/** A token request that cannot be carried out as asked (a taken name, an ambiguous revoke): the caller's to fix. */
export class ApiTokenError extends Error {
  constructor(readonly reason: "name_taken" | "ambiguous" | "last_admin", message: string) {
    super(message);
    this.name = "ApiTokenError";
  }
}

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export class ApiTokenService {
  /** Last-used times are written at most this often per token, so reads don't turn into writes. */
  private readonly touchIntervalMs = 60_000;
  private readonly lastTouched = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
  ) {}

  /** Creates a token for `actor`; the audit entry names it and its role, never the token. */
  async create(name: string, role: Role, actor: Actor): Promise<{ token: string; info: ApiTokenInfo }> {
    const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
    const row = {
      id: randomUUID(),
      name,
      role,
      token_hash: hashToken(token),
      prefix: token.slice(0, TOKEN_PREFIX.length + 6),
      created_at: Date.now(),
      last_used_at: null,
      revoked_at: null,
    };
    const taken = () => new ApiTokenError("name_taken", `a live token named "${name}" already exists: pick another name, or revoke that one first`);
    await this.store.transaction(async (tx) => {
      if ((await liveTokenIdByName(tx, name)) !== undefined) throw taken();
      try {
        await insertApiToken(tx, row);
      } catch (e) {
        // Another request (or replica) took the name between the check and the insert (api_tokens_live_name).
        if (/api_tokens_live_name|api_tokens\.name\b/.test((e as Error).message)) throw taken();
        throw e;
      }
      await this.audit.record(tx, { actor, action: "token.create", target: row.id, detail: { name, role, prefix: row.prefix } });
    });
    return { token, info: toInfo(row) };
  }

  async list(): Promise<ApiTokenInfo[]> {
    return (await listApiTokens(this.store)).map(toInfo);
  }

  async count(): Promise<number> {
    return countApiTokens(this.store);
  }

  /**
   * Revokes one live token by id or by name; returns the one revoked, or undefined when nothing live matched.
   * Refuses (ApiTokenError) when the words match more than one live token, rather than revoke several while the
   * caller meant one. With `keepLastAdmin` (the API), also refuses to revoke the last live admin token: nobody could
   * then manage tokens, profiles or certificates through the API. The CLI may: it works on the database and can
   * always create another admin token.
   */
  async revoke(idOrName: string, actor: Actor, opts: { keepLastAdmin?: boolean } = {}): Promise<{ id: string; name: string } | undefined> {
    return this.store.transaction(async (tx) => {
      const matches = await liveTokensByIdOrName(tx, idOrName);
      if (matches.length > 1) {
        throw new ApiTokenError("ambiguous", `"${idOrName}" matches ${matches.length} live tokens (${matches.map((m) => m.id).join(", ")}): revoke one by its id`);
      }
      const [match] = matches;
      if (match === undefined) return undefined;
      if (opts.keepLastAdmin && match.role === "admin") {
        const admins = await liveAdminTokenIdsForUpdate(tx);
        if (admins.every((id) => id === match.id)) {
          throw new ApiTokenError("last_admin", `"${match.name}" is the last live admin token: revoking it would lock every admin out of the API; create another admin token first`);
        }
      }
      // False when another revoke took it meanwhile: then this one revoked nothing.
      if (!(await revokeApiToken(tx, match.id, Date.now()))) return undefined;
      await this.audit.record(tx, { actor, action: "token.revoke", target: match.id, detail: { name: match.name, role: match.role } });
      return { id: match.id, name: match.name };
    });
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return undefined;
    const row = await apiTokenByHash(this.store, hashToken(token));
    if (!row || row.revoked_at !== null) return undefined;
    const now = Date.now();
    if (now - (this.lastTouched.get(row.id) ?? 0) > this.touchIntervalMs) {
      this.lastTouched.set(row.id, now);
      await touchApiToken(this.store, row.id, now);
    }
    return { tokenId: row.id, name: row.name, role: row.role };
  }
}

function toInfo(row: {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}): ApiTokenInfo {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    createdAt: iso(row.created_at) ?? "",
    lastUsedAt: iso(row.last_used_at),
    revokedAt: iso(row.revoked_at),
  };
}
