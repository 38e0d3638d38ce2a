// A test server whose device routes are reached over a real socket, through the listener `orchard serve` runs
// (mdm-fast-path.ts first), and devices that sign their messages with Mdm-Signature like real ones.
import { randomUUID } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { OrchardConfig } from "../src/config.ts";
import { buildHttpApp, configureListener, requestListenerOf } from "../src/http/app.ts";
import { signCms } from "../src/pki/cms-signed-data.ts";
import { issueDeviceCertificate, type SigningIdentity } from "../src/pki/issue.ts";
import { generatePrivateKey } from "../src/pki/keys.ts";
import { buildPlist, type PlistInput } from "../src/wire/plist.ts";
import { buildTestContext, type TestContext } from "./context.ts";
import type { TestDatabase } from "./databases.ts";

export interface DeviceSocketServer {
  t: TestContext;
  app: FastifyInstance;
  port: number;
  /** An admin token's Authorization header, for app.inject. */
  auth: { authorization: string };
  close(): Promise<void>;
}

export async function startDeviceSocketServer(database: TestDatabase, overrides: Partial<OrchardConfig> = {}): Promise<DeviceSocketServer> {
  const t = await buildTestContext(database, overrides);
  const app = await buildHttpApp(t.ctx);
  await app.ready();
  const server: Server = configureListener(createServer(requestListenerOf(app)), t.ctx.config);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const auth = { authorization: `Bearer ${(await t.ctx.tokens.create("admin", "admin", "system:test")).token}` };
  return {
    t,
    app,
    port: (server.address() as AddressInfo).port,
    auth,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await app.close();
      await t.cleanup();
    },
  };
}

export interface SignedDevice {
  udid: string;
  identity: SigningIdentity;
}

const keyPromise = generatePrivateKey({ type: "rsa", bits: 2048 });

/** A device with its own identity certificate from the server's CA. */
export async function newSignedDevice(server: DeviceSocketServer): Promise<SignedDevice> {
  const key = await keyPromise;
  const udid = randomUUID().toUpperCase();
  return { udid, identity: { certDer: issueDeviceCertificate(server.t.ctx.credentials.ca, { subject: `CN=${udid}`, publicKey: key }), key } };
}

/** One signed PUT over a fresh connection. */
export function putSigned(port: number, device: SignedDevice, path: string, message: PlistInput, contentType?: string): Promise<{ status: number; body: string }> {
  const body = Buffer.from(buildPlist(message), "utf8");
  const sig = Buffer.from(signCms(body, device.identity, { detached: true, digest: "sha256", certificates: [device.identity.certDer] })).toString("base64");
  return new Promise((resolve, reject) => {
    const headers = { "mdm-signature": sig, "content-length": String(body.length), ...(contentType ? { "content-type": contentType } : {}) };
    const req = request({ host: "127.0.0.1", port, path, method: "PUT", agent: false, headers }, (res) => {
      let b = "";
      res.on("data", (c) => (b += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A check-in message from the device, at /mdm/checkin. */
export function checkinOf(port: number, device: SignedDevice, message: Record<string, PlistInput>): Promise<{ status: number; body: string }> {
  return putSigned(port, device, "/mdm/checkin", { UDID: device.udid, Topic: "com.apple.mgmt.test", ...message }, "application/x-apple-aspen-mdm-checkin");
}
