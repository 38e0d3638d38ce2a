// DeviceInformation and SecurityInfo results as device attributes: each documented key read with its type,
// compared with the stored row, and only what changed written (with a history row each and one device.updated).
// The engine's own enrollment facts (OS version, supervision) are kept by the MDM module's processor as before.
import type { Tx } from "../../store/db.ts";
import type { DevicePatch, DeviceRow } from "../../store/devices.ts";
import type { CommandResult } from "../../mdm/result-processors.ts";
import { platformOf } from "../../mdm/enrollment-id.ts";
import type { PlistDict } from "../../wire/plist.ts";
import { attributeChange, type DeviceService, type HistoryEntry } from "./devices.ts";
import { InventoryReader } from "./inventory-values.ts";
import { droppedWarning, filterDeviceAnswers, filterSecurityInfo } from "./device-separation.ts";

type AttributeColumn = Exclude<keyof DeviceRow, "id" | "status" | "enrollment_kind" | "enrollment_profile_id" | "ownership" | "created_at" | "updated_at">;
type Kind = "string" | "boolean" | "number";

interface Attribute {
  /** The key in the device's answer. */
  key: string;
  column: AttributeColumn;
  kind: Kind;
  /** The attribute's name in the API, history and device.updated. */
  name: string;
}

const DEVICE_INFORMATION: readonly Attribute[] = [
  { key: "SerialNumber", column: "serial_number", kind: "string", name: "serialNumber" },
  { key: "UDID", column: "udid", kind: "string", name: "udid" },
  { key: "Model", column: "model", kind: "string", name: "model" },
  { key: "ModelName", column: "model_name", kind: "string", name: "modelName" },
  { key: "ProductName", column: "product_name", kind: "string", name: "productName" },
  { key: "OSVersion", column: "os_version", kind: "string", name: "osVersion" },
  { key: "BuildVersion", column: "build_version", kind: "string", name: "buildVersion" },
  { key: "DeviceName", column: "device_name", kind: "string", name: "deviceName" },
  { key: "WiFiMAC", column: "wifi_mac", kind: "string", name: "wifiMac" },
  { key: "BluetoothMAC", column: "bluetooth_mac", kind: "string", name: "bluetoothMac" },
  { key: "IMEI", column: "imei", kind: "string", name: "imei" },
  { key: "MEID", column: "meid", kind: "string", name: "meid" },
  { key: "IsSupervised", column: "supervised", kind: "boolean", name: "supervised" },
  { key: "IsActivationLockEnabled", column: "activation_lock_enabled", kind: "boolean", name: "activationLockEnabled" },
  { key: "SystemIntegrityProtectionEnabled", column: "sip_enabled", kind: "boolean", name: "sipEnabled" },
  { key: "BatteryLevel", column: "battery_level", kind: "number", name: "batteryLevel" },
  { key: "DeviceCapacity", column: "capacity_gb", kind: "number", name: "capacityGb" },
  { key: "AvailableDeviceCapacity", column: "available_gb", kind: "number", name: "availableGb" },
];

const SECURITY_INFO: readonly Attribute[] = [
  { key: "PasscodePresent", column: "passcode_present", kind: "boolean", name: "passcodePresent" },
  { key: "PasscodeCompliant", column: "passcode_compliant", kind: "boolean", name: "passcodeCompliant" },
  { key: "FDE_Enabled", column: "filevault_enabled", kind: "boolean", name: "fileVaultEnabled" },
  { key: "SystemIntegrityProtectionEnabled", column: "sip_enabled", kind: "boolean", name: "sipEnabled" },
];
const FIREWALL: Attribute = { key: "FirewallEnabled", column: "firewall_enabled", kind: "boolean", name: "firewallEnabled" };
// Apple reports whether a device came through Automated Device Enrollment, not whether it could: a device that
// did is DEP capable; one that did not says nothing about it, so only `true` is recorded.
const DEP: Attribute = { key: "EnrolledViaDEP", column: "dep_capable", kind: "boolean", name: "depCapable" };

type Reported = Partial<Record<AttributeColumn, string | number>>;

function read(reader: InventoryReader, d: PlistDict, path: string, attributes: readonly Attribute[], into: Reported): void {
  for (const a of attributes) {
    const v = a.kind === "string" ? reader.string(d, a.key, path) : a.kind === "number" ? reader.number(d, a.key, path) : reader.boolean(d, a.key, path);
    if (v !== undefined) into[a.column] = typeof v === "boolean" ? (v ? 1 : 0) : v;
  }
}

export function deviceInformationProcessor(devices: DeviceService) {
  return (tx: Tx, result: CommandResult) =>
    ingest(devices, tx, result, (reader, report, device) => {
      const answers = reader.dict(report, "QueryResponses", "DeviceInformation");
      const out: Reported = {};
      if (!answers) {
        if (report.QueryResponses === undefined) reader.warn("DeviceInformation.QueryResponses is missing");
        return { reported: out, raw: report };
      }
      // What Apple forbids the organisation to keep of this device is taken out before anything is read, so it
      // reaches neither the row, nor the history, nor the raw answer kept below; the warning names the keys only.
      const { kept, dropped } = filterDeviceAnswers(answers, device);
      const note = droppedWarning("QueryResponses", dropped);
      if (note) reader.warn(note);
      read(reader, kept, "QueryResponses", DEVICE_INFORMATION, out);
      return { reported: out, raw: { ...report, QueryResponses: kept } };
    });
}

export function securityInfoProcessor(devices: DeviceService) {
  return (tx: Tx, result: CommandResult) =>
    ingest(devices, tx, result, (reader, report, device) => {
      const reportedInfo = reader.dict(report, "SecurityInfo", "SecurityInfo");
      const out: Reported = {};
      if (!reportedInfo) {
        if (report.SecurityInfo === undefined) reader.warn("SecurityInfo.SecurityInfo is missing");
        return { reported: out, raw: report };
      }
      // As for DeviceInformation: what this device's separation forbids is gone before anything is read or kept.
      const { kept: info, dropped } = filterSecurityInfo(reportedInfo, device);
      const note = droppedWarning("SecurityInfo", dropped);
      if (note) reader.warn(note);
      read(reader, info, "SecurityInfo", SECURITY_INFO, out);
      const firewall = reader.dict(info, "FirewallSettings", "SecurityInfo");
      if (firewall) read(reader, firewall, "SecurityInfo.FirewallSettings", [FIREWALL], out);
      const management = reader.dict(info, "ManagementStatus", "SecurityInfo");
      if (management && reader.boolean(management, DEP.key, "SecurityInfo.ManagementStatus") === true) out.dep_capable = 1;
      return { reported: out, raw: { ...report, SecurityInfo: info } };
    });
}

const NAMES = new Map<AttributeColumn, string>([...DEVICE_INFORMATION, ...SECURITY_INFO, FIREWALL, DEP].map((a) => [a.column, a.name]));

/** What an answer reported, and the answer as it may be kept (without what data separation forbids). */
interface ReadAnswer {
  reported: Reported;
  raw: PlistDict;
}

async function ingest(devices: DeviceService, tx: Tx, result: CommandResult, readAnswer: (reader: InventoryReader, report: PlistDict, device: DeviceRow) => ReadAnswer): Promise<void> {
  if (result.status !== "acknowledged") return;
  const device = await devices.deviceForChannel(tx, result.enrollmentId);
  if (!device) return;
  const reader = new InventoryReader();
  const { reported, raw } = readAnswer(reader, result.report, device);
  // The platform follows the product name and model, as the engine derives it at Authenticate.
  if (reported.product_name !== undefined || reported.model !== undefined) {
    const platform = platformOf(str(reported.product_name) ?? device.product_name, str(reported.model) ?? device.model);
    if (platform) reported.platform = platform;
  }
  const patch: DevicePatch = {};
  const history: HistoryEntry[] = [];
  const changed: string[] = [];
  for (const [column, value] of Object.entries(reported) as Array<[AttributeColumn, string | number]>) {
    const before = device[column];
    if (before === value) continue;
    (patch as Record<string, string | number>)[column] = value;
    const name = NAMES.get(column) ?? column;
    history.push(attributeChange(name, before, value));
    changed.push(name);
  }
  await devices.applyInventory(tx, device, { queryType: result.requestType, report: raw, warnings: reader.warnings, at: result.completedAt, patch, history, changed });
}

const str = (v: string | number | undefined) => (typeof v === "string" ? v : undefined);
