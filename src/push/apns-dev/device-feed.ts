// The device side of the local APNs endpoint, for virtual devices in other processes: plain HTTP on
// loopback (real devices hold a persistent connection to APNs; this is its development stand-in).
//   GET  /v1/events[?token=HEX&token=HEX]  Server-Sent Events, one `push` event per accepted push
//                                          (all tokens when none is named); Last-Event-ID resumes.
//   GET  /v1/pushes[?token=&since=SEQ&wait=MS&status=]  recorded pushes as JSON; with wait, long-polls
//                                          until one arrives after `since`.
//   POST /v1/tokens/HEX/unregister         later pushes to the token get 410 Unregistered
//   POST /v1/tokens/HEX/register[?topic=]  accepted again (optionally bound to a topic)
//   POST /v1/faults {token|"*", status, reason, times}   answer the next pushes with an error
//   GET  /v1/stats                         counters; GET /v1/ca.pem: the CA of the provider port's TLS certificate
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { LocalApns, LocalPush } from "./local-apns.ts";

export interface DevicePush {
  seq: number;
  at: number;
  token: string;
  topic: string;
  pushMagic: string;
}

export function devicePush(p: LocalPush): DevicePush {
  return { seq: p.seq, at: p.at, token: p.token, topic: p.topic, pushMagic: p.pushMagic };
}

export class DeviceFeed {
  private readonly server: Server;
  port = 0;

  private constructor(
    private readonly apns: LocalApns,
    private readonly caPem: string,
  ) {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => send(res, 500, { error: (err as Error).message }));
    });
    this.server.keepAliveTimeout = 60_000;
  }

  static async start(apns: LocalApns, caPem: string, port = 0, host = "127.0.0.1"): Promise<DeviceFeed> {
    const feed = new DeviceFeed(apns, caPem);
    await new Promise<void>((resolve, reject) => {
      feed.server.once("error", reject);
      feed.server.listen(port, host, () => resolve());
    });
    feed.port = (feed.server.address() as AddressInfo).port;
    return feed;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://feed");
    const tokens = url.searchParams.getAll("token").map((t) => t.toLowerCase());
    const m = /^\/v1\/tokens\/([0-9a-fA-F]+)\/(unregister|register)$/.exec(url.pathname);
    if (req.method === "GET" && url.pathname === "/v1/events") return this.events(req, res, tokens);
    if (req.method === "GET" && url.pathname === "/v1/pushes") return this.poll(res, url, tokens);
    if (req.method === "GET" && url.pathname === "/v1/stats") return send(res, 200, this.apns.stats);
    if (req.method === "GET" && url.pathname === "/v1/ca.pem") {
      res.writeHead(200, { "content-type": "application/x-pem-file" });
      res.end(this.caPem);
      return;
    }
    if (req.method === "POST" && m) {
      if (m[2] === "unregister") this.apns.unregister(m[1]!);
      else this.apns.register(m[1]!, url.searchParams.get("topic") ?? undefined);
      return send(res, 200, { token: m[1]!.toLowerCase(), registered: m[2] === "register" });
    }
    if (req.method === "POST" && url.pathname === "/v1/faults") {
      const body = await readJson(req);
      const token = typeof body.token === "string" ? body.token : "*";
      const status = Number(body.status);
      if (!Number.isInteger(status) || status < 400 || status > 599) return send(res, 400, { error: "status must be an HTTP error status (400-599)" });
      const times = body.times === undefined ? 1 : Number(body.times);
      if (!Number.isInteger(times) || times < 1) return send(res, 400, { error: "times must be a positive integer" });
      this.apns.fail(token, status, typeof body.reason === "string" ? body.reason : "InternalServerError", times);
      return send(res, 200, { token, status, times });
    }
    send(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
  }

  private events(req: IncomingMessage, res: ServerResponse, tokens: string[]): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
    res.write(": orchard local APNs device feed\n\n");
    const wanted = tokens.length ? new Set(tokens) : undefined;
    const emit = (p: LocalPush) => {
      if (p.status !== 200 || (wanted && !wanted.has(p.token))) return;
      res.write(`id: ${p.seq}\nevent: push\ndata: ${JSON.stringify(devicePush(p))}\n\n`);
    };
    const last = Number(req.headers["last-event-id"]);
    if (Number.isInteger(last) && last > 0) for (const p of this.apns.pushes({ afterSeq: last, status: 200 })) emit(p);
    const offs = wanted ? [...wanted].map((t) => this.apns.subscribe(t, emit)) : [this.apns.subscribe(undefined, emit)];
    const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
    heartbeat.unref();
    req.on("close", () => {
      clearInterval(heartbeat);
      for (const off of offs) off();
    });
  }

  private async poll(res: ServerResponse, url: URL, tokens: string[]): Promise<void> {
    const since = Number(url.searchParams.get("since") ?? 0) || 0;
    const wait = Math.min(60_000, Math.max(0, Number(url.searchParams.get("wait") ?? 0) || 0));
    const statusParam = url.searchParams.get("status");
    const status = statusParam === null ? undefined : Number(statusParam);
    const wanted = tokens.length ? new Set(tokens) : undefined;
    const match = (p: LocalPush) => (!wanted || wanted.has(p.token)) && (status === undefined || p.status === status);
    let found = this.apns.pushes({ afterSeq: since }).filter(match);
    if (found.length === 0 && wait > 0) {
      try {
        await this.apns.waitForPush(match, wait, since);
      } catch {
        // Nothing within the wait: answer with an empty list.
      }
      found = this.apns.pushes({ afterSeq: since }).filter(match);
    }
    send(res, 200, { pushes: found, next: found.length ? found[found.length - 1]!.seq : Math.max(since, 0), lastSeq: this.apns.lastSeq });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 64 * 1024) throw new Error("body too large");
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
