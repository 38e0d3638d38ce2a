import { startBenchServer } from "./lib/server-process.ts";
import { createProfile, enrollFleet, keyPool } from "./lib/bench-fleet.ts";
import { runLoad } from "./lib/load.ts";

const server = await startBenchServer({ ...(process.env.PG ? { databaseUrl: process.env.PG } : {}), nodeArgs: process.env.PROF ? ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"] : [] });
try {
  const { challenge } = await createProfile(server.url, server.adminToken, "bench");
  const { devices, perSecond } = await enrollFleet(server.url, challenge, Number(process.env.N ?? 1000), 8, keyPool(8));
  console.log("enrolled", devices.length, "at", perSecond.toFixed(0), "/s");
  for (const c of [1, 8, 32]) {
    const cpu0 = server.cpuSeconds();
    const r = await runLoad(server.url, c, 5, (w, i) => {
      const d = devices[(w * 7919 + i) % devices.length]!;
      return { method: "PUT", path: "/mdm/connect", headers: { "mdm-signature": d.idle.signature }, body: d.idle.body };
    });
    const cpu = server.cpuSeconds() - cpu0;
    console.log(JSON.stringify({ c, ...r, cpuUsPerConnect: Math.round((cpu / r.requests) * 1e6) }));
  }
  console.log("rss MB", (server.rssBytes() / 1e6).toFixed(0));
} finally {
  await server.stop();
}
