// One long-lived HTTP/2 connection to an APNs gateway, authenticated by one push certificate. Many pushes
// share it as concurrent streams, up to what the server allows (SETTINGS_MAX_CONCURRENT_STREAMS) and our
// own cap; the rest wait in a FIFO. A lost connection (GOAWAY, reset, ping timeout) is dropped and the next
// push dials again; a push whose stream died without an answer is tried once more on the new connection.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";
import type { ApnsResult } from "./apns-response.ts";

export interface ApnsTlsIdentity {
  /** PEM: the push certificate (and its chain). */
  cert: string;
  /** PEM private key. */
  key: string;
}

export interface ApnsConnectionOptions {
  /** Trust anchors for the gateway's TLS certificate; Node's defaults when absent. */
  ca?: string[];
  /** Our cap on concurrent streams (APNs allows up to 1,000 per connection). */
  maxStreams: number;
  /** apns-expiration: seconds from now. */
  expirationSeconds: number;
  pingIntervalMs: number;
  requestTimeoutMs: number;
}

export interface ApnsPush {
  /** Device token, hex. */
  token: string;
  topic: string;
  pushMagic: string;
}

/**
 * One push from enqueue to answer. The same object carries the stream's state, so the stream's listeners
 * are shared functions rather than closures allocated per push.
 */
const noop = () => {};
const { HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, HTTP2_HEADER_STATUS } = constants;

interface Waiting {
  token: string;
  topic: string;
  pushMagic: string;
  retried: boolean;
  resolve: (r: ApnsResult) => void;
  connection: ApnsConnection;
  started: number;
  status: number;
  apnsId: string | undefined;
  chunks: Buffer[] | undefined;
}

const REQUEST = Symbol("apns.request");
type TaggedStream = ClientHttp2Stream & { [REQUEST]?: Waiting };

function onResponse(this: TaggedStream, h: IncomingHttpHeaders): void {
  const w = this[REQUEST]!;
  w.status = Number(h[HTTP2_HEADER_STATUS]) || 0;
  const id = h["apns-id"];
  if (typeof id === "string") w.apnsId = id;
  // A success has no body; only a refusal's JSON reason is worth reading.
  if (w.status === 200) this.resume();
  else this.on("data", onData);
}

function onData(this: TaggedStream, c: Buffer): void {
  const w = this[REQUEST]!;
  (w.chunks ??= []).push(c);
}

function onClose(this: TaggedStream): void {
  const w = this[REQUEST]!;
  this[REQUEST] = undefined;
  w.connection.streamClosed(this, w);
}


export class ApnsConnection {
  private session: ClientHttp2Session | undefined;
  private inFlight = 0;
  private limit: number;
  private readonly waiting: Waiting[] = [];
  private waitingHead = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  /** Streams awaiting an answer and when they started: one sweep timer cancels stalled ones (no timer per push). */
  private readonly open = new Map<ClientHttp2Stream, number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private expirationSecond = -1;
  private expirationValue = "";
  /** Connections dialled so far (observability and tests). */
  connects = 0;

  constructor(
    readonly origin: string,
    private readonly identity: ApnsTlsIdentity,
    private readonly options: ApnsConnectionOptions,
  ) {
    this.limit = options.maxStreams;
  }

  get pending(): number {
    return this.inFlight + (this.waiting.length - this.waitingHead);
  }

  send(push: ApnsPush): Promise<ApnsResult> {
    return this.push(push.token, push.topic, push.pushMagic);
  }

  /** The same as send(), without the argument object (the hot path). */
  push(token: string, topic: string, pushMagic: string): Promise<ApnsResult> {
    if (this.closed) return Promise.resolve({ status: 0, transportError: "APNs client closed", latencyMs: 0 });
    return new Promise<ApnsResult>((resolve) =>
      this.enqueue({ token, topic, pushMagic, retried: false, resolve, connection: this, started: 0, status: 0, apnsId: undefined, chunks: undefined }),
    );
  }

  /** Lets in-flight and queued pushes finish, then closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    while (this.pending > 0) await new Promise((r) => setTimeout(r, 10));
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const s = this.session;
    this.session = undefined;
    if (s && !s.destroyed) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Drops the connection at once (shutdown); pushes in flight end without an answer. */
  destroy(): void {
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.session?.destroy();
    this.session = undefined;
    for (let i = this.waitingHead; i < this.waiting.length; i++) this.waiting[i]!.resolve({ status: 0, transportError: "APNs client closed", latencyMs: 0 });
    this.waiting.length = 0;
    this.waitingHead = 0;
  }

  private enqueue(w: Waiting): void {
    if (this.inFlight < this.limit) this.start(w);
    else this.waiting.push(w);
  }

  private drain(): void {
    while (this.inFlight < this.limit && this.waitingHead < this.waiting.length) {
      const w = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = undefined as unknown as Waiting;
      this.start(w);
    }
    // Compact the FIFO once its consumed prefix dominates, so it does not grow without bound.
    if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitingHead);
      this.waitingHead = 0;
    }
  }

  private liveSession(): ClientHttp2Session {
    const s = this.session;
    if (s && !s.destroyed && !s.closed) return s;
    return this.dial();
  }

  private dial(): ClientHttp2Session {
    this.connects++;
    const s = connect(this.origin, {
      cert: this.identity.cert,
      key: this.identity.key,
      ...(this.options.ca ? { ca: this.options.ca } : {}),
      settings: { enablePush: false },
    });
    this.session = s;
    const forget = () => {
      if (this.session === s) this.session = undefined;
    };
    s.on("remoteSettings", (settings) => {
      const max = settings.maxConcurrentStreams;
      this.limit = Math.max(1, Math.min(this.options.maxStreams, max === undefined ? this.options.maxStreams : max));
      this.drain();
    });
    // A GOAWAY means "no new streams here": streams it names as processed still complete; dial afresh.
    s.on("goaway", () => {
      forget();
      if (!s.closed) s.close();
    });
    s.on("close", forget);
    s.on("error", forget);
    s.unref();
    if (!this.pingTimer && this.options.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.ping(), this.options.pingIntervalMs);
      this.pingTimer.unref();
    }
    return s;
  }

  private ping(): void {
    const s = this.session;
    if (!s || s.destroyed || s.connecting) return;
    try {
      s.ping((err) => {
        if (err && this.session === s) {
          this.session = undefined;
          s.destroy();
        }
      });
    } catch {
      // Too many unacknowledged pings: the connection is gone.
      if (this.session === s) this.session = undefined;
      s.destroy();
    }
  }

  private expiration(): string {
    const now = Math.floor(Date.now() / 1000);
    if (now !== this.expirationSecond) {
      this.expirationSecond = now;
      this.expirationValue = String(now + this.options.expirationSeconds);
    }
    return this.expirationValue;
  }

  private start(w: Waiting): void {
    this.inFlight++;
    w.started = performance.now();
    w.status = 0;
    w.apnsId = undefined;
    w.chunks = undefined;
    const body = `{"mdm":${JSON.stringify(w.pushMagic)}}`;
    const headers: OutgoingHttpHeaders = {
      [HTTP2_HEADER_METHOD]: "POST",
      [HTTP2_HEADER_PATH]: `/3/device/${w.token}`,
      "apns-topic": w.topic,
      "apns-push-type": "mdm",
      "apns-priority": "10",
      "apns-expiration": this.expiration(),
      // No content-type/content-length: APNs needs neither (HTTP/2 frames the body), and each header is work per push.
    };
    let stream: TaggedStream;
    try {
      stream = this.liveSession().request(headers);
    } catch (err) {
      // The session died between the check and the request: try once on a new one.
      this.session = undefined;
      this.finish(w, { status: 0, transportError: (err as Error).message });
      return;
    }
    stream[REQUEST] = w;
    stream.on("response", onResponse);
    stream.on("error", noop);
    stream.on("close", onClose);
    this.open.set(stream, w.started);
    if (!this.sweepTimer) this.armSweep();
    stream.end(body);
  }

  /** A stream ended: its answer, or no answer when it was reset or its connection died. */
  streamClosed(stream: ClientHttp2Stream, w: Waiting): void {
    this.open.delete(stream);
    if (w.status === 0) {
      this.finish(w, { status: 0, transportError: stream.rstCode ? `stream reset (HTTP/2 error ${stream.rstCode})` : "connection lost" });
      return;
    }
    const r: { status: number; reason?: string; apnsId?: string; timestamp?: number } = { status: w.status };
    if (w.apnsId !== undefined) r.apnsId = w.apnsId;
    if (w.chunks) {
      try {
        const parsed = JSON.parse(Buffer.concat(w.chunks).toString("utf8")) as { reason?: unknown; timestamp?: unknown };
        if (typeof parsed.reason === "string") r.reason = parsed.reason;
        if (typeof parsed.timestamp === "number") r.timestamp = parsed.timestamp;
      } catch {
        r.reason = "unreadable error body";
      }
    }
    this.finish(w, r);
  }

  private armSweep(): void {
    const every = Math.max(250, Math.floor(this.options.requestTimeoutMs / 4));
    this.sweepTimer = setInterval(() => {
      if (this.open.size === 0) {
        clearInterval(this.sweepTimer);
        this.sweepTimer = undefined;
        return;
      }
      const cutoff = performance.now() - this.options.requestTimeoutMs;
      for (const [stream, started] of this.open) {
        if (started > cutoff) break; // insertion order is start order
        stream.close(constants.NGHTTP2_CANCEL);
      }
    }, every);
    this.sweepTimer.unref();
  }

  private finish(w: Waiting, r: Omit<ApnsResult, "latencyMs">): void {
    this.inFlight--;
    if (r.status === 0 && !w.retried && !this.closed) {
      // No answer: the push may or may not have reached APNs. A second push is harmless to a device
      // (it only wakes it), a lost one is not, so try once more on a fresh connection.
      w.retried = true;
      this.enqueue(w);
    } else {
      w.resolve({ ...r, latencyMs: performance.now() - w.started });
    }
    this.drain();
  }
}
