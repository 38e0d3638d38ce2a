// What one device does for each fleet operation. Kept free of threading and storage so the in-process runner,
// the worker threads and the tests share it.
import type { VirtualDevice } from "./device.ts";

export type FleetOperation = "enroll" | "connect" | "unenroll";

export interface OperationInput {
  operation: FleetOperation;
  /** enroll: the enrollment profile (.mobileconfig bytes, signed or not). */
  profile?: Uint8Array;
  /** enroll: extra CAs (PEM) to trust for the profile's signature. */
  profileTrust?: string[];
  /** Admit plain http to hosts other than loopback. */
  allowInsecureHttp?: boolean;
}

export interface DeviceOutcome {
  ok: boolean;
  error?: string;
  durationMs: number;
  /** Commands processed, by "RequestType:Status". */
  commands: Record<string, number>;
}

export async function runOnDevice(device: VirtualDevice, input: OperationInput): Promise<DeviceOutcome> {
  const started = performance.now();
  const commands: Record<string, number> = {};
  try {
    switch (input.operation) {
      case "enroll": {
        if (!input.profile) throw new Error("enroll needs an enrollment profile");
        await device.enroll(input.profile, {
          ...(input.profileTrust ? { trust: input.profileTrust } : {}),
          ...(input.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
        });
        break;
      }
      case "connect": {
        await connectAllChannels(device, commands);
        break;
      }
      case "unenroll": {
        const result = await device.unenroll();
        if (result.checkOutError) throw result.checkOutError;
        break;
      }
    }
    return { ok: true, durationMs: performance.now() - started, commands };
  } catch (e) {
    return { ok: false, error: errorKey(e), durationMs: performance.now() - started, commands };
  }
}

/** The device channel, then each macOS user whose channel is open, as after a push to each. */
export async function connectAllChannels(device: VirtualDevice, commands: Record<string, number>): Promise<void> {
  const count = (summary: { commands: Array<{ requestType: string; status: string }> }) => {
    for (const c of summary.commands) commands[`${c.requestType}:${c.status}`] = (commands[`${c.requestType}:${c.status}`] ?? 0) + 1;
  };
  const summary = await device.mdm.connect();
  count(summary);
  if (summary.endedBy !== "empty" || !device.enrolled) return;
  for (const user of device.state.users.filter((u) => u.userChannelActive)) count(await device.mdm.connect({ user: user.shortName }));
}

/** A short, groupable description of a failure (no UUIDs or device ids, so equal causes add up). */
export function errorKey(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message
    .replace(/[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}/g, "<uuid>")
    .replace(/\b0000[0-9A-F]{4}-[0-9A-F]{16}\b/g, "<udid>")
    .slice(0, 200);
}
