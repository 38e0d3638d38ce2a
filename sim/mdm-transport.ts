// HTTP(S) for the MDM client: PUT a plist to a URL, trusting the CAs the device trusts, presenting a client
// certificate when asked. One transport (and so one keep-alive pool) is shared by a whole fleet. Plain http is
// refused except to loopback, as App Transport Security would; tests and local demos use it.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions as HttpsRequestOptions } from "node:https";
import { isIP } from "node:net";

export class TransportError extends Error {
  override readonly name = "TransportError";
}

export interface TransportRequest {
  method: "GET" | "PUT" | "POST";
  url: string;
  body?: Uint8Array;
  headers?: Record<string, string>;
  /** PEM certificates to trust; the system store when empty or absent. */
  ca?: string[];
  /** A TLS client certificate (PEM chain and PEM key). */
  clientCertificate?: { cert: string; key: string };
}

export interface TransportResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface TransportOptions {
  /** Milliseconds before a request is abandoned (default 30 s). */
  timeoutMs?: number;
  /** Largest response body accepted (default 32 MiB). */
  maxResponseBytes?: number;
  /** Keep-alive sockets per origin (default 64). */
  maxSockets?: number;
  /** Allow plain http to hosts other than loopback (default false). */
  allowInsecureHttp?: boolean;
  /** Milliseconds an idle keep-alive socket stays open (default 5,000). */
  idleSocketMs?: number;
}

export class Transport {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly allowInsecure: boolean;

  constructor(options: TransportOptions = {}) {
    const maxSockets = options.maxSockets ?? 64;
    // Idle sockets close after a few seconds: with TLS client certificates every device has its own pool entry,
    // and a large fleet must not keep one open socket per device between sessions.
    const timeout = options.idleSocketMs ?? 5000;
    this.http = new HttpAgent({ keepAlive: true, maxSockets, timeout });
    this.https = new HttpsAgent({ keepAlive: true, maxSockets, timeout });
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxBytes = options.maxResponseBytes ?? 32 * 1024 * 1024;
    this.allowInsecure = options.allowInsecureHttp ?? false;
  }

  request(req: TransportRequest): Promise<TransportResponse> {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return Promise.reject(new TransportError(`not a URL: ${req.url}`));
    }
    const secure = url.protocol === "https:";
    if (!secure && url.protocol !== "http:") return Promise.reject(new TransportError(`unsupported URL scheme in ${req.url}`));
    if (!secure && !this.allowInsecure && !isLoopback(url.hostname)) {
      return Promise.reject(new TransportError(`refusing plain http to ${url.host}: only https, or http to loopback, is allowed`));
    }
    const body = req.body ?? new Uint8Array(0);
    const headers: Record<string, string> = { ...req.headers };
    if (req.method !== "GET") headers["content-length"] = String(body.byteLength);
    const options: RequestOptions & HttpsRequestOptions = {
      method: req.method,
      hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      headers,
      agent: secure ? this.https : this.http,
    };
    if (secure) {
      if (req.ca && req.ca.length > 0) options.ca = req.ca;
      if (req.clientCertificate) {
        options.cert = req.clientCertificate.cert;
        options.key = req.clientCertificate.key;
      }
      // SNI for names, not for IP literals (RFC 6066 3).
      if (isIP(options.hostname as string) === 0) options.servername = options.hostname as string;
    }
    return new Promise((resolve, reject) => {
      const send = secure ? httpsRequest : httpRequest;
      const r = send(options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxBytes) {
            res.destroy(new TransportError(`response from ${url.origin} exceeds ${this.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", (e) => reject(e instanceof TransportError ? e : new TransportError(`${req.method} ${req.url}: ${e.message}`)));
      });
      r.setTimeout(this.timeoutMs, () => r.destroy(new TransportError(`${req.method} ${req.url}: no answer within ${this.timeoutMs} ms`)));
      // Node applies the request's timeout only once the socket has connected; until then the socket has the
      // agent's idle timeout, and a host-name lookup waiting for libuv's threads (busy generating a fleet's keys)
      // outlasts it. The whole request gets timeoutMs; the agent sets the idle timeout again when it is freed.
      r.once("socket", (socket) => socket.setTimeout(this.timeoutMs));
      r.on("error", (e) => reject(e instanceof TransportError ? e : new TransportError(`${req.method} ${req.url}: ${e.message}`)));
      r.end(req.method === "GET" ? undefined : body);
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

export function isLoopback(hostname: string): boolean {
  const h = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

let shared: Transport | undefined;

/** The process-wide transport devices use unless given their own. */
export function sharedTransport(): Transport {
  shared ??= new Transport();
  return shared;
}
