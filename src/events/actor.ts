// Who made a change, as the audit log names them. One spelling per entry point, so that an admin can filter the
// log by actor and tell an API token from a person at the CLI or a background job.
import { hostname, userInfo } from "node:os";

/**
 * `token:<name>` (the admin API, by the token's name), `cli:<os user>@<host>` (the `orchard` command, which works
 * on the database directly), `system:<job>` (background jobs and start-up), `anonymous` (a failed sign-in).
 */
export type Actor = `token:${string}` | `cli:${string}` | `system:${string}` | "anonymous";

export const ANONYMOUS: Actor = "anonymous";

export function tokenActor(tokenName: string): Actor {
  return `token:${tokenName}`;
}

export function systemActor(job: string): Actor {
  return `system:${job}`;
}

/** The person running the CLI: the OS user (USER/LOGNAME when the user database has no entry) at this host. */
export function cliActor(): Actor {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // A uid without a passwd entry (containers): the environment is the best name left.
    user = process.env["USER"] ?? process.env["LOGNAME"] ?? "unknown";
  }
  return `cli:${user}@${hostname()}`;
}
