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

export interface Database {
  api_tokens: ApiTokensTable;
  pki_credentials: PkiCredentialsTable;
  issued_certificates: IssuedCertificatesTable;
  jobs: JobsTable;
  audit_log: AuditLogTable;
}
