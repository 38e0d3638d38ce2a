// What Orchard sets up at start for the operator: the first admin token and "Default" enrollment profile (on an
// empty database), and the CA certificate file clients trust the server by.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AppContext } from "../app-context.ts";
import { PROFILE_DEFAULTS, ProfileError } from "../manage/enrollment-profiles/enrollment-profiles.ts";
import { anyProfileEverMade } from "../store/enrollment-profiles.ts";
import { systemActor } from "../events/actor.ts";

/** What Orchard sets up by itself on an empty database is audited under this actor. */
const FIRST_START = systemActor("first-start");

export const ADMIN_TOKEN_FILE = "admin-token";

/**
 * When no API token exists at all, creates an admin token and writes it to DATA_DIR/admin-token (0600),
 * so the operator can reach the API without a separate set-up step. Returns the file's path when one was
 * written now or earlier, never the token.
 */
export async function ensureAdminToken(ctx: AppContext): Promise<string | undefined> {
  const path = join(ctx.config.dataDir, ADMIN_TOKEN_FILE);
  if ((await ctx.tokens.count()) > 0) return path;
  const { token } = await ctx.tokens.create("initial-admin", "admin", FIRST_START);
  mkdirSync(ctx.config.dataDir, { recursive: true });
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  ctx.logger.info({ file: path }, "created the initial admin API token");
  return path;
}

export const CA_CERTIFICATE_FILE = "ca.pem";

/**
 * Writes Orchard's CA certificate (public) to DATA_DIR/ca.pem, where tools that must trust the server find it:
 * `orchard sim enroll --ca`, curl --cacert, a load balancer's client-certificate trust store. Rewritten only when
 * the CA changed (an imported CA replacing the generated one).
 */
export function writeCaCertificate(ctx: Pick<AppContext, "config">, caPem: string): string {
  const path = join(ctx.config.dataDir, CA_CERTIFICATE_FILE);
  let current: string | undefined;
  try {
    current = readFileSync(path, "utf8");
  } catch {
    current = undefined;
  }
  if (current !== caPem) {
    mkdirSync(ctx.config.dataDir, { recursive: true });
    writeFileSync(path, caPem, { mode: 0o644 });
  }
  return path;
}

export const DEFAULT_PROFILE_NAME = "Default";

/**
 * On the very first start (no enrollment profile ever made), creates a "Default" enrollment profile so that the
 * enrollment link printed at start works at once. Returns the link of a live profile, if any.
 */
export async function enrollmentLink(ctx: AppContext): Promise<string | undefined> {
  if (!(await anyProfileEverMade(ctx.store))) {
    try {
      await ctx.enrollmentProfiles.create({ ...PROFILE_DEFAULTS, name: DEFAULT_PROFILE_NAME, description: "Created on first start" }, FIRST_START);
    } catch (e) {
      // E.g. a plain-http public URL outside development mode: the admin creates profiles when ready.
      if (!(e instanceof ProfileError)) throw e;
      ctx.logger.warn({ reason: e.message }, "no default enrollment profile created");
    }
  }
  const live = (await ctx.enrollmentProfiles.list()).find((p) => !p.lapsed);
  return live?.links.enroll;
}
