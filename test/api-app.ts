// The admin API on a fresh test database: a context, the HTTP app (driven with inject) and an admin token.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { OrchardConfig } from "../src/config.ts";
import { buildHttpApp, requestListenerOf } from "../src/http/app.ts";
import { buildTestContext, type TestContext } from "./context.ts";
import type { TestDatabase } from "./databases.ts";

export interface ApiApp {
  t: TestContext;
  app: FastifyInstance;
  /** Headers of an admin token. */
  auth: { authorization: string };
}

export async function startApiApp(database: TestDatabase, overrides: Partial<OrchardConfig> = {}): Promise<ApiApp> {
  const t = await buildTestContext(database, overrides);
  const app = await buildHttpApp(t.ctx);
  return { t, app, auth: { authorization: `Bearer ${(await t.ctx.tokens.create("admin", "admin", "system:test")).token}` } };
}

export async function stopApiApp(api: Partial<ApiApp>): Promise<void> {
  await api.app?.close();
  await api.t?.cleanup();
}

/** A plain-HTTP listener running the app's own request listener: devices reach the real device front end. */
export async function listenForDevices(app: FastifyInstance): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  await app.ready();
  const server = createServer(requestListenerOf(app));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
