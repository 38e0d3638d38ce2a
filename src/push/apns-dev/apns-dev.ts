// Starts the local APNs endpoint: its authority (CA + TLS certificate, kept in `dir` when given), the
// HTTP/2 provider port and the device feed. Used by `orchard apns-dev`, `orchard serve --apns-dev` and tests.
import { loadOrCreateApnsDevAuthority, type ApnsDevAuthority } from "./authority.ts";
import { DeviceFeed } from "./device-feed.ts";
import { LocalApns } from "./local-apns.ts";

export interface ApnsDevOptions {
  /** Where the authority's keys live across restarts; in memory when absent. */
  dir?: string;
  host?: string;
  /** Provider (HTTP/2) port; 0 for any. */
  port?: number;
  /** Device feed port; 0 for any, false for none. */
  devicePort?: number | false;
  /** Further CAs whose push certificates are accepted (the authority's own CA always is). */
  trustedCaPem?: string[];
  recordLimit?: number;
  maxConcurrentStreams?: number;
}

export interface ApnsDev {
  apns: LocalApns;
  feed: DeviceFeed | undefined;
  authority: ApnsDevAuthority;
  /** ORCHARD_APNS_URL for a provider. */
  url: string;
  /** The CA a provider trusts for the endpoint (ORCHARD_APNS_CA_FILE). */
  caPem: string;
  close(): Promise<void>;
}

export async function startApnsDev(options: ApnsDevOptions = {}): Promise<ApnsDev> {
  const authority = await loadOrCreateApnsDevAuthority(options.dir);
  const apns = await LocalApns.start({
    ...(options.host !== undefined ? { host: options.host } : {}),
    port: options.port ?? 0,
    tls: authority.tls,
    trustedCaPem: [authority.caPem, ...(options.trustedCaPem ?? [])],
    ...(options.recordLimit !== undefined ? { recordLimit: options.recordLimit } : {}),
    ...(options.maxConcurrentStreams !== undefined ? { maxConcurrentStreams: options.maxConcurrentStreams } : {}),
  });
  let feed: DeviceFeed | undefined;
  try {
    if (options.devicePort !== false) feed = await DeviceFeed.start(apns, authority.caPem, options.devicePort ?? 0, options.host ?? "127.0.0.1");
  } catch (err) {
    await apns.close();
    throw err;
  }
  return {
    apns,
    feed,
    authority,
    url: apns.url,
    caPem: authority.caPem,
    async close() {
      await feed?.close();
      await apns.close();
    },
  };
}
