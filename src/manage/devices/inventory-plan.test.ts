import { describe, expect, it } from "vitest";
import { commandSchemas } from "../../wire/generated/command-specs.ts";
import { accessRightBits, ALL_ACCESS_RIGHTS } from "../../wire/schema/access-rights.ts";
import { checkCommandAllowed } from "../../wire/schema/command-policy.ts";
import { compareOSVersions } from "../../wire/schema/os-version.ts";
import { resolveSubkeys } from "../../wire/schema/spec-lookup.ts";
import type { KeySpec, Platform, PlatformSupport } from "../../wire/schema/spec-types.ts";
import { validateCommandParams } from "../../wire/schema/validate-message.ts";
import { ENROLLMENT_TYPES, enrollmentTypeExists, type EnrollmentType } from "./enrollment-type.ts";
import { commandTargetFor, InventoryPlanError, planInventory, type InventoryPlan, type InventoryTarget } from "./inventory-plan.ts";

// The oracle: Apple's YAML as the generator copied it into command-specs.ts, read field by field here (not through
// the code under test) with the schema's inheritance rule: a query key's supportedOS updates the command's, per
// platform and per field (docs/schema.md).
const di = commandSchemas["DeviceInformation"]!;
const queryKeys: readonly KeySpec[] = di.request.find((k) => k.key === "Queries")!.subkeys![0]!.subkeys!;
const answerKeys: readonly KeySpec[] = resolveSubkeys(di.response.find((k) => k.key === "QueryResponses")!)!;
// Queries the schema documents only as answers (SIMMCC, SIMMNC) are queries too: the device answers what it is asked.
const schemaQueries: readonly KeySpec[] = [
  ...queryKeys,
  ...answerKeys.filter((a) => !a.anyKey && !queryKeys.some((q) => q.key === a.key)),
];

function support(key: KeySpec, platform: Platform): PlatformSupport | undefined {
  const parent = di.supportedOS?.[platform];
  const own = key.supportedOS?.[platform];
  if (!parent || !own) return own ?? parent;
  return {
    ...parent,
    ...own,
    userenrollment: { ...parent.userenrollment, ...own.userenrollment },
    sharedipad: { ...parent.sharedipad, ...own.sharedipad },
  };
}

function schemaAllows(key: KeySpec, t: InventoryTarget): boolean {
  const s = support(key, t.platform);
  if (!s || s.introduced === "n/a") return false;
  const v = t.osVersion ?? undefined;
  if (v !== undefined && s.introduced !== undefined && compareOSVersions(v, s.introduced)! < 0) return false;
  if (s.removed !== undefined && (v === undefined || compareOSVersions(v, s.removed)! >= 0)) return false;
  const ue = t.enrollmentType === "user-enrollment";
  if (ue && s.userenrollment?.mode === "forbidden") return false;
  if (!ue && s.userenrollment?.mode === "required") return false;
  const shared = t.platform === "iOS" && t.sharedIPad === true;
  if (t.platform === "iOS") {
    if (s.sharedipad?.mode === "required" && !shared) return false;
    if (s.sharedipad?.mode === "forbidden" && shared) return false;
  }
  if ((shared ? s.sharedipad?.devicechannel : s.devicechannel) === false) return false;
  if (s.supervised === true && !t.supervised) return false;
  if (s.requiresdep === true && t.enrollmentType !== "ade") return false;
  const bits = accessRightBits(s.accessrights);
  if (!ue && bits !== undefined && (bits & t.accessRights) !== bits) return false;
  return true;
}

const VERSIONS: Readonly<Record<Platform, readonly (string | undefined)[]>> = {
  iOS: [undefined, "4.3", "9.3", "13.4", "16.3", "16.10", "17.9", "17.10", "18.2"],
  macOS: [undefined, "10.15", "11.0", "13.2", "13.10", "14.5", "15.1"],
  tvOS: [undefined, "10.2", "16.10", "17.0"],
  visionOS: [undefined, "1.1", "2.0", "2.10"],
  watchOS: [undefined, "10.0", "11.1"],
};

function targets(): InventoryTarget[] {
  const all: InventoryTarget[] = [];
  for (const platform of Object.keys(VERSIONS) as Platform[]) {
    for (const enrollmentType of ENROLLMENT_TYPES) {
      for (const osVersion of VERSIONS[platform]) {
        if (!enrollmentTypeExists(enrollmentType, platform, osVersion)) continue;
        const supervisions = enrollmentType === "user-enrollment" ? [false] : [false, true];
        for (const supervised of supervisions) {
          const sharedIPads = platform === "iOS" && enrollmentType === "ade" && supervised ? [false, true] : [false];
          for (const sharedIPad of sharedIPads) {
            all.push({ platform, osVersion, enrollmentType, supervised, sharedIPad, accessRights: ALL_ACCESS_RIGHTS, ownership: "corporate" });
          }
        }
      }
    }
  }
  return all;
}

const label = (t: InventoryTarget) =>
  `${t.enrollmentType} ${t.platform} ${t.osVersion ?? "(unknown)"}${t.supervised ? " supervised" : ""}${t.sharedIPad ? " shared" : ""}`;

function queriesOf(plan: InventoryPlan): string[] {
  const di = plan.commands.find((c) => c.requestType === "DeviceInformation");
  return di ? (di.params["Queries"] as string[]) : [];
}

const UE_FORBIDDEN = ["SerialNumber", "UDID", "IMEI", "MEID", "PhoneNumber", "ICCID", "WiFiMAC", "BluetoothMAC", "EthernetMAC", "ServiceSubscriptions"];

describe("planInventory", () => {
  const all = targets();

  it("covers every enrollment type on every platform it exists on", () => {
    const combos = new Set(all.map((t) => `${t.enrollmentType}/${t.platform}`));
    expect(combos.size).toBe(5 + 4 + 3 + 3);
  });

  it.each(all.map((t) => [label(t), t] as const))("%s: DeviceInformation asks exactly the schema's queries", (_, t) => {
    const expected = schemaQueries.filter((k) => schemaAllows(k, t)).map((k) => k.key);
    expect(expected.length).toBeGreaterThan(0);
    expect([...queriesOf(planInventory(t))].sort()).toEqual([...expected].sort());
  });

  it("never asks a User Enrollment for identifiers, the personal app list or OS updates", () => {
    for (const t of all.filter((x) => x.enrollmentType === "user-enrollment")) {
      const plan = planInventory(t);
      const queries = queriesOf(plan);
      for (const key of UE_FORBIDDEN) expect(queries, `${label(t)} ${key}`).not.toContain(key);
      const apps = plan.commands.find((c) => c.requestType === "InstalledApplicationList");
      if (t.platform === "macOS") {
        // macOS forbids InstalledApplicationList under User Enrollment: the managed list replaces it.
        expect(apps, label(t)).toBeUndefined();
        // ManagedApplicationList exists on macOS from 11.0: a 10.15 User Enrollment yields no app list at all.
        const managedList = !t.osVersion || compareOSVersions(t.osVersion, "11.0")! >= 0;
        expect(plan.commands.some((c) => c.requestType === "ManagedApplicationList"), label(t)).toBe(managedList);
      } else {
        expect(apps?.params, label(t)).toEqual({ ManagedAppsOnly: true });
      }
      expect(plan.commands.some((c) => c.requestType === "AvailableOSUpdates"), label(t)).toBe(false);
    }
  });

  it("asks a corporate Device Enrollment for the full app list and its identifiers", () => {
    const plan = planInventory({ platform: "iOS", osVersion: "17.4", enrollmentType: "device", supervised: false, accessRights: ALL_ACCESS_RIGHTS, ownership: "corporate" });
    expect(plan.commands.find((c) => c.requestType === "InstalledApplicationList")?.params).toEqual({});
    expect(queriesOf(plan)).toEqual(expect.arrayContaining(["SerialNumber", "UDID", "IMEI", "PhoneNumber", "WiFiMAC"]));
  });

  it("asks a personal device only for managed apps and not for its phone numbers", () => {
    const plan = planInventory({ platform: "iOS", osVersion: "17.4", enrollmentType: "device", supervised: false, accessRights: ALL_ACCESS_RIGHTS });
    expect(plan.commands.find((c) => c.requestType === "InstalledApplicationList")?.params).toEqual({ ManagedAppsOnly: true });
    expect(queriesOf(plan)).not.toContain("PhoneNumber");
    expect(queriesOf(plan)).not.toContain("ServiceSubscriptions");
    expect(queriesOf(plan)).toContain("SerialNumber");
  });

  it("asks for available OS updates only on supervised devices", () => {
    for (const t of all) {
      const has = planInventory(t).commands.some((c) => c.requestType === "AvailableOSUpdates");
      if (!t.supervised) expect(has, label(t)).toBe(false);
      else expect(has, label(t)).toBe(checkCommandAllowed("AvailableOSUpdates", commandTargetFor(t)).ok);
    }
    const ade = planInventory({ platform: "iOS", osVersion: "18.0", enrollmentType: "ade", supervised: true, accessRights: ALL_ACCESS_RIGHTS });
    expect(ade.commands.map((c) => c.requestType)).toContain("AvailableOSUpdates");
  });

  it("plans only commands the engine accepts, with parameters its validator accepts", () => {
    for (const t of all) {
      const target = commandTargetFor(t);
      for (const c of planInventory(t).commands) {
        expect(checkCommandAllowed(c.requestType, target), `${label(t)} ${c.requestType}`).toEqual({ ok: true });
        const problems = validateCommandParams(c.requestType, c.params, {
          reportUnknownKeys: true,
          reportInapplicableKeys: true,
          context: { platform: t.platform, channel: "device", userEnrollment: target.userEnrollment, sharedIPad: target.sharedIPad === true },
        });
        expect(problems, `${label(t)} ${c.requestType}`).toEqual([]);
      }
    }
  });

  it("asks ProvisioningProfileList only where the platform has it", () => {
    const old = planInventory({ platform: "macOS", osVersion: "10.15", enrollmentType: "device", supervised: false, accessRights: ALL_ACCESS_RIGHTS });
    expect(old.commands.map((c) => c.requestType)).not.toContain("ProvisioningProfileList");
    expect(old.skipped.find((s) => s.requestType === "ProvisioningProfileList")?.reason).toMatch(/11\.0 or later/);
    const current = planInventory({ platform: "macOS", osVersion: "14.0", enrollmentType: "device", supervised: false, accessRights: ALL_ACCESS_RIGHTS });
    expect(current.commands.map((c) => c.requestType)).toContain("ProvisioningProfileList");
  });

  it("gates queries by Apple's version ordering, not string order (16.10 > 16.4, 13.10 > 13.3)", () => {
    const ios = (osVersion: string) => queriesOf(planInventory({ platform: "iOS", osVersion, enrollmentType: "device", supervised: false, accessRights: ALL_ACCESS_RIGHTS, ownership: "corporate" }));
    expect(ios("16.10")).toContain("ModelNumber"); // introduced in iOS 16.4
    expect(ios("16.3")).not.toContain("ModelNumber");
    expect(ios("17.10")).toContain("ModelNumber");
    const mac = (osVersion: string) => queriesOf(planInventory({ platform: "macOS", osVersion, enrollmentType: "device", supervised: false, accessRights: ALL_ACCESS_RIGHTS, ownership: "corporate" }));
    expect(mac("13.10")).toEqual(expect.arrayContaining(["ModelNumber", "BatteryLevel", "HasBattery"])); // macOS 13.3
    expect(mac("13.2")).not.toContain("BatteryLevel");
  });

  it("leaves out queries Apple removed, and those a version predates", () => {
    const ios = (osVersion?: string) => queriesOf(planInventory({ platform: "iOS", osVersion, enrollmentType: "device", supervised: false, accessRights: ALL_ACCESS_RIGHTS, ownership: "corporate" }));
    expect(ios("4.3")).toContain("SIMCarrierNetwork"); // removed in iOS 5.0
    expect(ios("5.0")).not.toContain("SIMCarrierNetwork");
    expect(ios(undefined)).not.toContain("SIMCarrierNetwork");
    expect(ios(undefined)).not.toContain("SIMMCC");
    expect(ios("4.3")).not.toContain("TimeZone"); // iOS 14
  });

  it("asks the Shared iPad queries only of a Shared iPad enrolled through ADE", () => {
    const base = { platform: "iOS", osVersion: "17.0", supervised: true, accessRights: ALL_ACCESS_RIGHTS } as const;
    expect(queriesOf(planInventory({ ...base, enrollmentType: "ade", sharedIPad: true }))).toContain("MaximumResidentUsers");
    expect(queriesOf(planInventory({ ...base, enrollmentType: "ade", sharedIPad: false }))).not.toContain("MaximumResidentUsers");
    expect(queriesOf(planInventory({ ...base, enrollmentType: "device", sharedIPad: true }))).not.toContain("MaximumResidentUsers");
  });

  it("respects the enrollment profile's AccessRights except under User Enrollment", () => {
    const rights = ALL_ACCESS_RIGHTS & ~accessRightBits("AllowQueryNetworkInformation")! & ~accessRightBits("AllowQueryApplications")!;
    const plan = planInventory({ platform: "iOS", osVersion: "17.0", enrollmentType: "device", supervised: false, accessRights: rights, ownership: "corporate" });
    expect(queriesOf(plan)).not.toContain("WiFiMAC");
    expect(queriesOf(plan)).toContain("SerialNumber");
    expect(plan.commands.map((c) => c.requestType)).not.toContain("InstalledApplicationList");
    expect(plan.skipped.find((s) => s.requestType === "InstalledApplicationList")?.reason).toMatch(/access right/);
    const ue = planInventory({ platform: "iOS", osVersion: "17.0", enrollmentType: "user-enrollment", supervised: false, accessRights: 0 });
    expect(ue.commands.map((c) => c.requestType)).toContain("InstalledApplicationList");
  });

  it("refuses an enrollment type that does not exist on the platform", () => {
    expect(() => planInventory({ platform: "tvOS", enrollmentType: "user-enrollment", supervised: false, accessRights: 0 })).toThrow(InventoryPlanError);
    expect(() => planInventory({ platform: "watchOS", enrollmentType: "ade", supervised: true, accessRights: 0 })).toThrow(/ade enrollment does not exist on watchOS/);
    expect(() => planInventory({ platform: "iOS", osVersion: "16.10", enrollmentType: "account-driven-device" as EnrollmentType, supervised: false, accessRights: 0 })).toThrow(InventoryPlanError);
  });
});
