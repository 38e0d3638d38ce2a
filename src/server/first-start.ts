// What happens the first time Orchard starts on an empty database.
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { AppContext } from "../app-context.ts";

export const ADMIN_TOKEN_FILE = "admin-token";

/**
 * When no API token exists at all, creates an admin token and writes it to DATA_DIR/admin-token (0600),
 * so the operator can reach the API without a separate set-up step. Returns the file's path when one was
 * written now or earlier, never the token.
 */
export async function ensureAdminToken(ctx: AppContext): Promise<string | undefined> {
  const path = join(ctx.config.dataDir, ADMIN_TOKEN_FILE);
  if ((await ctx.tokens.count()) > 0) return path;
  const { token } = await ctx.tokens.create("initial-admin", "admin");
  mkdirSync(ctx.config.dataDir, { recursive: true });
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  ctx.logger.info({ file: path }, "created the initial admin API token");
  return path;
}
