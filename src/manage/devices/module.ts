// The devices module (issue 17): the physical device behind its channels, its inventory from command results
// (DeviceInformation, SecurityInfo, InstalledApplicationList, ProfileList, CertificateList), the history of
// its changes, and the /api/v1/devices routes.
import type { OrchardModule } from "../../server/module.ts";
import * as m0010 from "../../store/migrations/0010-devices.ts";
import * as m0011 from "../../store/migrations/0011-inventory-schedule.ts";
import { devicesRoutes } from "../../http/api/devices-routes.ts";
import { DeviceService } from "./devices.ts";
import { deviceInformationProcessor, securityInfoProcessor } from "./inventory-attributes.ts";
import { INVENTORY_COLLECT_JOB, INVENTORY_SCHEDULE_JOB, InventoryCollection } from "./inventory-collection.ts";
import { certificateListProcessor, installedApplicationListProcessor, profileListProcessor } from "./inventory-lists.ts";

export const devicesModule: OrchardModule = {
  name: "devices",
  migrations: { "0010-devices": m0010, "0011-inventory-schedule": m0011 },
  setup(ctx) {
    const devices = new DeviceService(ctx.store, ctx.outbox);
    devices.subscribe();
    ctx.devices = devices;
    ctx.results.register("DeviceInformation", deviceInformationProcessor(devices));
    ctx.results.register("SecurityInfo", securityInfoProcessor(devices));
    ctx.results.register("InstalledApplicationList", installedApplicationListProcessor(devices));
    ctx.results.register("ProfileList", profileListProcessor(devices));
    ctx.results.register("CertificateList", certificateListProcessor(devices));
    const inventory = new InventoryCollection({
      store: ctx.store,
      outbox: ctx.outbox,
      commands: () => ctx.mdm.commands,
      accessRights: (id, ex) => ctx.enrollmentProfiles.accessRights(id, ex),
      intervalHours: ctx.config.inventoryIntervalHours,
      onEnroll: ctx.config.inventoryOnEnroll,
      logger: ctx.logger,
    });
    inventory.subscribe();
    return {
      apiRoutes: [devicesRoutes({ devices, inventory })],
      jobs: {
        [INVENTORY_COLLECT_JOB]: (payload) => inventory.runJob(payload),
        [INVENTORY_SCHEDULE_JOB]: async () => {
          await inventory.runSchedule();
        },
      },
      // Every 5 minutes, a bounded batch of due devices; none at all when the interval is 0.
      schedules: ctx.config.inventoryIntervalHours > 0 ? [{ kind: INVENTORY_SCHEDULE_JOB, pattern: "*/5 * * * *" }] : [],
    };
  },
};
