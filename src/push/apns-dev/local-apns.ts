// A local stand-in for Apple's push gateway, speaking the same HTTP/2 provider protocol
// (POST /3/device/<token>, apns-* headers, JSON reasons) with TLS client-certificate authentication.
// It checks what APNs checks (the client certificate's issuer and its topic against apns-topic, the headers,
// the payload), records every push, and hands accepted pushes to subscribed virtual devices: in-process
// through subscribe(), across processes through the device feed (device-feed.ts).
import { randomUUID } from "node:crypto";
import { createSecureServer, constants, type Http2SecureServer, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { UID_OID } from "../push-certificate.ts";

export interface LocalPush {
  /** Order of arrival, from 1. */
  seq: number;
  at: number;
  token: string;
  topic: string;
  pushMagic: string;
  apnsId: string;
  /** The request's apns-* and content-type headers, as received. */
  headers: Record<string, string>;
  body: string;
  /** Subject and SHA-256 fingerprint (hex, lowercase) of the client certificate that sent it. */
  certificateSubject: string;
  certificateFingerprint: string;
  status: number;
  reason?: string;
}

export interface LocalApnsOptions {
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
  tls: { certPem: string; keyPem: string };
  /** CAs whose push certificates are accepted (PEM). */
  trustedCaPem: string[];
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised (APNs: 1,000). */
  maxConcurrentStreams?: number;
  /** Recorded pushes kept (the oldest are dropped first). */
  recordLimit?: number;
}

export interface LocalApnsStats {
  received: number;
  accepted: number;
  refused: number;
  /** Provider connections accepted so far. */
  connections: number;
  delivered: number;
}

interface Fault {
  status: number;
  reason: string;
  remaining: number;
}

export type PushListener = (push: LocalPush) => void;

const { HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, HTTP2_HEADER_STATUS } = constants;
const TOKEN_RE = /^[0-9a-fA-F]{64,200}$/;
const MAX_PAYLOAD = 4096;
const DEVICE_PATH = "/3/device/";
const noop = () => {};

interface ClientFacts {
  authorized: boolean;
  topic: string | undefined;
  subject: string;
  fingerprint: string;
  error?: string;
}

const NO_TLS: ClientFacts = { authorized: false, topic: undefined, subject: "", fingerprint: "", error: "no TLS session" };

interface Refusal {
  status: number;
  reason: string;
  extra?: Record<string, unknown>;
  /** The push magic, when the payload was read before the refusal. */
  pushMagic?: string;
}

/** A request being read: headers, and the body so far (nothing kept past MAX_PAYLOAD). */
interface RequestState {
  apns: LocalApns;
  headers: IncomingHttpHeaders;
  size: number;
  chunks: Buffer[] | undefined;
}

const REQUEST = Symbol("localApns.request");
type TaggedStream = ServerHttp2Stream & { [REQUEST]?: RequestState };

function onRequestData(this: TaggedStream, c: Buffer): void {
  const r = this[REQUEST]!;
  r.size += c.length;
  if (r.size <= MAX_PAYLOAD) (r.chunks ??= []).push(c);
}

function onRequestEnd(this: TaggedStream): void {
  const r = this[REQUEST]!;
  this[REQUEST] = undefined;
  r.apns.requestEnded(this, r);
}

const RECORDED_HEADERS = ["apns-topic", "apns-push-type", "apns-priority", "apns-expiration", "apns-id", "apns-collapse-id", "content-type"];

export class LocalApns {
  private readonly server: Http2SecureServer;
  private readonly sessions = new Set<Http2Session>();
  private readonly recorded: LocalPush[] = [];
  private readonly listeners = new Map<string, Set<PushListener>>();
  private readonly anyListeners = new Set<PushListener>();
  private readonly faults = new Map<string, Fault[]>();
  private readonly unregistered = new Map<string, number>();
  private readonly tokenTopics = new Map<string, string>();
  private readonly clientFacts = new WeakMap<object, ClientFacts>();
  private seq = 0;
  private held: Array<() => void> | undefined;
  private trusted: string[];
  readonly stats: LocalApnsStats = { received: 0, accepted: 0, refused: 0, connections: 0, delivered: 0 };
  port = 0;

  private constructor(private readonly options: LocalApnsOptions) {
    this.trusted = [...options.trustedCaPem];
    this.server = this.createServer();
  }

  static async start(options: LocalApnsOptions): Promise<LocalApns> {
    const apns = new LocalApns(options);
    await new Promise<void>((resolve, reject) => {
      apns.server.once("error", reject);
      apns.server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
    });
    apns.port = (apns.server.address() as AddressInfo).port;
    return apns;
  }

  /** The base URL a provider sets as ORCHARD_APNS_URL. */
  get url(): string {
    const host = this.options.host ?? "127.0.0.1";
    return `https://${host.includes(":") ? `[${host}]` : host}:${this.port}`;
  }

  /** Trusts another CA for push certificates (takes effect for new connections). */
  trust(caPem: string): void {
    if (this.trusted.includes(caPem)) return;
    this.trusted.push(caPem);
    this.server.setSecureContext({ key: this.options.tls.keyPem, cert: this.options.tls.certPem, ca: this.trusted });
  }

  /** Listens for pushes to one token, or to every token when `token` is undefined. Returns the unsubscribe. */
  subscribe(token: string | undefined, listener: PushListener): () => void {
    if (token === undefined) {
      this.anyListeners.add(listener);
      return () => this.anyListeners.delete(listener);
    }
    const key = token.toLowerCase();
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(key);
    };
  }

  /** Resolves with the next accepted push matching `filter` (or one already recorded after `afterSeq`). */
  waitForPush(filter: (p: LocalPush) => boolean, timeoutMs = 5000, afterSeq = this.seq): Promise<LocalPush> {
    const already = this.recorded.find((p) => p.seq > afterSeq && p.status === 200 && filter(p));
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no matching push within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.subscribe(undefined, (p) => {
        if (!filter(p)) return;
        clearTimeout(timer);
        off();
        resolve(p);
      });
    });
  }

  /** Recorded pushes (accepted and refused), oldest first. */
  pushes(filter: { token?: string; topic?: string; afterSeq?: number; status?: number } = {}): LocalPush[] {
    const token = filter.token?.toLowerCase();
    return this.recorded.filter(
      (p) =>
        (token === undefined || p.token === token) &&
        (filter.topic === undefined || p.topic === filter.topic) &&
        (filter.afterSeq === undefined || p.seq > filter.afterSeq) &&
        (filter.status === undefined || p.status === filter.status),
    );
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** The next `times` pushes to `token` (or to any token, "*") are answered with this status and reason. */
  fail(token: string, status: number, reason: string, times = 1): void {
    const key = token === "*" ? "*" : token.toLowerCase();
    const list = this.faults.get(key) ?? [];
    list.push({ status, reason, remaining: times });
    this.faults.set(key, list);
  }

  /** The token is no longer valid (the app was removed, the device unenrolled): pushes get 410 Unregistered. */
  unregister(token: string, at = Date.now()): void {
    this.unregistered.set(token.toLowerCase(), at);
  }

  /** A device registered again (a new TokenUpdate would carry it): pushes are accepted again. */
  register(token: string, topic?: string): void {
    const key = token.toLowerCase();
    this.unregistered.delete(key);
    if (topic) this.tokenTopics.set(key, topic);
  }

  /**
   * Holds every push received from now on without answering, as an unresponsive gateway would, until
   * release() (tests: the provider must not wait for APNs on its request path).
   */
  async stall(): Promise<{ waiting: () => number; release: () => void }> {
    const held: Array<() => void> = [];
    this.held = held;
    return {
      waiting: () => held.length,
      release: () => {
        if (this.held === held) this.held = undefined;
        for (const go of held.splice(0)) go();
      },
    };
  }

  /** Destroys every provider connection at once, as a network failure would. Returns how many. */
  killConnections(): number {
    const n = this.sessions.size;
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
    return n;
  }

  /** Sends GOAWAY on every provider connection, as APNs does when it shuts a node down. */
  goAway(): void {
    for (const s of this.sessions) s.goaway(constants.NGHTTP2_NO_ERROR);
  }

  async close(): Promise<void> {
    this.killConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private createServer(): Http2SecureServer {
    const server = createSecureServer({
      key: this.options.tls.keyPem,
      cert: this.options.tls.certPem,
      ca: this.trusted,
      // Ask for a client certificate but judge it per request, so an untrusted one gets APNs' 403 answer
      // instead of a bare TLS failure.
      requestCert: true,
      rejectUnauthorized: false,
      settings: { maxConcurrentStreams: this.options.maxConcurrentStreams ?? 1000, enablePush: false },
    });
    server.on("session", (session) => {
      this.stats.connections++;
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
      session.on("error", () => {});
    });
    server.on("stream", (stream, headers) => this.onStream(stream, headers));
    server.on("sessionError", () => {});
    server.on("tlsClientError", () => {});
    return server;
  }

  /** The client certificate's facts, read once per connection (they cannot change after the handshake). */
  private clientOf(stream: ServerHttp2Stream): ClientFacts {
    const socket = stream.session?.socket as TLSSocket | undefined;
    if (!socket) return NO_TLS;
    let info = this.clientFacts.get(socket);
    if (!info) {
      const peer = socket.getPeerCertificate();
      const subject = peer && peer.subject ? Object.entries(peer.subject).map(([k, v]) => `${k}=${String(v)}`).join(", ") : "";
      // Node names the UID attribute "UID" in its subject object.
      const raw = peer?.subject as unknown as Record<string, string | string[] | undefined> | undefined;
      const uid = raw?.UID ?? raw?.[UID_OID];
      const fingerprint = typeof peer?.fingerprint256 === "string" ? peer.fingerprint256.replace(/:/g, "").toLowerCase() : "";
      info = { authorized: socket.authorized, topic: Array.isArray(uid) ? uid[0] : uid, subject, fingerprint };
      if (!socket.authorized) info.error = String(socket.authorizationError ?? "no client certificate");
      this.clientFacts.set(socket, info);
    }
    return info;
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    // Listeners shared by every stream, state on the stream: a busy provider sends thousands of pushes a second.
    (stream as TaggedStream)[REQUEST] = { apns: this, headers, size: 0, chunks: undefined };
    stream.on("error", noop);
    stream.on("data", onRequestData);
    stream.on("end", onRequestEnd);
  }

  /** The request's body is in: answer now, or later when stall() holds answers back. */
  requestEnded(stream: ServerHttp2Stream, r: RequestState): void {
    const body = r.size > MAX_PAYLOAD ? undefined : r.chunks === undefined ? "" : r.chunks.length === 1 ? r.chunks[0]!.toString("utf8") : Buffer.concat(r.chunks).toString("utf8");
    if (this.held) this.held.push(() => this.answer(stream, r.headers, body));
    else this.answer(stream, r.headers, body);
  }

  private answer(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, body: string | undefined): void {
    this.stats.received++;
    const idHeader = headers["apns-id"];
    const apnsId = typeof idHeader === "string" ? idHeader : randomUUID().toUpperCase();
    const pathHeader = headers[HTTP2_HEADER_PATH];
    const path = typeof pathHeader === "string" ? pathHeader : "";
    const token = path.startsWith(DEVICE_PATH) ? path.slice(DEVICE_PATH.length).toLowerCase() : "";
    const topicHeader = headers["apns-topic"];
    const topic = typeof topicHeader === "string" ? topicHeader : "";
    const client = this.clientOf(stream);
    const verdict = this.judge(headers, path, token, topic, client, body);
    if (typeof verdict !== "string") {
      this.stats.refused++;
      this.record(token, topic, verdict.pushMagic ?? "", apnsId, headers, body ?? "", client, verdict.status, verdict.reason);
      if (stream.destroyed || stream.closed) return;
      stream.respond({ [HTTP2_HEADER_STATUS]: verdict.status, "apns-id": apnsId, "content-type": "application/json" });
      stream.end(JSON.stringify({ reason: verdict.reason, ...verdict.extra }));
      return;
    }
    this.stats.accepted++;
    const push = this.record(token, topic, verdict, apnsId, headers, body!, client, 200, undefined);
    if (!stream.destroyed && !stream.closed) stream.respond({ [HTTP2_HEADER_STATUS]: 200, "apns-id": apnsId }, { endStream: true });
    this.deliver(push);
  }

  /** What APNs checks, in its order: the push magic of an acceptable push, or why it is refused. */
  private judge(headers: IncomingHttpHeaders, path: string, token: string, topic: string, client: ClientFacts, body: string | undefined): string | Refusal {
    if (!client.authorized) return { status: 403, reason: "BadCertificate" };
    if (headers[HTTP2_HEADER_METHOD] !== "POST") return { status: 405, reason: "MethodNotAllowed" };
    if (!path.startsWith(DEVICE_PATH)) return { status: 404, reason: "BadPath" };
    if (!token) return { status: 400, reason: "MissingDeviceToken" };
    if (!TOKEN_RE.test(token)) return { status: 400, reason: "BadDeviceToken" };
    if (!topic) return { status: 400, reason: "MissingTopic" };
    if (client.topic !== topic) return { status: 400, reason: "TopicDisallowed" };
    if (headers["apns-push-type"] !== "mdm") return { status: 400, reason: "InvalidPushType" };
    const priority = headers["apns-priority"];
    if (priority !== undefined && priority !== "10" && priority !== "5") return { status: 400, reason: "BadPriority" };
    const expiration = headers["apns-expiration"];
    if (expiration !== undefined && !/^\d+$/.test(String(expiration))) return { status: 400, reason: "BadExpirationDate" };
    if (body === undefined) return { status: 413, reason: "PayloadTooLarge" };
    if (body === "") return { status: 400, reason: "PayloadEmpty" };
    let pushMagic: string;
    try {
      const parsed = JSON.parse(body) as { mdm?: unknown };
      if (typeof parsed.mdm !== "string" || parsed.mdm === "") return { status: 400, reason: "BadPayload" };
      pushMagic = parsed.mdm;
    } catch {
      return { status: 400, reason: "BadPayload" };
    }
    const known = this.tokenTopics.get(token);
    if (known !== undefined && known !== topic) return { status: 400, reason: "DeviceTokenNotForTopic", pushMagic };
    const gone = this.unregistered.get(token);
    if (gone !== undefined) return { status: 410, reason: "Unregistered", extra: { timestamp: gone }, pushMagic };
    const fault = this.takeFault(token);
    if (fault) return { status: fault.status, reason: fault.reason, pushMagic };
    return pushMagic;
  }

  private takeFault(token: string): Fault | undefined {
    for (const key of [token, "*"]) {
      const list = this.faults.get(key);
      const f = list?.[0];
      if (!f) continue;
      if (--f.remaining <= 0) list!.shift();
      if (list!.length === 0) this.faults.delete(key);
      return f;
    }
    return undefined;
  }

  private record(token: string, topic: string, pushMagic: string, apnsId: string, headers: IncomingHttpHeaders, body: string, client: ClientFacts, status: number, reason: string | undefined): LocalPush {
    const kept: Record<string, string> = {};
    for (const h of RECORDED_HEADERS) {
      const v = headers[h];
      if (v !== undefined) kept[h] = String(v);
    }
    const push: LocalPush = {
      seq: ++this.seq,
      at: Date.now(),
      token,
      topic,
      pushMagic,
      apnsId,
      headers: kept,
      body,
      certificateSubject: client.subject,
      certificateFingerprint: client.fingerprint,
      status,
      ...(reason !== undefined ? { reason } : {}),
    };
    this.recorded.push(push);
    const limit = this.options.recordLimit ?? 10_000;
    if (this.recorded.length > limit * 1.5) this.recorded.splice(0, this.recorded.length - limit);
    return push;
  }

  private deliver(push: LocalPush): void {
    const set = this.listeners.get(push.token);
    if (set) for (const l of set) this.call(l, push);
    for (const l of this.anyListeners) this.call(l, push);
  }

  private call(l: PushListener, push: LocalPush): void {
    this.stats.delivered++;
    try {
      l(push);
    } catch {
      // A subscriber's failure is its own business; the push was delivered.
    }
  }
}
