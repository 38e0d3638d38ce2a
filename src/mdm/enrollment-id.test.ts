// Enrollment ids as NanoMDM forms them, for every kind of channel a device can speak for.
import { describe, expect, it } from "vitest";
import { EnrollmentIdError, SHARED_IPAD_USER_ID, resolveChannel } from "./enrollment-id.ts";

const UDID = "00008110-000A1C2E3E88801E";
const USER = "A1B2C3D4-0000-1111-2222-333344445555";

describe("resolveChannel", () => {
  it("names the device channel by UDID", () => {
    expect(resolveChannel({ UDID })).toEqual({ id: UDID, deviceId: UDID, channel: "device", kind: "device", udid: UDID, enrollmentUserId: null, userId: null, userShortName: null });
  });

  it("names a User Enrollment device by EnrollmentID, and its user by EnrollmentID:EnrollmentUserID", () => {
    expect(resolveChannel({ EnrollmentID: "ENR-1" })).toMatchObject({ id: "ENR-1", channel: "device", kind: "user-enrollment", udid: null });
    expect(resolveChannel({ EnrollmentID: "ENR-1", EnrollmentUserID: "EU-1" })).toMatchObject({ id: "ENR-1:EU-1", deviceId: "ENR-1", channel: "user", kind: "user-enrollment", enrollmentUserId: "EU-1" });
  });

  it("names a macOS user channel UDID:UserID and a Shared iPad user UDID:UserShortName", () => {
    expect(resolveChannel({ UDID, UserID: USER, UserShortName: "jane" })).toMatchObject({ id: `${UDID}:${USER}`, channel: "user", kind: "user", userId: USER, userShortName: "jane" });
    expect(resolveChannel({ UDID, UserID: SHARED_IPAD_USER_ID.toLowerCase(), UserShortName: "jane" })).toMatchObject({ id: `${UDID}:jane`, channel: "user", kind: "shared-ipad" });
  });

  it("refuses a message without a device, and a Shared iPad user without a short name", () => {
    expect(() => resolveChannel({ UDID: "" })).toThrow(EnrollmentIdError);
    expect(() => resolveChannel({ UDID, UserID: SHARED_IPAD_USER_ID })).toThrow(/UserShortName/);
  });
});
