// A small fleet kept in memory for `orchard serve --demo` (issue 7 item 6): devices of mixed platforms that
// enroll from the server's enrollment profile and stay online, polling (and answering wake-ups, where the local
// APNs endpoint will plug in). No fleet file: a demo starts fresh each time.
import { VirtualDevice } from "./device.ts";
import { connectAllChannels, errorKey } from "./fleet-operations.ts";
import { Transport } from "./mdm-transport.ts";
import { DEVICE_PLATFORMS, type DevicePlatform } from "./platform.ts";
import { withConcurrency } from "./fleet-slice.ts";

export interface DemoFleetOptions {
  /** The enrollment profile (.mobileconfig bytes) the devices install. */
  profile: Uint8Array;
  /** Extra CAs (PEM) to trust for the profile's signature. */
  trust?: string[];
  /** How many devices (default 25), spread over iOS, iPadOS, macOS, tvOS and visionOS. */
  count?: number;
  /** Seconds between polls (default 30). */
  intervalSec?: number;
  /** Seed for reproducible devices (default "orchard-demo"). */
  seed?: string;
  /** Told about failures (a device that cannot enroll or connect); the demo keeps going. */
  onError?: (udid: string, error: string) => void;
}

export interface DemoFleet {
  devices: readonly VirtualDevice[];
  /** Connects one device now, by UDID or hex push token (what a push would do). */
  wake(udidOrToken: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startDemoFleet(options: DemoFleetOptions): Promise<DemoFleet> {
  const transport = new Transport({ maxSockets: 8 });
  const count = options.count ?? 25;
  const seed = options.seed ?? "orchard-demo";
  const devices = Array.from({ length: count }, (_, i) => {
    const platform: DevicePlatform = DEVICE_PLATFORMS[i % DEVICE_PLATFORMS.length]!;
    return VirtualDevice.create({ platform, supervised: i % 2 === 0, seed: `${seed}-${i}` }, { transport, historySize: 10 });
  });
  const report = (d: VirtualDevice, e: unknown) => options.onError?.(d.udid, errorKey(e));
  await withConcurrency(devices, 4, async (d) => {
    try {
      await d.enroll(options.profile, options.trust ? { trust: options.trust } : {});
    } catch (e) {
      report(d, e);
    }
  });

  const busy = new Set<VirtualDevice>();
  const connect = async (d: VirtualDevice) => {
    if (busy.has(d) || !d.enrolled) return;
    busy.add(d);
    try {
      await connectAllChannels(d, {});
    } catch (e) {
      report(d, e);
    } finally {
      busy.delete(d);
    }
  };
  const intervalMs = (options.intervalSec ?? 30) * 1000;
  const timers = devices.map((d, i) => {
    // Spread the polls so the demo's server log is not a burst every interval.
    const first = setTimeout(() => void connect(d), (intervalMs * i) / devices.length);
    const every = setInterval(() => void connect(d), intervalMs);
    return [first, every] as const;
  });

  const find = (id: string) =>
    devices.find((d) => d.udid === id || [d.state.mdm?.pushToken, ...d.state.users.map((u) => u.pushToken)].some((t) => t !== undefined && Buffer.from(t, "base64").toString("hex") === id.toLowerCase()));

  return {
    devices,
    wake: async (id) => {
      const d = find(id);
      if (d) await connect(d);
    },
    stop: async () => {
      for (const [first, every] of timers) {
        clearTimeout(first);
        clearInterval(every);
      }
      while (busy.size > 0) await new Promise((r) => setTimeout(r, 20));
      transport.close();
    },
  };
}
