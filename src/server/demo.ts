// `orchard serve --demo`: Orchard with the local APNs endpoint and a fleet of virtual devices of every
// platform that enroll through a real enrollment profile and stay online, woken by real pushes. A newcomer
// sees a working fleet at once; an admin can rehearse commands on it.
import type { Logger } from "pino";
import { startDemoFleet, type DemoFleet } from "../../sim/demo-fleet.ts";
import { PROFILE_DEFAULTS } from "../manage/enrollment-profiles/enrollment-profiles.ts";
import type { RunningServer } from "./serve.ts";
import { systemActor } from "../events/actor.ts";

export const DEMO_PROFILE_NAME = "Demo fleet";
/** The demo sets up its profile by itself: audited as a system actor. */
const DEMO_ACTOR = systemActor("demo");

export interface Demo {
  fleet: DemoFleet;
  profileId: string;
  stop(): Promise<void>;
}

export async function startDemo(server: RunningServer, logger: Logger, count = 25): Promise<Demo> {
  const apns = server.push.apnsDev;
  if (!apns) throw new Error("the demo needs the local APNs endpoint (serve --apns-dev)");
  const profiles = server.ctx.enrollmentProfiles;
  // Restarting the demo reuses its profile, renewing the link when it lapsed.
  let profile = (await profiles.list()).find((p) => p.name === DEMO_PROFILE_NAME);
  if (!profile) profile = await profiles.create({ ...PROFILE_DEFAULTS, name: DEMO_PROFILE_NAME, description: "Virtual devices of orchard serve --demo" }, DEMO_ACTOR);
  else if (profile.lapsed) profile = await profiles.renew(profile.id, DEMO_ACTOR);
  const row = await profiles.row(profile.id);
  const file = await profiles.mobileconfig(row, { signed: true });

  const fleet = await startDemoFleet({
    profile: file,
    trust: [server.caPem],
    count,
    onError: (udid, error) => logger.warn({ udid, error }, "demo device failed"),
  });
  // Every push the local APNs endpoint accepts wakes the device it is for, as Apple's push service would.
  const unsubscribe = apns.apns.subscribe(undefined, (push) => void fleet.wake(push.token));
  logger.info({ devices: fleet.devices.length, profile: profile.id }, "demo fleet enrolled and online");
  return {
    fleet,
    profileId: profile.id,
    async stop() {
      unsubscribe();
      await fleet.stop();
    },
  };
}
