// The APNs client: one long-lived HTTP/2 connection (or a few) per gateway and push certificate.
// Gateways per Apple: production api.push.apple.com, development (UseDevelopmentAPNS) api.sandbox.push.apple.com;
// ORCHARD_APNS_URL replaces both (the local APNs endpoint in development), ORCHARD_APNS_CA_FILE adds a CA to trust.
import { rootCertificates } from "node:tls";
import { ApnsConnection } from "./apns-connection.ts";
import type { ApnsResult } from "./apns-response.ts";
import type { ApnsTransport } from "./apns-transport.ts";

export const APNS_PRODUCTION = "https://api.push.apple.com";
export const APNS_DEVELOPMENT = "https://api.sandbox.push.apple.com";

/** The certificate a topic is pushed with, as the client needs it. */
export interface PushIdentity {
  topic: string;
  /** Changes when the certificate is replaced: a new fingerprint means a new connection. */
  fingerprint: string;
  certPem: string;
  keyPem: string;
}

export interface ApnsClientOptions {
  /** Replaces both gateways (e.g. the local APNs endpoint). */
  url?: string;
  /** Extra trust anchors (PEM) for the gateway, added to Node's default roots. */
  extraCaPem?: string[];
  expirationSeconds: number;
  /** Concurrent streams per connection (APNs allows up to 1,000). */
  maxStreams?: number;
  /** Connections per gateway and certificate; pushes are spread over them. */
  connectionsPerCertificate?: number;
  pingIntervalMs?: number;
  requestTimeoutMs?: number;
}

export class ApnsClient implements ApnsTransport {
  private readonly pools = new Map<string, { fingerprint: string; connections: ApnsConnection[]; next: number }>();
  private url: string | undefined;
  private ca: string[] | undefined;

  constructor(private readonly options: ApnsClientOptions) {
    this.url = options.url;
    this.ca = options.extraCaPem?.length ? [...rootCertificates, ...options.extraCaPem] : undefined;
  }

  /** Points every push at another gateway (the in-process local APNs endpoint); open connections are dropped. */
  useGateway(url: string, extraCaPem: string[]): void {
    this.url = url;
    this.ca = extraCaPem.length ? [...rootCertificates, ...extraCaPem] : undefined;
    for (const pool of this.pools.values()) for (const c of pool.connections) void c.close();
    this.pools.clear();
  }

  gatewayFor(development: boolean): string {
    return this.url ?? (development ? APNS_DEVELOPMENT : APNS_PRODUCTION);
  }

  send(identity: PushIdentity, development: boolean, token: string, pushMagic: string): Promise<ApnsResult> {
    return this.connectionFor(identity, development).push(token, identity.topic, pushMagic);
  }

  /** Connections dialled so far, across pools (observability and tests). */
  get connects(): number {
    let n = 0;
    for (const pool of this.pools.values()) for (const c of pool.connections) n += c.connects;
    return n;
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()].flatMap((p) => p.connections);
    this.pools.clear();
    await Promise.all(all.map((c) => c.close()));
  }

  destroy(): void {
    for (const pool of this.pools.values()) for (const c of pool.connections) c.destroy();
    this.pools.clear();
  }

  private connectionFor(identity: PushIdentity, development: boolean): ApnsConnection {
    const origin = this.gatewayFor(development);
    const key = `${origin} ${identity.topic}`;
    let pool = this.pools.get(key);
    if (pool && pool.fingerprint !== identity.fingerprint) {
      // A renewed certificate: finish what the old connections carry, then let them go.
      for (const c of pool.connections) void c.close();
      pool = undefined;
    }
    if (!pool) {
      const n = Math.max(1, this.options.connectionsPerCertificate ?? 1);
      const connections = Array.from(
        { length: n },
        () =>
          new ApnsConnection(origin, { cert: identity.certPem, key: identity.keyPem }, {
            ...(this.ca ? { ca: this.ca } : {}),
            maxStreams: this.options.maxStreams ?? 1000,
            expirationSeconds: this.options.expirationSeconds,
            pingIntervalMs: this.options.pingIntervalMs ?? 60_000,
            requestTimeoutMs: this.options.requestTimeoutMs ?? 30_000,
          }),
      );
      pool = { fingerprint: identity.fingerprint, connections, next: 0 };
      this.pools.set(key, pool);
    }
    if (pool.connections.length === 1) return pool.connections[0]!;
    // The least loaded of two neighbours: spreads pushes without scanning every connection.
    const a = pool.connections[pool.next % pool.connections.length]!;
    const b = pool.connections[(pool.next + 1) % pool.connections.length]!;
    pool.next++;
    return a.pending <= b.pending ? a : b;
  }
}
