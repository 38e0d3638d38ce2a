// Enrollment profiles as admins manage them: a named object saying how devices enroll (user affinity,
// ownership, the MDM payload's options, validity, identity key options), exported as a signed .mobileconfig
// or a download link. Each profile has a static SCEP challenge that lapses with its link; one-time challenges
// are issued separately (and for identity renewal).
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Executor, Store, Tx } from "../../store/db.ts";
import type { Actor } from "../../events/actor.ts";
import type { AuditLog } from "../../events/audit-log.ts";
import type { SecretBox } from "../../secrets/envelope.ts";
import {
  insertProfile,
  listLiveProfiles,
  liveProfileIdByName,
  liveProfilesByIdOrName,
  markProfileDeleted,
  profileAccessRights,
  profileByChallengeHash,
  profileById,
  profileByLinkTokenHash,
  updateProfile,
  type ProfileRow,
} from "../../store/enrollment-profiles.ts";
import { insertScepChallenge, scepChallengeByHash, spendScepChallenge } from "../../store/scep-challenges.ts";
import { buildPlist } from "../../wire/plist.ts";
import { buildEnrollmentProfile, payloadUuid, scepSubject } from "../../wire/enrollment-profile.ts";
import { signProfile } from "../../pki/cms-signed-data.ts";
import type { SigningIdentity } from "../../pki/issue.ts";
import { subjectString, parseCertificate } from "../../pki/certificate.ts";

export type { ProfileRow };

/** What a SCEP challenge is good for: the profile and the device the certificate it yields will belong to. */
export type ChallengeCheck = { ok: true; profileId: string | null; enrollmentId: string | null } | { ok: false; reason: string };

export const SERVER_CAPABILITIES = ["com.apple.mdm.per-user-connections", "com.apple.mdm.bootstraptoken", "com.apple.mdm.token"] as const;
export const PLACEHOLDER_TOPIC = "com.apple.mgmt.orchard.placeholder";
const PURPOSE_LINK = "enrollment-profile.link";
const PURPOSE_CHALLENGE = "enrollment-profile.challenge";

export class ProfileError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 410,
    message: string,
  ) {
    super(message);
  }
}

export interface ProfileInput {
  name: string;
  description: string;
  userAffinity: "none" | "user";
  ownership: "corporate" | "personal";
  accessRights: number;
  signMessage: boolean;
  checkOutWhenRemoved: boolean;
  serverCapabilities: string[];
  separateCheckInUrl: boolean;
  useDevelopmentApns: boolean;
  removalDisallowed: boolean;
  signed: boolean;
  validityDays: number;
  keySize: 2048 | 4096;
  subjectTemplate: string;
}

export const PROFILE_DEFAULTS: Omit<ProfileInput, "name"> = {
  description: "",
  userAffinity: "none",
  ownership: "corporate",
  accessRights: 8191,
  signMessage: true,
  checkOutWhenRemoved: true,
  serverCapabilities: [...SERVER_CAPABILITIES],
  separateCheckInUrl: true,
  useDevelopmentApns: false,
  removalDisallowed: false,
  signed: true,
  validityDays: 14,
  keySize: 2048,
  subjectTemplate: "CN=%SerialNumber%,O=%ProfileName%",
};

const SUBJECT_VARIABLES = ["%SerialNumber%", "%UDID%", "%ProfileName%", "%DeviceName%"];

/** Apple's AccessRights rules: never 0, within the 13 defined bits, and the dependent rights need their base. */
export function accessRightsProblem(v: number): string | undefined {
  if (!Number.isInteger(v) || v < 1 || v > 8191) return "accessRights must be an integer from 1 to 8191 (0 grants nothing and is refused by devices)";
  if (v & 2 && !(v & 1)) return "accessRights: 2 (install and remove profiles) requires 1 (inspect profiles)";
  if (v & 128 && !(v & 64)) return "accessRights: 128 (install and remove provisioning profiles) requires 64 (inspect provisioning profiles)";
  return undefined;
}

export function validateProfileInput(p: ProfileInput): void {
  const problem = accessRightsProblem(p.accessRights);
  if (problem) throw new ProfileError(400, problem);
  const unknownCaps = p.serverCapabilities.filter((c) => !(SERVER_CAPABILITIES as readonly string[]).includes(c));
  if (unknownCaps.length) throw new ProfileError(400, `unknown serverCapabilities: ${unknownCaps.join(", ")} (known: ${SERVER_CAPABILITIES.join(", ")})`);
  if (p.keySize !== 2048 && p.keySize !== 4096) throw new ProfileError(400, "keySize must be 2048 or 4096 (Apple's SCEP payload allows 1024, 2048, 4096; 1024 is too weak)");
  if (!Number.isInteger(p.validityDays) || p.validityDays < 1 || p.validityDays > 3650) throw new ProfileError(400, "validityDays must be from 1 to 3650");
  try {
    scepSubject(expandSubject(p.subjectTemplate, { ProfileName: "x", SerialNumber: "x", UDID: "x", DeviceName: "x" }));
  } catch (e) {
    throw new ProfileError(400, `subjectTemplate: ${(e as Error).message}`);
  }
  const unknownVars = (p.subjectTemplate.match(/%[A-Za-z]+%/g) ?? []).filter((v) => !SUBJECT_VARIABLES.includes(v));
  if (unknownVars.length) throw new ProfileError(400, `subjectTemplate: unknown variable ${unknownVars[0]} (known: ${SUBJECT_VARIABLES.join(", ")})`);
}

export function expandSubject(template: string, vars: Partial<Record<"ProfileName" | "SerialNumber" | "UDID" | "DeviceName", string>>): string {
  // Values are escaped so that a comma in a name cannot add an RDN.
  return template.replace(/%([A-Za-z]+)%/g, (m, name: string) => (vars[name as keyof typeof vars] ?? m).replace(/,/g, "\\,"));
}

/** The CN of an identity whose template's CN names a device fact Orchard does not know when it serves the profile. */
export const GENERIC_IDENTITY_CN = "Orchard MDM identity";

/**
 * The identity certificate subject for one download of a profile. A generic download (the enrollment link, the
 * admin API) is served before Orchard knows the device, and an Apple device never fills variables in a SCEP
 * subject itself, so %SerialNumber%, %UDID% and %DeviceName% cannot be known then. Their RDNs are left out
 * rather than filled with a made-up value (a "pending-1a2b3c4d" CN read as a failed enrollment); a CN left out
 * becomes GENERIC_IDENTITY_CN, so the certificate still says what it is and O=%ProfileName% where it came from.
 * When the device is known (identity renewal) the template is filled in full.
 */
export function identitySubject(template: string, vars: Partial<Record<"ProfileName" | "SerialNumber" | "UDID" | "DeviceName", string>>): string {
  const known = (rdn: string) => (rdn.match(/%([A-Za-z]+)%/g) ?? []).every((v) => vars[v.slice(1, -1) as keyof typeof vars] !== undefined);
  const rdns: string[] = [];
  for (const rdn of template.split(/(?<!\\),/)) {
    if (known(rdn)) rdns.push(expandSubject(rdn, vars));
    else if (/^\s*CN\s*=/i.test(rdn)) rdns.push(`CN=${GENERIC_IDENTITY_CN}`);
  }
  return rdns.length > 0 ? rdns.join(",") : `CN=${GENERIC_IDENTITY_CN}`;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const newSecret = () => randomBytes(24).toString("base64url");

/** A fresh one-time challenge (what createChallengeIn stores the hash of), for a caller that builds its profile first. */
export const newChallengeSecret = newSecret;

export interface ProfileDeps {
  store: Store;
  audit: AuditLog;
  secrets: SecretBox;
  publicUrl: string;
  /** The organisation's name as devices show it (PayloadOrganization). */
  organization: string;
  dev: boolean;
  ca: () => SigningIdentity;
  signer: () => SigningIdentity;
  /** The push topic of the active push certificate, when one has been uploaded. */
  activeTopic: () => Promise<string | undefined>;
}

export interface ProfileView extends ProfileInput {
  id: string;
  version: number;
  topic: string;
  deliverable: boolean;
  notDeliverableReason: string | null;
  expiresAt: string;
  lapsed: boolean;
  links: { enroll: string; mobileconfig: string };
  createdAt: string;
  updatedAt: string;
}

export class EnrollmentProfileService {
  constructor(private readonly deps: ProfileDeps) {}

  private get store(): Store {
    return this.deps.store;
  }

  /** The audit entry holds the profile's settings (never its link or challenge). */
  async create(input: ProfileInput, actor: Actor): Promise<ProfileView> {
    validateProfileInput(input);
    this.checkUrls();
    const now = Date.now();
    const link = newSecret();
    const challenge = newSecret();
    const row: ProfileRow = {
      id: randomUUID(),
      ...toColumns(input),
      version: 1,
      uuid_seed: randomUUID(),
      link_token_hash: sha256(link),
      link_token_sealed: this.deps.secrets.seal(link, PURPOSE_LINK),
      challenge_hash: sha256(challenge),
      challenge_sealed: this.deps.secrets.seal(challenge, PURPOSE_CHALLENGE),
      expires_at: now + input.validityDays * 86_400_000,
      created_at: now,
      updated_at: now,
      deleted_at: null,
    };
    await this.store.transaction(async (tx) => {
      await this.insertUnique(tx, row);
      await this.deps.audit.record(tx, { actor, action: "enrollment_profile.create", target: row.id, detail: { ...input } });
    });
    return this.view(row);
  }

  private async insertUnique(tx: Tx, row: ProfileRow): Promise<void> {
    if ((await liveProfileIdByName(tx, row.name)) !== undefined) throw new ProfileError(409, `an enrollment profile named "${row.name}" already exists`);
    try {
      await insertProfile(tx, row);
    } catch (e) {
      // Another request (or replica) took the name between the check and the insert.
      if (/unique|duplicate/i.test((e as Error).message)) throw new ProfileError(409, `an enrollment profile named "${row.name}" already exists`);
      throw e;
    }
  }

  async list(): Promise<ProfileView[]> {
    const rows = await listLiveProfiles(this.store);
    return Promise.all(rows.map((r) => this.view(r)));
  }

  async get(id: string): Promise<ProfileView> {
    return this.view(await this.row(id));
  }

  async row(id: string, ex: Executor = this.store): Promise<ProfileRow> {
    const row = await profileById(ex, id);
    if (!row || row.deleted_at !== null) throw new ProfileError(404, `enrollment profile ${id} not found`);
    return row;
  }

  /**
   * A live profile by id or by name (names are unique among live profiles), for people who know it by name.
   * A name that is also another profile's id is refused as ambiguous rather than guessed.
   */
  async rowByIdOrName(idOrName: string): Promise<ProfileRow> {
    const rows = await liveProfilesByIdOrName(this.store, idOrName);
    if (rows.length > 1) throw new ProfileError(409, `"${idOrName}" is the id of one enrollment profile and the name of another: give the id (${rows.map((r) => r.id).join(" or ")})`);
    if (rows.length === 0) throw new ProfileError(404, `no enrollment profile with id or name "${idOrName}"`);
    return rows[0]!;
  }

  /** A profile row even after deletion: devices enrolled through it still renew their identity with it. */
  async rowIncludingDeleted(id: string): Promise<ProfileRow | undefined> {
    return profileById(this.store, id);
  }

  /** The audit entry names each field that changed, with its old and new value. */
  async update(id: string, patch: Partial<ProfileInput>, actor: Actor): Promise<ProfileView> {
    // One unit of work: the row read, the name check and the write.
    const updatedRow = await this.store.transaction(async (tx) => {
      const row = await this.row(id, tx);
      const before = fromColumns(row);
      const merged: ProfileInput = { ...before, ...patch };
      validateProfileInput(merged);
      if (merged.name !== row.name && (await liveProfileIdByName(tx, merged.name, id)) !== undefined) {
        throw new ProfileError(409, `an enrollment profile named "${merged.name}" already exists`);
      }
      const updated = { ...toColumns(merged), version: row.version + 1, updated_at: Date.now() };
      await updateProfile(tx, id, updated);
      await this.deps.audit.record(tx, { actor, action: "enrollment_profile.update", target: id, detail: { name: merged.name, version: updated.version, changed: changedFields(before, merged) } });
      return { ...row, ...updated };
    });
    return this.view(updatedRow);
  }

  /** Deleting enrolls nothing new; devices already enrolled through the profile keep working. */
  async delete(id: string, actor: Actor): Promise<void> {
    await this.store.transaction(async (tx) => {
      const row = await this.row(id, tx);
      await markProfileDeleted(tx, id, Date.now());
      await this.deps.audit.record(tx, { actor, action: "enrollment_profile.delete", target: id, detail: { name: row.name } });
    });
  }

  /** New link and static challenge, valid for another validityDays; the old ones stop working. */
  async renew(id: string, actor: Actor): Promise<ProfileView> {
    const renewed = await this.store.transaction(async (tx) => {
      const row = await this.row(id, tx);
      const patch = this.freshSecrets(row.validity_days, row.version);
      await updateProfile(tx, id, patch);
      await this.deps.audit.record(tx, { actor, action: "enrollment_profile.renew", target: id, detail: { name: row.name, version: patch.version, expiresAt: new Date(patch.expires_at).toISOString() } });
      return { ...row, ...patch };
    });
    return this.view(renewed);
  }

  /** A new link and static challenge for a profile at `version`, lasting `validityDays` from now. */
  private freshSecrets(validityDays: number, version: number) {
    const link = newSecret();
    const challenge = newSecret();
    const now = Date.now();
    return {
      link_token_hash: sha256(link),
      link_token_sealed: this.deps.secrets.seal(link, PURPOSE_LINK),
      challenge_hash: sha256(challenge),
      challenge_sealed: this.deps.secrets.seal(challenge, PURPOSE_CHALLENGE),
      expires_at: now + validityDays * 86_400_000,
      version: version + 1,
      updated_at: now,
    };
  }

  /** The profile a public download link points to; lapsed and deleted profiles give nothing. */
  async byLinkToken(token: string): Promise<ProfileRow> {
    const row = await profileByLinkTokenHash(this.store, sha256(token));
    if (!row || row.deleted_at !== null) throw new ProfileError(404, "this enrollment link is not valid");
    if (row.expires_at <= Date.now()) throw new ProfileError(410, "this enrollment link has expired; ask your administrator for a new one");
    return row;
  }

  /** The .mobileconfig bytes: signed CMS (DER) or the plain XML plist. */
  async mobileconfig(row: ProfileRow, opts: { signed: boolean; challenge?: string; device?: { serialNumber?: string; udid?: string; deviceName?: string } }): Promise<Uint8Array> {
    const topic = (await this.deps.activeTopic()) ?? PLACEHOLDER_TOPIC;
    const ca = this.deps.ca();
    const base = this.deps.publicUrl;
    const input = fromColumns(row);
    const subject = identitySubject(input.subjectTemplate, {
      ProfileName: row.name,
      ...(opts.device?.serialNumber !== undefined ? { SerialNumber: opts.device.serialNumber } : {}),
      ...(opts.device?.udid !== undefined ? { UDID: opts.device.udid } : {}),
      ...(opts.device?.deviceName !== undefined ? { DeviceName: opts.device.deviceName } : {}),
    });
    const identifier = `com.orchard.enrollment.${row.id}`;
    const profile = buildEnrollmentProfile({
      identifier,
      uuids: {
        profile: payloadUuid(row.uuid_seed, row.version, "profile"),
        root: payloadUuid(row.uuid_seed, row.version, "root"),
        scep: payloadUuid(row.uuid_seed, row.version, "scep"),
        mdm: payloadUuid(row.uuid_seed, row.version, "mdm"),
      },
      displayName: row.name,
      organization: this.deps.organization,
      description: row.description || `Enrolls this device in device management (${row.name})`,
      removalDisallowed: input.removalDisallowed,
      caCertDer: ca.certDer,
      caName: subjectString(parseCertificate(ca.certDer)),
      scep: {
        url: `${base}/scep`,
        challenge: opts.challenge ?? this.deps.secrets.openString(row.challenge_sealed, PURPOSE_CHALLENGE),
        keysize: input.keySize,
        subject,
        name: "Orchard",
      },
      mdm: {
        serverUrl: `${base}/mdm/connect`,
        ...(input.separateCheckInUrl ? { checkInUrl: `${base}/mdm/checkin` } : {}),
        topic,
        accessRights: input.accessRights,
        signMessage: input.signMessage,
        serverCapabilities: input.serverCapabilities,
        checkOutWhenRemoved: input.checkOutWhenRemoved,
        useDevelopmentApns: input.useDevelopmentApns,
      },
    });
    const xml = new Uint8Array(Buffer.from(buildPlist(profile), "utf8"));
    return opts.signed ? signProfile(xml, this.deps.signer()) : xml;
  }

  async accessRights(profileId: string, ex: Executor = this.store): Promise<number | undefined> {
    return profileAccessRights(ex, profileId);
  }

  /**
   * Checks a SCEP challenge without spending it: a live profile's static challenge, or an unexpired, unspent
   * one-time challenge. Lets SCEP refuse early, before any work; `redeemChallenge` is what accepts it.
   */
  async checkChallenge(challenge: string, ex: Executor = this.store): Promise<ChallengeCheck> {
    const r = await this.challenge(challenge, ex);
    return r.ok ? { ok: true, profileId: r.profileId, enrollmentId: r.enrollmentId } : r;
  }

  /**
   * Checks a SCEP challenge and uses up a one-time challenge (atomically, so a replay finds it spent). Pass
   * the transaction that records what the challenge was redeemed for, so that both happen or neither does.
   */
  async redeemChallenge(challenge: string, ex: Executor = this.store): Promise<ChallengeCheck> {
    const r = await this.challenge(challenge, ex);
    if (!r.ok) return r;
    if (r.oneTimeId !== null && !(await spendScepChallenge(ex, r.oneTimeId, Date.now()))) return { ok: false, reason: "the challenge has already been used" };
    return { ok: true, profileId: r.profileId, enrollmentId: r.enrollmentId };
  }

  private async challenge(challenge: string, ex: Executor): Promise<(ChallengeCheck & { ok: true; oneTimeId: string | null }) | { ok: false; reason: string }> {
    if (!challenge) return { ok: false, reason: "no challenge password in the request" };
    const hash = sha256(challenge);
    const now = Date.now();
    const profile = await profileByChallengeHash(ex, hash);
    if (profile) {
      if (profile.deleted_at !== null) return { ok: false, reason: "the challenge belongs to a deleted enrollment profile" };
      if (profile.expires_at <= now) return { ok: false, reason: "the enrollment profile's challenge has lapsed" };
      return { ok: true, profileId: profile.id, enrollmentId: null, oneTimeId: null };
    }
    const one = await scepChallengeByHash(ex, hash);
    if (!one) return { ok: false, reason: "unknown challenge" };
    if (one.used_at !== null) return { ok: false, reason: "the challenge has already been used" };
    if (one.expires_at <= now) return { ok: false, reason: "the challenge has expired" };
    return { ok: true, profileId: one.enrollment_profile_id, enrollmentId: one.enrollment_id, oneTimeId: one.id };
  }

  /** A one-time SCEP challenge, optionally tied to a profile (enrollment) or a device (identity renewal). */
  async createChallenge(opts: { profileId?: string; ttlMs?: number }, actor: Actor): Promise<{ challenge: string; expiresAt: string }> {
    return this.store.transaction(async (tx) => {
      const c = await this.createChallengeIn(tx, opts);
      // The audit entry says what the challenge is for and until when; never the challenge.
      await this.deps.audit.record(tx, { actor, action: "scep_challenge.create", target: opts.profileId ?? null, detail: { challengeId: c.id, expiresAt: c.expiresAt } });
      return { challenge: c.challenge, expiresAt: c.expiresAt };
    });
  }

  /** A one-time challenge written in the caller's transaction (which records why it was made: identity renewal). */
  async createChallengeIn(tx: Tx, opts: { profileId?: string; enrollmentId?: string; ttlMs?: number; challenge?: string }): Promise<{ id: string; challenge: string; expiresAt: string }> {
    const challenge = opts.challenge ?? newSecret();
    const now = Date.now();
    const expiresAt = now + (opts.ttlMs ?? 3_600_000);
    const id = randomUUID();
    await insertScepChallenge(tx, { id, challenge_hash: sha256(challenge), enrollment_profile_id: opts.profileId ?? null, enrollment_id: opts.enrollmentId ?? null, expires_at: expiresAt, used_at: null, created_at: now });
    return { id, challenge, expiresAt: new Date(expiresAt).toISOString() };
  }

  private checkUrls(): void {
    const u = new URL(this.deps.publicUrl);
    const loopback = ["localhost", "127.0.0.1", "[::1]", "::1"].includes(u.hostname);
    if (u.protocol === "https:") return;
    if (u.protocol === "http:" && loopback && this.deps.dev) return;
    throw new ProfileError(400, `devices require https URLs; ORCHARD_PUBLIC_URL is ${this.deps.publicUrl} (plain http is allowed only to loopback with ORCHARD_DEV=true)`);
  }

  async view(row: ProfileRow): Promise<ProfileView> {
    const topic = await this.deps.activeTopic();
    const lapsed = row.expires_at <= Date.now();
    const base = this.deps.publicUrl;
    return {
      id: row.id,
      ...fromColumns(row),
      version: row.version,
      topic: topic ?? PLACEHOLDER_TOPIC,
      deliverable: topic !== undefined,
      notDeliverableReason: topic === undefined ? "no push certificate has been uploaded: the profile carries a placeholder topic and real devices cannot be woken" : null,
      expiresAt: new Date(row.expires_at).toISOString(),
      lapsed,
      links: {
        enroll: `${base}/enroll/${this.deps.secrets.openString(row.link_token_sealed, PURPOSE_LINK)}`,
        mobileconfig: `${base}/api/v1/enrollment-profiles/${row.id}/mobileconfig`,
      },
      createdAt: new Date(row.created_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
    };
  }
}

function toColumns(p: ProfileInput) {
  return {
    name: p.name,
    description: p.description,
    user_affinity: p.userAffinity,
    ownership: p.ownership,
    access_rights: p.accessRights,
    sign_message: p.signMessage ? 1 : 0,
    check_out_when_removed: p.checkOutWhenRemoved ? 1 : 0,
    server_capabilities: JSON.stringify(p.serverCapabilities),
    separate_checkin_url: p.separateCheckInUrl ? 1 : 0,
    use_development_apns: p.useDevelopmentApns ? 1 : 0,
    removal_disallowed: p.removalDisallowed ? 1 : 0,
    signed: p.signed ? 1 : 0,
    validity_days: p.validityDays,
    key_size: p.keySize,
    subject_template: p.subjectTemplate,
  };
}

function fromColumns(r: ProfileRow): ProfileInput {
  return {
    name: r.name,
    description: r.description,
    userAffinity: r.user_affinity,
    ownership: r.ownership,
    accessRights: r.access_rights,
    signMessage: r.sign_message === 1,
    checkOutWhenRemoved: r.check_out_when_removed === 1,
    serverCapabilities: JSON.parse(r.server_capabilities) as string[],
    separateCheckInUrl: r.separate_checkin_url === 1,
    useDevelopmentApns: r.use_development_apns === 1,
    removalDisallowed: r.removal_disallowed === 1,
    signed: r.signed === 1,
    validityDays: r.validity_days,
    keySize: r.key_size === 4096 ? 4096 : 2048,
    subjectTemplate: r.subject_template,
  };
}

/** The fields an update changed, each with its old and new value (for the audit log). */
function changedFields(before: ProfileInput, after: ProfileInput): Record<string, { from: unknown; to: unknown }> {
  const changed: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of Object.keys(after) as Array<keyof ProfileInput>) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) changed[key] = { from: before[key], to: after[key] };
  }
  return changed;
}
