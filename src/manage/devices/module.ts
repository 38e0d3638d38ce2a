// The devices module (issue 17): the physical device behind its channels, its inventory from command results
// (DeviceInformation, SecurityInfo, InstalledApplicationList, ProfileList, CertificateList), the history of
// its changes, and the /api/v1/devices routes.
import type { OrchardModule } from "../../server/module.ts";
import * as m0010 from "../../store/migrations/0010-devices.ts";
import { devicesRoutes } from "../../http/api/devices-routes.ts";
import { DeviceService } from "./devices.ts";
import { deviceInformationProcessor, securityInfoProcessor } from "./inventory-attributes.ts";
import { certificateListProcessor, installedApplicationListProcessor, profileListProcessor } from "./inventory-lists.ts";

export const devicesModule: OrchardModule = {
  name: "devices",
  migrations: { "0010-devices": m0010 },
  setup(ctx) {
    const devices = new DeviceService(ctx.store, ctx.outbox);
    devices.subscribe();
    ctx.devices = devices;
    ctx.results.register("DeviceInformation", deviceInformationProcessor(devices));
    ctx.results.register("SecurityInfo", securityInfoProcessor(devices));
    ctx.results.register("InstalledApplicationList", installedApplicationListProcessor(devices));
    ctx.results.register("ProfileList", profileListProcessor(devices));
    ctx.results.register("CertificateList", certificateListProcessor(devices));
    return { apiRoutes: [devicesRoutes(ctx)] };
  },
};
