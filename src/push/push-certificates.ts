// Push certificates as admins manage them: upload (PEM + key, a .p12, or a certificate whose key was made
// by `orchard push csr`), the renewal rule that keeps the topic, the active topic enrollment profiles carry,
// expiry warnings, and the identity the APNs client pushes with (cached, refreshed when another replica
// uploads a new certificate).
import { createPrivateKey, type KeyObject } from "node:crypto";
import type { Logger } from "pino";
import type { Executor, Store } from "../store/db.ts";
import type { SecretBox } from "../secrets/envelope.ts";
import type { MetricsRegistry } from "../metrics/registry.ts";
import type { Actor } from "../events/actor.ts";
import type { AuditLog } from "../events/audit-log.ts";
import {
  activePushCertificate,
  deletePushCertificate,
  deletePushKeyRequest,
  enrollmentsOnTopic,
  findPushKeyRequest,
  getPushCertificate,
  listPushCertificates,
  pushCertificateFingerprints,
  recordPushCertificateError,
  savePushCertificate,
  savePushKeyRequest,
  type PushCertificateRow,
} from "../store/push-certificates.ts";
import { createCsr } from "../pki/csr.ts";
import { parseCertificate } from "../pki/certificate.ts";
import { exportPrivateKeyPem, generatePrivateKey, spkiDer } from "../pki/keys.ts";
import { derToPem } from "../pki/pem.ts";
import { checkPushCertificate, EXPIRY_WARNING_MS, PushCertificateError, spkiSha256, splitPem, readPushCertificate, type PushCertificateMaterial } from "./push-certificate.ts";
import { readPkcs12 } from "./pkcs12.ts";
import type { PushIdentity } from "./apns-client.ts";

/** Exported so a test can open the stored row with the keyring alone, as a restore tool would. */
export const PUSH_KEY_PURPOSE = "push-certificate.key";
const PURPOSE_REQUEST_KEY = "push-certificate-request.key";
/** How long a replica trusts its cached certificates before checking the table for uploads elsewhere. */
const REFRESH_MS = 2000;
const DAY_MS = 86_400_000;

export type PushUpload = { certificate: string; privateKey?: string } | { p12: Uint8Array; password: string };

export class PushTopicChangeError extends Error {
  override readonly name = "PushTopicChangeError";
  constructor(
    message: string,
    readonly activeTopic: string,
    readonly newTopic: string,
    readonly strandedEnrollments: number,
  ) {
    super(message);
  }
}

export interface PushCertificateView {
  topic: string;
  subject: string;
  issuer: string;
  serial: string;
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  active: boolean;
  /** Whole days left (negative once expired). */
  expiresInDays: number;
  expired: boolean;
  /** Within 30 days of expiry. */
  expiringSoon: boolean;
  warning: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
}

export interface UploadOutcome {
  certificate: PushCertificateView;
  /** renewal: same topic as before; new: first or additional topic (forced). */
  kind: "first" | "renewal" | "new-topic";
  previousTopic: string | null;
}

export class PushCertificateService {
  private identities = new Map<string, PushIdentity>();
  private fingerprints = new Map<string, string>();
  private refreshedAt = 0;
  private refreshing: Promise<void> | undefined;
  private active: string | undefined;
  private expiries: Array<[{ topic: string }, number]> = [];

  constructor(
    private readonly store: Store,
    private readonly secrets: SecretBox,
    private readonly logger: Logger,
    metrics: MetricsRegistry,
    private readonly audit: AuditLog,
  ) {
    metrics.gauge("orchard_push_certificate_expiry_seconds", "Seconds until each push certificate expires (negative once expired).", () =>
      this.expiries.map(([labels, notAfter]) => [labels, Math.round((notAfter - Date.now()) / 1000)]),
    );
  }

  /** Reads, checks and stores a push certificate. Throws PushCertificateError or PushTopicChangeError. */
  async upload(input: PushUpload, actor: Actor, opts: { force?: boolean; now?: Date } = {}): Promise<UploadOutcome> {
    const now = opts.now ?? new Date();
    const material = await this.materialOf(input, now);
    const current = await activePushCertificate(this.store);
    const existing = current?.topic === material.topic ? current : await getPushCertificate(this.store, material.topic);
    const kind: UploadOutcome["kind"] = existing ? "renewal" : current ? "new-topic" : "first";
    if (kind === "new-topic" && current && !opts.force) {
      const stranded = await enrollmentsOnTopic(this.store, current.topic);
      throw new PushTopicChangeError(
        `this push certificate is for topic ${material.topic}, but the certificate in use is for ${current.topic}. ` +
          `Devices only accept pushes sent with the topic they enrolled with: the ${stranded} enrollment${stranded === 1 ? "" : "s"} on ${current.topic} ` +
          `would never be woken by the new certificate and would all have to re-enroll. To keep them, renew the existing certificate in Apple's ` +
          `Push Certificates Portal with "Renew" (same Apple ID, same certificate) rather than "Create", and upload that. ` +
          `If a new topic is really wanted, upload again with force: the new topic becomes the one new enrollment profiles carry, and ${current.topic} keeps working for the devices already on it until it expires.`,
        current.topic,
        material.topic,
        stranded,
      );
    }
    const previousTopic = kind === "new-topic" ? (current?.topic ?? null) : null;
    const row = await this.store.transaction(async (tx) => {
      const saved = await savePushCertificate(
        tx,
        {
          topic: material.topic,
          subject: material.subject,
          issuer: material.issuer,
          serial: material.serial,
          fingerprint: material.fingerprint,
          cert_pem: [material.certDer, ...material.chainDer].map((d) => derToPem(d)).join(""),
          key_sealed: this.secrets.seal(new Uint8Array(material.key.export({ format: "der", type: "pkcs8" })), PUSH_KEY_PURPOSE),
          not_before: material.notBefore.getTime(),
          not_after: material.notAfter.getTime(),
        },
        kind !== "renewal",
        now.getTime(),
      );
      // The key request this certificate answers is spent (with the upload, or not at all).
      await deletePushKeyRequest(tx, spkiSha256(spkiDer(material.key)));
      await this.audit.record(tx, {
        actor,
        action: "push_certificate.upload",
        target: saved.topic,
        detail: { kind, previousTopic, forced: kind === "new-topic", serial: saved.serial, fingerprint: saved.fingerprint, notAfter: new Date(saved.not_after).toISOString() },
      });
      return saved;
    });
    this.refreshedAt = 0;
    const view = viewOf(row, now.getTime());
    this.logger.info({ topic: row.topic, notAfter: view.notAfter, kind, previousTopic: kind === "new-topic" ? (current?.topic ?? null) : null }, "push certificate uploaded");
    if (view.warning) this.logger.warn({ topic: row.topic, notAfter: view.notAfter }, view.warning);
    await this.refresh(this.store);
    return { certificate: view, kind, previousTopic };
  }

  async list(now = Date.now()): Promise<PushCertificateView[]> {
    return (await listPushCertificates(this.store)).map((r) => viewOf(r, now));
  }

  async get(topic: string): Promise<PushCertificateView | undefined> {
    const r = await getPushCertificate(this.store, topic);
    return r ? viewOf(r, Date.now()) : undefined;
  }

  async remove(topic: string, actor: Actor): Promise<boolean> {
    const ok = await this.store.transaction(async (tx) => {
      if (!(await deletePushCertificate(tx, topic))) return false;
      await this.audit.record(tx, { actor, action: "push_certificate.delete", target: topic });
      return true;
    });
    this.refreshedAt = 0;
    return ok;
  }

  /** The topic enrollment profiles carry: the active certificate's. */
  async activeTopic(): Promise<string | undefined> {
    await this.fresh();
    return this.active;
  }

  /** Whether any push certificate is present (no certificate: nothing to push with). */
  /** Whether any push certificate exists. Inside a transaction pass it: see `fresh`. */
  async hasAny(ex: Executor = this.store): Promise<boolean> {
    await this.fresh(ex);
    return this.fingerprints.size > 0;
  }

  /** The identity to push to `topic` with, or undefined when no certificate carries it. */
  async identity(topic: string): Promise<PushIdentity | undefined> {
    await this.fresh();
    const fingerprint = this.fingerprints.get(topic);
    if (fingerprint === undefined) return undefined;
    const cached = this.identities.get(topic);
    if (cached?.fingerprint === fingerprint) return cached;
    const row = await getPushCertificate(this.store, topic);
    if (!row) return undefined;
    const key = createPrivateKey({ key: this.secrets.open(row.key_sealed, PUSH_KEY_PURPOSE), format: "der", type: "pkcs8" });
    const identity: PushIdentity = { topic, fingerprint: row.fingerprint, certPem: row.cert_pem, keyPem: exportPrivateKeyPem(key) };
    this.identities.set(topic, identity);
    return identity;
  }

  /** Records APNs' refusal of a certificate (403) for the alert shown on the certificate. */
  async recordError(topic: string, message: string): Promise<void> {
    await recordPushCertificateError(this.store, topic, message, Date.now());
  }

  /** Logs a warning for each certificate within 30 days of expiry (or expired); returns them. */
  async checkExpiry(now = Date.now()): Promise<PushCertificateView[]> {
    const views = await this.list(now);
    this.expiries = views.map((v) => [{ topic: v.topic }, Date.parse(v.notAfter)]);
    const warn = views.filter((v) => v.warning);
    for (const v of warn) this.logger.warn({ topic: v.topic, notAfter: v.notAfter, expiresInDays: v.expiresInDays }, v.warning!);
    return warn;
  }

  /**
   * A new key and CSR for a push certificate (`orchard push csr`). The key stays here, sealed, so the
   * certificate Apple issues for it can later be uploaded on its own.
   */
  async createRequest(actor: Actor, subject = "CN=Orchard MDM push,O=Orchard"): Promise<{ csrPem: string; csrDer: Uint8Array; keyPem: string }> {
    const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
    const csrDer = createCsr({ subject, key });
    const keyId = spkiSha256(spkiDer(key));
    await this.store.transaction(async (tx) => {
      await savePushKeyRequest(tx, keyId, subject, this.secrets.seal(new Uint8Array(key.export({ format: "der", type: "pkcs8" })), PURPOSE_REQUEST_KEY), Date.now());
      // The public key's hash names the request (the key itself stays sealed here).
      await this.audit.record(tx, { actor, action: "push_certificate.csr", target: null, detail: { subject, publicKeySha256: keyId } });
    });
    return { csrPem: derToPem(csrDer, "CERTIFICATE REQUEST"), csrDer, keyPem: exportPrivateKeyPem(key) };
  }

  private async materialOf(input: PushUpload, now: Date): Promise<PushCertificateMaterial> {
    if ("p12" in input) {
      const p12 = readPkcs12(input.p12, input.password);
      return checkPushCertificate(p12.certDer, p12.chainDer, p12.key, now);
    }
    const split = splitPem(input.certificate);
    if (input.privateKey !== undefined || split.keyPem !== undefined) return readPushCertificate(input.certificate, input.privateKey, { now });
    // No key given: the one `orchard push csr` made for this certificate, if any.
    const certSpki = safeSpki(split.certDer);
    const sealed = certSpki ? await findPushKeyRequest(this.store, spkiSha256(certSpki)) : undefined;
    if (!sealed) {
      throw new PushCertificateError("no_key", "no private key was given, and none made by `orchard push csr` matches this certificate: send the key the CSR was made with, or a .p12 holding both");
    }
    const key: KeyObject = createPrivateKey({ key: this.secrets.open(sealed, PURPOSE_REQUEST_KEY), format: "der", type: "pkcs8" });
    return checkPushCertificate(split.certDer, split.chainDer, key, now);
  }

  /**
   * Re-reads the certificates when the copy here is stale. Inside a transaction the read goes through it and is
   * not shared: on SQLite (one connection) awaiting a read on the database itself from inside a transaction
   * would wait for the transaction to end, forever.
   */
  private async fresh(ex: Executor = this.store): Promise<void> {
    if (Date.now() - this.refreshedAt < REFRESH_MS) return;
    if (ex.inTransaction) return this.refresh(ex);
    this.refreshing ??= this.refresh(ex).finally(() => (this.refreshing = undefined));
    await this.refreshing;
  }

  private async refresh(ex: Executor): Promise<void> {
    const rows = await pushCertificateFingerprints(ex);
    this.fingerprints = new Map(rows.map((r) => [r.topic, r.fingerprint]));
    this.expiries = rows.map((r) => [{ topic: r.topic }, r.not_after]);
    this.active = (await activePushCertificate(ex))?.topic;
    for (const topic of this.identities.keys()) if (!this.fingerprints.has(topic)) this.identities.delete(topic);
    this.refreshedAt = Date.now();
  }
}

function safeSpki(der: Uint8Array): Uint8Array | undefined {
  try {
    return parseCertificate(der).spkiDer;
  } catch {
    return undefined;
  }
}

export function viewOf(r: PushCertificateRow, now: number): PushCertificateView {
  const left = r.not_after - now;
  const expired = left < 0;
  const expiringSoon = !expired && left <= EXPIRY_WARNING_MS;
  const days = Math.floor(left / DAY_MS);
  const warning = expired
    ? `the push certificate for ${r.topic} expired on ${new Date(r.not_after).toISOString()}: devices on this topic can no longer be woken; renew it in Apple's Push Certificates Portal (Renew, not Create) and upload it`
    : expiringSoon
      ? `the push certificate for ${r.topic} expires in ${days} day${days === 1 ? "" : "s"} (${new Date(r.not_after).toISOString()}): renew it in Apple's Push Certificates Portal (Renew, not Create, to keep the topic) and upload it`
      : null;
  return {
    topic: r.topic,
    subject: r.subject,
    issuer: r.issuer,
    serial: r.serial,
    fingerprint: r.fingerprint,
    notBefore: new Date(r.not_before).toISOString(),
    notAfter: new Date(r.not_after).toISOString(),
    active: r.active === 1,
    expiresInDays: days,
    expired,
    expiringSoon,
    warning,
    lastError: r.last_error,
    lastErrorAt: r.last_error_at === null ? null : new Date(r.last_error_at).toISOString(),
  };
}
