// What the push dispatcher needs from an APNs client. Two implementations: ApnsClient sends on this thread;
// ApnsWorkerPool hands pushes to worker threads that each run an ApnsClient, so that a fan-out to a large
// fleet does not compete on the main thread with the devices it wakes.
import type { PushIdentity } from "./apns-client.ts";
import type { ApnsResult } from "./apns-response.ts";

export interface ApnsTransport {
  /** One MDM push; never rejects (a push that got no answer resolves with status 0). */
  send(identity: PushIdentity, development: boolean, token: string, pushMagic: string): Promise<ApnsResult>;
  /** Points every push at another gateway (the in-process local APNs endpoint); open connections are dropped. */
  useGateway(url: string, extraCaPem: string[]): void;
  gatewayFor(development: boolean): string;
  /** Lets pushes in flight finish, then closes every connection. */
  close(): Promise<void>;
  /** Drops every connection at once. */
  destroy(): void;
}
