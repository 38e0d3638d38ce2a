// What a feature module is. Each concept (the MDM engine, push, webhooks, enrollment profiles, SCEP, …) is one
// module that declares everything it adds to the server: its migrations, its services, its routes, its jobs and
// schedules, its durable reactions (outbox) and its command-result processors. The server is the list of
// modules in src/server/modules.ts: adding a concept is one folder and one line there.
import type { FastifyInstance } from "fastify";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AppContext } from "../app-context.ts";
import type { JobHandler } from "../jobs/runner.ts";
import type { Schedule } from "../jobs/schedules.ts";
import type { MigrationModule } from "../store/migrate.ts";

/** A fastify plugin declaring routes: typed with typebox (the API's) or plain (device-facing ones). */
export type RouteModule = FastifyPluginAsyncTypebox | ((app: FastifyInstance) => Promise<void>);

/** What a module's setup hands back to the server. */
export interface ModuleParts {
  /** Mounted under /api/v1, behind the admin API's authentication and audit. */
  apiRoutes?: RouteModule[];
  /** Mounted at the root, unauthenticated (device-facing: SCEP, enrollment links). */
  publicRoutes?: RouteModule[];
  /** Job kinds this module runs, from the jobs table, on every replica. */
  jobs?: Record<string, JobHandler>;
  /** Periodic jobs, enqueued once per slot across replicas (jobs/schedules.ts). */
  schedules?: Schedule[];
  /** Runs when `orchard serve` has started listening (not in tooling that only builds the context). */
  start?(): Promise<void>;
  /** Runs at shutdown, in reverse module order. */
  stop?(): Promise<void>;
}

export interface OrchardModule {
  name: string;
  /**
   * Migrations this module owns, by globally ordered name ("0007-groups"): every module's migrations are applied
   * together in name order, so a name must sort after those it depends on. Never rename or edit a shipped one.
   */
  migrations?: Readonly<Record<string, MigrationModule>>;
  /**
   * Wires the module into `ctx`: sets the services it provides (the AppContext fields it owns), registers its
   * durable reactions on `ctx.outbox` and its result processors on `ctx.results`, and returns its parts. Modules
   * run in list order, so a module may use the services of the modules before it (or reach later ones lazily).
   */
  setup(ctx: AppContext): ModuleParts | Promise<ModuleParts>;
}
