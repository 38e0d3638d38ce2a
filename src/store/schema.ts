// The database as kysely sees it: one interface per table. Times are epoch milliseconds (bigint),
// flags are 0/1 integers and binary values are bytes, so that the same rows work on SQLite and PostgreSQL.
// The tables themselves are created by the migrations in ./migrations.

export interface ApiTokensTable {
  id: string;
  name: string;
  role: "admin" | "operator" | "readonly";
  /** SHA-256 of the token, hex: the token itself is never stored. */
  token_hash: string;
  /** First characters of the token, so an admin can tell tokens apart in a list. */
  prefix: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface PkiCredentialsTable {
  /** "ca", "scep-ra", "tls", "profile-signing". */
  name: string;
  cert_pem: string;
  /** Issuer chain above cert_pem, PEM, possibly empty. */
  chain_pem: string;
  /** Private key (PKCS#8 DER), sealed by the secrets envelope. */
  key_sealed: Uint8Array;
  not_after: number;
  created_at: number;
}

export interface IssuedCertificatesTable {
  serial: string;
  kind: "identity" | "tls" | "scep-ra" | "profile-signing" | "other";
  subject: string;
  not_before: number;
  not_after: number;
  /** SHA-256 of the DER, hex. */
  fingerprint: string;
  enrollment_id: string | null;
  enrollment_profile_id: string | null;
  revoked_at: number | null;
  created_at: number;
}

export interface JobsTable {
  id: string;
  kind: string;
  payload: string;
  run_at: number;
  attempts: number;
  max_attempts: number;
  locked_by: string | null;
  locked_until: number | null;
  last_error: string | null;
  created_at: number;
  /** Set by jobs that must not run twice at once (e.g. one pruning pass); unique while pending. */
  singleton_key: string | null;
}

export interface AuditLogTable {
  id: string;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  outcome: "ok" | "error";
  status_code: number;
  detail: string | null;
}

export type EnrollmentChannel = "device" | "user";
/** device: a device's channel; user: a macOS user channel; shared-ipad: a Shared iPad user; user-enrollment: either channel of a User Enrollment (BYOD). */
export type EnrollmentKind = "device" | "user-enrollment" | "user" | "shared-ipad";
export type EnrollmentStatus = "authenticated" | "active" | "checked_out";

export interface EnrollmentsTable {
  /** NanoMDM's enrollment ID: UDID, EnrollmentID, UDID:UserID or UDID:ShortName. */
  id: string;
  /** The id of the device-channel enrollment this one belongs to (itself for a device channel). */
  device_id: string;
  channel: EnrollmentChannel;
  kind: EnrollmentKind;
  status: EnrollmentStatus;
  /** SHA-256 of the identity certificate bound at Authenticate, hex. */
  cert_fingerprint: string | null;
  enrollment_profile_id: string | null;
  udid: string | null;
  enrollment_user_id: string | null;
  serial_number: string | null;
  platform: string | null;
  model: string | null;
  model_name: string | null;
  product_name: string | null;
  os_version: string | null;
  build_version: string | null;
  device_name: string | null;
  imei: string | null;
  meid: string | null;
  user_id: string | null;
  user_short_name: string | null;
  user_long_name: string | null;
  supervised: number | null;
  topic: string | null;
  /** APNs device token, hex. */
  push_token: string | null;
  push_magic: string | null;
  token_invalid_at: number | null;
  unlock_token_sealed: Uint8Array | null;
  bootstrap_token_sealed: Uint8Array | null;
  awaiting_configuration: number;
  not_on_console: number;
  last_seen_at: number | null;
  last_push_at: number | null;
  last_push_result: string | null;
  authenticated_at: number | null;
  activated_at: number | null;
  checked_out_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface CommandsTable {
  uuid: string;
  request_type: string;
  /** The command plist; empty when the command carries secrets and body_sealed holds it. */
  body: string;
  /** The plist sealed by the secrets envelope (purpose "command.body:UUID"), for commands that carry secrets. */
  body_sealed: Uint8Array | null;
  priority: number;
  expires_at: number | null;
  created_by: string;
  target_count: number;
  created_at: number;
}

export type QueueStatus = "pending" | "sent" | "notnow";
export type ResultStatus = "acknowledged" | "error" | "commandformaterror" | "expired" | "cancelled";

export interface CommandQueueTable {
  enrollment_id: string;
  command_uuid: string;
  status: QueueStatus;
  priority: number;
  queued_at: number;
  expires_at: number | null;
  sent_at: number | null;
  deliveries: number;
  /** When the device first answered NotNow (the command.notnow event fires then, once). */
  notnow_at: number | null;
}

export interface CommandResultsTable {
  command_uuid: string;
  enrollment_id: string;
  status: ResultStatus;
  raw: Uint8Array | null;
  error_chain: string | null;
  completed_at: number;
}

export interface WebhooksTable {
  id: string;
  url: string;
  secret_sealed: Uint8Array;
  /** Comma-separated event names, or "*". */
  events: string;
  format: "orchard" | "nanomdm";
  enabled: number;
  created_at: number;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  response_status: number | null;
  last_error: string | null;
  created_at: number;
  completed_at: number | null;
}

export interface EnrollmentProfilesTable {
  id: string;
  name: string;
  description: string;
  user_affinity: "none" | "user";
  ownership: "corporate" | "personal";
  access_rights: number;
  sign_message: number;
  check_out_when_removed: number;
  /** JSON array of strings. */
  server_capabilities: string;
  separate_checkin_url: number;
  use_development_apns: number;
  removal_disallowed: number;
  /** Whether the .mobileconfig is CMS-signed by default. */
  signed: number;
  validity_days: number;
  key_size: number;
  subject_template: string;
  /** Bumped on every change; payload UUIDs derive from (uuid_seed, version), so they are stable per version. */
  version: number;
  uuid_seed: string;
  /** SHA-256 of the download link's token, hex; the token itself is sealed for showing the link again. */
  link_token_hash: string;
  link_token_sealed: Uint8Array;
  challenge_hash: string;
  challenge_sealed: Uint8Array;
  /** When the link and the profile's static SCEP challenge stop working. */
  expires_at: number;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface ScepChallengesTable {
  id: string;
  challenge_hash: string;
  enrollment_profile_id: string | null;
  enrollment_id: string | null;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

export interface PushCertificatesTable {
  /** The APNs topic, from the certificate's UID (com.apple.mgmt.External.…). */
  topic: string;
  subject: string;
  issuer: string;
  serial: string;
  /** SHA-256 of the certificate DER, hex. */
  fingerprint: string;
  /** The certificate followed by any chain uploaded with it, PEM. */
  cert_pem: string;
  /** Private key (PKCS#8 DER), sealed by the secrets envelope. */
  key_sealed: Uint8Array;
  not_before: number;
  not_after: number;
  /** 1 for the topic new enrollment profiles carry (exactly one row). */
  active: number;
  /** The last certificate-level refusal from APNs (403), for the alert. */
  last_error: string | null;
  last_error_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface PushCertificateRequestsTable {
  /** SHA-256 of the key's SubjectPublicKeyInfo, hex: how an uploaded certificate finds its key. */
  spki_sha256: string;
  subject: string;
  key_sealed: Uint8Array;
  created_at: number;
}

export interface PushRetriesTable {
  enrollment_id: string;
  /** When the re-push sweep looks at this enrollment again. */
  retry_at: number;
  /** Re-pushes so far since the last push for new work. */
  attempts: number;
  pushed_at: number;
}

/** One row per setting `orchard serve` recorded at start (src/store/server-settings.ts); values are text. */
export interface ServerSettingsTable {
  key: string;
  value: string;
  updated_at: number;
}

export type DeviceStatus = "enrolled" | "unenrolled";

/** A physical device (src/manage/devices): id is its device channel's enrollment id (UDID or EnrollmentID). */
export interface DevicesTable {
  id: string;
  status: DeviceStatus;
  serial_number: string | null;
  udid: string | null;
  /** The platform family (iOS, iPadOS, macOS, …), as enrollments store it. */
  platform: string | null;
  model: string | null;
  model_name: string | null;
  product_name: string | null;
  os_version: string | null;
  build_version: string | null;
  device_name: string | null;
  /** The device channel's kind: "device" or "user-enrollment". */
  enrollment_kind: string;
  enrollment_profile_id: string | null;
  ownership: "corporate" | "personal" | null;
  supervised: number | null;
  activation_lock_enabled: number | null;
  dep_capable: number | null;
  battery_level: number | null;
  capacity_gb: number | null;
  available_gb: number | null;
  wifi_mac: string | null;
  bluetooth_mac: string | null;
  imei: string | null;
  meid: string | null;
  passcode_present: number | null;
  passcode_compliant: number | null;
  filevault_enabled: number | null;
  sip_enabled: number | null;
  firewall_enabled: number | null;
  bootstrap_escrowed: number | null;
  last_seen_at: number | null;
  last_inventory_at: number | null;
  enrolled_at: number | null;
  unenrolled_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface DeviceAppsTable {
  device_id: string;
  bundle_id: string;
  name: string | null;
  version: string | null;
  short_version: string | null;
  managed: number | null;
  size: number | null;
  installing: number | null;
}

export interface DeviceProfilesTable {
  device_id: string;
  identifier: string;
  uuid: string | null;
  display_name: string | null;
  organization: string | null;
  removal_disallowed: number | null;
  installed_by_orchard: number | null;
}

export interface DeviceCertificatesTable {
  device_id: string;
  fingerprint: string;
  common_name: string | null;
  issuer: string | null;
  not_after: number | null;
  is_identity: number | null;
}

export interface DeviceInventoryRawTable {
  device_id: string;
  query_type: string;
  raw: string;
  warnings: string;
  received_at: number;
}

/** When each enrolled device's next scheduled inventory collection is due (src/manage/devices/inventory-collection.ts). */
export interface DeviceInventoryScheduleTable {
  device_id: string;
  due_at: number;
}

export type DeviceHistoryKind = "attribute" | "app" | "profile" | "certificate";

export interface DeviceHistoryTable {
  id: string;
  device_id: string;
  at: number;
  kind: DeviceHistoryKind;
  /** The attribute's name, or the app's bundle id, the profile's identifier, the certificate's fingerprint. */
  field: string;
  from_value: string | null;
  to_value: string | null;
}

export interface Database {
  api_tokens: ApiTokensTable;
  pki_credentials: PkiCredentialsTable;
  issued_certificates: IssuedCertificatesTable;
  jobs: JobsTable;
  audit_log: AuditLogTable;
  enrollments: EnrollmentsTable;
  commands: CommandsTable;
  command_queue: CommandQueueTable;
  command_results: CommandResultsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  enrollment_profiles: EnrollmentProfilesTable;
  scep_challenges: ScepChallengesTable;
  push_certificates: PushCertificatesTable;
  push_certificate_requests: PushCertificateRequestsTable;
  push_retries: PushRetriesTable;
  server_settings: ServerSettingsTable;
  devices: DevicesTable;
  device_apps: DeviceAppsTable;
  device_profiles: DeviceProfilesTable;
  device_certificates: DeviceCertificatesTable;
  device_inventory_raw: DeviceInventoryRawTable;
  device_history: DeviceHistoryTable;
  device_inventory_schedule: DeviceInventoryScheduleTable;
}
