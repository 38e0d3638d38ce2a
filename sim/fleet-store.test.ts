// The fleet file and what is computed from it: deterministic creation, persistence, selection, stats, the key
// pool, and latency percentiles.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generatePrivateKey } from "../src/pki/keys.ts";
import { createFleet, parsePlatforms } from "./fleet-commands.ts";
import { FleetStore } from "./fleet-store.ts";
import { summarizeLatencies } from "./latency-stats.ts";
import { Keychain } from "./keychain.ts";
import { createCa } from "../src/pki/ca.ts";
import { issueDeviceCertificate } from "../src/pki/issue.ts";

const dir = mkdtempSync(join(tmpdir(), "sim-fleet-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("fleet file", () => {
  it("creates the same devices from the same seed, continuing the sequence when devices are added", () => {
    const a = join(dir, "a.db");
    const b = join(dir, "b.db");
    createFleet(a, { count: 3, platforms: ["iOS", "macOS"], seed: "s1" });
    createFleet(a, { count: 2, platforms: ["tvOS"] });
    createFleet(b, { count: 5, platforms: ["iOS", "macOS"], seed: "s1" });
    const sa = FleetStore.open(a);
    const sb = FleetStore.open(b);
    const da = sa.load(sa.select());
    const db = sb.load(sb.select());
    expect(da.map((d) => d.state.platform)).toEqual(["iOS", "macOS", "iOS", "tvOS", "tvOS"]);
    expect(da.slice(0, 3).map((d) => d.state.udid)).toEqual(db.slice(0, 3).map((d) => d.state.udid));
    expect(new Set([...da, ...db.slice(3)].map((d) => d.state.udid)).size).toBe(7);
    expect(() => createFleet(a, { count: 1, platforms: ["iOS"], seed: "other" })).toThrow(/seed s1/);
    sa.close();
    sb.close();
  });

  it("saves state, selects by enrollment and platform, and counts", () => {
    const path = join(dir, "c.db");
    createFleet(path, { count: 4, platforms: ["iPadOS", "visionOS"], supervised: true, seed: "s2" });
    const store = FleetStore.open(path);
    const [first] = store.load(store.select({ limit: 1 }));
    first!.state.mdm = {
      settings: { serverUrl: "https://mdm.example/connect", topic: "t", signMessage: true, accessRights: 8191, checkOutWhenRemoved: true, serverCapabilities: [], useDevelopmentApns: false, identityUuid: "x", profileIdentifier: "p" },
      pushToken: "",
      pushMagic: "m",
      authenticated: true,
      tokenUpdated: true,
      enrolledAt: new Date().toISOString(),
    };
    store.save([first!]);
    expect(store.select({ enrolled: true })).toEqual([first!.seq]);
    expect(store.select({ platform: "visionOS" })).toHaveLength(2);
    expect(store.stats()).toMatchObject({ total: 4, enrolled: 1, byPlatform: { iPadOS: { total: 2, enrolled: 1, supervised: 2 } }, servers: { "https://mdm.example/connect": 1 } });
    store.close();
    expect(FleetStore.open(path).load([first!.seq])[0]!.state.mdm?.pushMagic).toBe("m");
  });

  it("stores a long string every device shares once, and gives it back unchanged", () => {
    const path = join(dir, "blobs.db");
    createFleet(path, { count: 3, platforms: ["iOS"], seed: "s4" });
    const store = FleetStore.open(path);
    const devices = store.load(store.select());
    const ca = "A".repeat(3000);
    // What each row holds without the two certificates (apps and the like vary per device).
    const baseline = Math.max(...devices.map((d) => JSON.stringify(d.state).length));
    devices.forEach((d, i) => {
      d.state.keychain.anchors.push({ certificate: ca });
      d.state.keychain.anchors.push({ certificate: `${"B".repeat(2000)}${i}` });
    });
    store.save(devices);
    store.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare("SELECT COUNT(*) FROM blobs").pluck().get()).toBe(4);
    expect(raw.prepare("SELECT MAX(length(state)) FROM devices").pluck().get()).toBeLessThan(baseline + 300);
    raw.close();
    const again = FleetStore.open(path);
    expect(again.load(again.select()).map((d) => d.state)).toEqual(devices.map((d) => d.state));
    again.close();
  });

  it("refuses a file that is not a fleet, and a missing one, with a clear message", () => {
    expect(() => FleetStore.open(join(dir, "missing.db"))).toThrow(/orchard sim create/);
    const other = join(dir, "other.db");
    new Database(other).close();
    expect(() => FleetStore.open(other)).toThrow(/not an Orchard fleet/);
  });

  it("stores pooled keys once and keeps only a reference in device state", async () => {
    const path = join(dir, "k.db");
    createFleet(path, { count: 1, platforms: ["iOS"], seed: "s3" });
    const store = FleetStore.open(path);
    const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
    store.addPooledKey("rsa2048-0", 2048, key);
    const [device] = store.load(store.select());
    const keychain = new Keychain(device!.state);
    const ca = await createCa();
    keychain.addIdentity({ uuid: "id", certificate: issueDeviceCertificate(ca, { subject: "CN=d", publicKey: key }), key });
    expect(device!.state.keychain.identities[0]!.key).toBe("shared-key:rsa2048-0");
    store.save([device!]);
    store.close();
    const reopened = FleetStore.open(path);
    reopened.loadKeyPool();
    const again = new Keychain(reopened.load(reopened.select())[0]!.state);
    expect(again.signingIdentity("id")!.key.export({ format: "der", type: "pkcs8" })).toEqual(key.export({ format: "der", type: "pkcs8" }));
    reopened.close();
  });

  it("parses platform lists and refuses unknown ones", () => {
    expect(parsePlatforms("ios,iPadOS, macos")).toEqual(["iOS", "iPadOS", "macOS"]);
    expect(() => parsePlatforms("android")).toThrow(/unknown platform "android"/);
  });
});

describe("latency summary", () => {
  it("gives nearest-rank percentiles", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(summarizeLatencies(values)).toEqual({ count: 100, mean: 50.5, p50: 50, p90: 90, p99: 99, max: 100 });
    expect(summarizeLatencies([])).toMatchObject({ count: 0, p99: 0 });
  });
});
