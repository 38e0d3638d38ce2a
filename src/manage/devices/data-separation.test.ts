import { describe, expect, it } from "vitest";
import { commandSchemas } from "../../wire/generated/command-specs.ts";
import { parsePlist, type PlistDict } from "../../wire/plist.ts";
import { PLATFORMS } from "../../wire/schema/spec-types.ts";
import { DEVICE_LOCATION, filterAnswers, MANAGED_APPS, mayCollect, PERSONAL_APPS, visibleFields, type SeparationContext } from "./data-separation.ts";
import { enrollmentTypeExists } from "./enrollment-type.ts";

const ueIPhone: SeparationContext = { platform: "iOS", enrollmentType: "user-enrollment", ownership: "personal", supervised: false };
const corporateIPhone: SeparationContext = { platform: "iOS", enrollmentType: "ade", ownership: "corporate", supervised: true };
const personalIPhone: SeparationContext = { platform: "iOS", enrollmentType: "device", ownership: "personal", supervised: false };

// A DeviceInformation report as a device sends it (XML plist), with a key Apple does not define and a
// "__proto__" key a hostile client could add.
const REPORT = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CommandUUID</key><string>0001</string>
	<key>QueryResponses</key>
	<dict>
		<key>DeviceName</key><string>Ana&#39;s iPhone</string>
		<key>OSVersion</key><string>17.4.1</string>
		<key>ModelName</key><string>iPhone</string>
		<key>SerialNumber</key><string>F2LXXXXXXXX</string>
		<key>UDID</key><string>00008030-000000000000002E</string>
		<key>IMEI</key><string>35 000000 000000 0</string>
		<key>MEID</key><string>35000000000000</string>
		<key>PhoneNumber</key><string>+44 7700 900000</string>
		<key>ServiceSubscriptions</key>
		<array><dict><key>PhoneNumber</key><string>+44 7700 900000</string><key>Slot</key><string>CTSubscriptionSlotOne</string></dict></array>
		<key>WiFiMAC</key><string>00:00:5e:00:53:01</string>
		<key>BatteryLevel</key><real>0.8</real>
		<key>IsSupervised</key><false/>
		<key>SomethingNew</key><string>x</string>
		<key>__proto__</key><dict><key>polluted</key><true/></dict>
	</dict>
	<key>Status</key><string>Acknowledged</string>
	<key>UDID</key><string>00008030-000000000000002E</string>
</dict>
</plist>`;

function answers(): PlistDict {
  return (parsePlist(REPORT) as PlistDict)["QueryResponses"] as PlistDict;
}

describe("filterAnswers", () => {
  it("keeps nothing of a User Enrollment that identifies the device, its SIM or its owner", () => {
    const { kept, dropped } = filterAnswers(answers(), ueIPhone);
    expect(Object.keys(kept).sort()).toEqual(["BatteryLevel", "DeviceName", "IsSupervised", "ModelName", "OSVersion"]);
    expect(dropped).toEqual(expect.arrayContaining(["SerialNumber", "UDID", "IMEI", "MEID", "PhoneNumber", "ServiceSubscriptions", "WiFiMAC"]));
    expect(kept["DeviceName"]).toBe("Ana's iPhone");
  });

  it("keeps every key Apple defines for a corporate device, and drops the ones it does not", () => {
    const { kept, dropped } = filterAnswers(answers(), corporateIPhone);
    expect(kept["SerialNumber"]).toBe("F2LXXXXXXXX");
    expect(kept["PhoneNumber"]).toBe("+44 7700 900000");
    expect([...dropped].sort()).toEqual(["SomethingNew", "__proto__"]);
    expect(Object.getPrototypeOf(kept)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });

  it("drops a personal device's phone numbers but keeps what Device Enrollment shows", () => {
    const { kept } = filterAnswers(answers(), personalIPhone);
    expect(kept["PhoneNumber"]).toBeUndefined();
    expect(kept["ServiceSubscriptions"]).toBeUndefined();
    expect(kept["SerialNumber"]).toBe("F2LXXXXXXXX");
    expect(kept["IMEI"]).toBe("35 000000 000000 0");
  });
});

describe("mayCollect", () => {
  it("refuses under User Enrollment every key Apple's schema forbids there, on every platform", () => {
    const di = commandSchemas["DeviceInformation"]!;
    const keys = di.request.find((k) => k.key === "Queries")!.subkeys![0]!.subkeys!;
    let checked = 0;
    for (const platform of PLATFORMS) {
      if (!enrollmentTypeExists("user-enrollment", platform)) continue;
      const ctx: SeparationContext = { platform, enrollmentType: "user-enrollment", ownership: "personal", supervised: false };
      for (const key of keys) {
        const mode = key.supportedOS?.[platform]?.userenrollment?.mode;
        if (mode === "forbidden") {
          expect(mayCollect(key.key, ctx), `${platform} ${key.key}`).toBe(false);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it("never lets a User Enrollment yield the personal app list or a location", () => {
    expect(mayCollect(PERSONAL_APPS, ueIPhone)).toBe(false);
    expect(mayCollect(MANAGED_APPS, ueIPhone)).toBe(true);
    expect(mayCollect(DEVICE_LOCATION, { ...ueIPhone, lostMode: true })).toBe(false);
  });

  it("locates only a supervised corporate device in Lost Mode", () => {
    expect(mayCollect(DEVICE_LOCATION, { ...corporateIPhone, lostMode: true })).toBe(true);
    expect(mayCollect(DEVICE_LOCATION, corporateIPhone)).toBe(false);
    expect(mayCollect(DEVICE_LOCATION, { ...corporateIPhone, lostMode: true, supervised: false })).toBe(false);
    expect(mayCollect(DEVICE_LOCATION, { ...personalIPhone, supervised: true, lostMode: true })).toBe(false);
    expect(mayCollect(DEVICE_LOCATION, { ...corporateIPhone, platform: "macOS", lostMode: true })).toBe(false);
  });

  it("refuses a name Apple's schema does not define", () => {
    expect(mayCollect("constructor", corporateIPhone)).toBe(false);
    expect(mayCollect("SomethingNew", corporateIPhone)).toBe(false);
  });
});

describe("visibleFields", () => {
  it("shows a User Enrollment's managed apps and harmless facts only", () => {
    const v = visibleFields(ueIPhone);
    expect(v.apps).toBe("managed");
    expect(v.location).toBe(false);
    expect(v.deviceInformation).toEqual(expect.arrayContaining(["DeviceName", "OSVersion", "ModelName"]));
    for (const key of ["SerialNumber", "UDID", "IMEI", "MEID", "PhoneNumber", "WiFiMAC"]) expect(v.deviceInformation).not.toContain(key);
  });

  it("shows a corporate Mac its platform's keys and the full app list", () => {
    const v = visibleFields({ platform: "macOS", enrollmentType: "account-driven-device", ownership: "corporate", supervised: true });
    expect(v.apps).toBe("all");
    expect(v.deviceInformation).toEqual(expect.arrayContaining(["SerialNumber", "UDID", "IsAppleSilicon", "EthernetMAC"]));
    expect(v.deviceInformation).not.toContain("IMEI"); // an iOS key
  });
});
