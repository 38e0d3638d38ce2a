// A minimal MDM responder over real HTTP on loopback, for tests that need to see exactly what the sim sends:
// it records every request (headers, raw body, parsed plist), answers check-ins with 200, escrows and returns
// a bootstrap token, and hands out queued commands one at a time on the connect endpoint until the queue is
// empty (then 200 with an empty body). It is deliberately simple: protocol behaviour of a real server is
// tested against Orchard itself in test/e2e.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { buildPlist, parsePlist, type PlistDict } from "../../src/wire/plist.ts";

export interface RecordedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  message: PlistDict;
}

export class RecordingMdmServer {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: PlistDict[] = [];
  private readonly types = new Map<string, string>();
  private bootstrap: Uint8Array | undefined;
  private server: Server | undefined;
  base = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        let message: PlistDict;
        try {
          message = parsePlist(body) as PlistDict;
        } catch (e) {
          res.writeHead(400).end(String(e));
          return;
        }
        this.requests.push({ path: req.url ?? "", headers: req.headers, body, message });
        if (message.MessageType === "SetBootstrapToken") this.bootstrap = message.BootstrapToken as Uint8Array;
        if (message.MessageType === "GetBootstrapToken") {
          res.writeHead(200, { "content-type": "application/xml" }).end(this.bootstrap ? buildPlist({ BootstrapToken: this.bootstrap }) : "");
          return;
        }
        if (message.MessageType !== undefined) {
          res.writeHead(200).end();
          return;
        }
        const next = this.queue.shift();
        if (!next) {
          res.writeHead(200, { "content-length": "0" }).end();
          return;
        }
        res.writeHead(200, { "content-type": "application/xml" }).end(buildPlist(next));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", () => resolve()));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Queues a command; returns its CommandUUID. */
  enqueue(requestType: string, params: PlistDict = {}): string {
    const uuid = randomUUID().toUpperCase();
    this.types.set(uuid, requestType);
    this.queue.push({ CommandUUID: uuid, Command: { RequestType: requestType, ...params } });
    return uuid;
  }

  /** The RequestType of a command this server queued. */
  commandType(uuid: string): string {
    const t = this.types.get(uuid);
    if (!t) throw new Error(`no command ${uuid} was queued`);
    return t;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
