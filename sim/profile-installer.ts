// Installing configuration profiles on the virtual device: what InstallProfile does, and what installing an
// enrollment profile does before the MDM check-in. Payloads with an effect on the sim are applied
// (com.apple.security.root/pkcs1/pem: certificates; com.apple.security.scep: an identity through SCEP); every
// other payload type Apple's schema knows for the platform is recorded as installed; anything else fails the
// whole profile, as on a device. Network work (SCEP) happens before any state changes.
import { certificateDer } from "../src/pki/pem.ts";
import { profilePayloadSchema, validateProfilePayload } from "../src/wire/schema/index.ts";
import type { InstalledPayload, InstalledProfile } from "./device-state.ts";
import type { VirtualDevice } from "./device.ts";
import { EnrollmentError, type EnrollmentSettings, type ScepPayloadContent } from "./enrollment-settings.ts";
import { b64 } from "./keychain.ts";
import { schemaPlatform } from "./platform.ts";
import { isDict, ProfileError, readProfile, type ProfilePayload, type ReadProfile } from "./profile-reader.ts";
import { obtainScepIdentity, type ScepIdentity } from "./scep-identity.ts";

const CERTIFICATE_TYPES = new Set(["com.apple.security.root", "com.apple.security.pkcs1", "com.apple.security.pem"]);
export const MDM_PAYLOAD = "com.apple.mdm";
export const SCEP_PAYLOAD = "com.apple.security.scep";

/** Payload types the sim cannot carry out and refuses rather than pretending. */
const UNSUPPORTED = new Map([
  ["com.apple.security.pkcs12", "PKCS#12 identities are not supported by the virtual device"],
  ["com.apple.security.acme", "ACME identities are not supported by the virtual device"],
]);

export function payloadRecord(p: ProfilePayload): InstalledPayload {
  const r: InstalledPayload = { type: p.PayloadType, identifier: p.PayloadIdentifier, uuid: p.PayloadUUID, version: typeof p.PayloadVersion === "number" ? p.PayloadVersion : 1 };
  if (typeof p.PayloadDisplayName === "string") r.displayName = p.PayloadDisplayName;
  if (typeof p.PayloadDescription === "string") r.description = p.PayloadDescription;
  if (typeof p.PayloadOrganization === "string") r.organization = p.PayloadOrganization;
  return r;
}

function certificateOf(p: ProfilePayload): Uint8Array {
  const content = p.PayloadContent;
  if (!(content instanceof Uint8Array)) throw new ProfileError(`payload ${p.PayloadIdentifier}: PayloadContent must be certificate data`);
  try {
    return certificateDer(content);
  } catch (e) {
    throw new ProfileError(`payload ${p.PayloadIdentifier}: unreadable certificate (${e instanceof Error ? e.message : String(e)})`);
  }
}

export function scepContentOf(p: ProfilePayload): ScepPayloadContent {
  const c = p.PayloadContent;
  if (!isDict(c) || typeof c.URL !== "string") throw new ProfileError(`SCEP payload ${p.PayloadIdentifier} has no PayloadContent.URL`);
  return c as unknown as ScepPayloadContent;
}

/** Checks every payload can be installed on this device before anything is done. */
function checkPayloads(device: VirtualDevice, read: ReadProfile): void {
  const platform = schemaPlatform(device.state.platform);
  for (const p of read.payloads) {
    const unsupported = UNSUPPORTED.get(p.PayloadType);
    if (unsupported) throw new ProfileError(`payload ${p.PayloadIdentifier}: ${unsupported}`);
    const schema = profilePayloadSchema(p.PayloadType);
    if (!schema) throw new ProfileError(`payload ${p.PayloadIdentifier}: unknown payload type ${p.PayloadType}`);
    const support = schema.supportedOS?.[platform];
    if (schema.supportedOS && (!support || support.introduced === "n/a")) {
      throw new ProfileError(`payload ${p.PayloadIdentifier}: ${p.PayloadType} is not supported on ${device.state.platform}`);
    }
    if (support?.supervised && !device.state.supervised) throw new ProfileError(`payload ${p.PayloadIdentifier}: ${p.PayloadType} requires a supervised device`);
    const wrongTypes = validateProfilePayload(p, { context: { platform } }).filter((x) => x.kind === "type");
    if (wrongTypes.length > 0) throw new ProfileError(`payload ${p.PayloadIdentifier}: ${wrongTypes.map((x) => x.message).join("; ")}`);
  }
}

/** SCEP identities for every SCEP payload of the profile, obtained before anything is installed. */
async function obtainIdentities(device: VirtualDevice, read: ReadProfile): Promise<Map<string, ScepIdentity>> {
  const out = new Map<string, ScepIdentity>();
  const trust = [...device.keychain.anchorsPem(), ...read.payloads.filter((p) => p.PayloadType === "com.apple.security.root").map((p) => pem(certificateOf(p)))];
  for (const p of read.payloads.filter((x) => x.PayloadType === SCEP_PAYLOAD)) {
    const identity = await obtainScepIdentity(scepContentOf(p), device.state.deviceName, {
      transport: device.transport,
      trust,
      ...(device.keyProvider ? { keyProvider: device.keyProvider } : {}),
    });
    out.set(p.PayloadUUID, identity);
  }
  return out;
}

function pem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE-----\n`;
}

/** Applies certificate and identity payloads to the keychain (after the old version's items were removed). */
function applyPayloads(device: VirtualDevice, read: ReadProfile, identities: Map<string, ScepIdentity>): void {
  for (const p of read.payloads) {
    if (CERTIFICATE_TYPES.has(p.PayloadType)) device.keychain.addAnchor(certificateOf(p), read.identifier, p.PayloadType !== "com.apple.security.root");
    const identity = identities.get(p.PayloadUUID);
    if (identity) device.keychain.addIdentity({ uuid: p.PayloadUUID, certificate: identity.certDer, key: identity.key, chain: [], profileIdentifier: read.identifier });
  }
}

function profileRecord(read: ReadProfile, managed: boolean, isEnrollment: boolean): InstalledProfile {
  const d = read.profile;
  const record: InstalledProfile = {
    identifier: read.identifier,
    uuid: read.uuid,
    version: 1,
    removalDisallowed: d.PayloadRemovalDisallowed === true,
    managed,
    isEnrollment,
    signerCertificates: read.signerCertificates.map(b64),
    installDate: new Date().toISOString(),
    payloads: read.payloads.map(payloadRecord),
  };
  if (typeof d.PayloadDisplayName === "string") record.displayName = d.PayloadDisplayName;
  if (typeof d.PayloadDescription === "string") record.description = d.PayloadDescription;
  if (typeof d.PayloadOrganization === "string") record.organization = d.PayloadOrganization;
  return record;
}

/**
 * InstallProfile: installs or replaces a profile. An MDM payload is only accepted as the re-installation of the
 * enrollment profile itself (same PayloadIdentifier, same server and topic): that is how an MDM server renews
 * the device identity, and the client switches to the new identity at once.
 */
export async function installProfileFromMdm(device: VirtualDevice, bytes: Uint8Array): Promise<InstalledProfile> {
  const read = readProfile(bytes, { trust: device.keychain.anchorsDer() });
  checkPayloads(device, read);
  const existing = device.profiles.find(read.identifier);
  const mdmPayload = read.payloads.find((p) => p.PayloadType === MDM_PAYLOAD);
  const enrollment = device.state.mdm;
  const renewing = existing?.isEnrollment === true;
  if (mdmPayload) {
    if (!renewing || !enrollment) throw new ProfileError("an MDM payload can only be installed by the user, not through MDM");
    const mdmSettings = mdmPayload as ProfilePayload & { ServerURL?: unknown; Topic?: unknown; IdentityCertificateUUID?: unknown };
    if (mdmSettings.ServerURL !== enrollment.settings.serverUrl || mdmSettings.Topic !== enrollment.settings.topic) {
      throw new ProfileError("the new MDM payload must keep the enrollment's ServerURL and Topic");
    }
  } else if (renewing) {
    throw new ProfileError("the enrollment profile cannot be replaced by a profile without its MDM payload");
  }
  if (existing && !existing.managed && !renewing) throw new ProfileError(`the profile ${read.identifier} was installed by the user and cannot be replaced through MDM`);

  const identities = await obtainIdentities(device, read);
  let newIdentityUuid: string | undefined;
  if (mdmPayload && enrollment) {
    const uuid = (mdmPayload as ProfilePayload & { IdentityCertificateUUID?: unknown }).IdentityCertificateUUID;
    if (typeof uuid !== "string" || !identities.has(uuid)) throw new ProfileError("the MDM payload's IdentityCertificateUUID names no identity payload of the profile");
    newIdentityUuid = uuid;
  }
  if (existing) device.keychain.removeForProfile(existing.identifier);
  applyPayloads(device, read, identities);
  const record = profileRecord(read, !renewing, renewing);
  device.profiles.put(record);
  if (newIdentityUuid && enrollment) enrollment.settings.identityUuid = newIdentityUuid;
  return record;
}

/**
 * Turns an enrollment profile into EnrollmentSettings plus what the profile record needs. The identity is the
 * payload IdentityCertificateUUID names (a SCEP payload here); root payloads become the CAs to trust.
 */
export function enrollmentFromProfile(device: VirtualDevice, read: ReadProfile): { settings: EnrollmentSettings; payloads: InstalledPayload[] } {
  checkPayloads(device, read);
  const mdms = read.payloads.filter((p) => p.PayloadType === MDM_PAYLOAD);
  if (mdms.length !== 1) throw new EnrollmentError(mdms.length === 0 ? "the profile has no com.apple.mdm payload" : "the profile has more than one com.apple.mdm payload");
  const mdm = mdms[0]!;
  const str = (k: string): string | undefined => (typeof mdm[k] === "string" ? (mdm[k] as string) : undefined);
  const serverUrl = str("ServerURL");
  const topic = str("Topic");
  const identityUuid = str("IdentityCertificateUUID");
  if (!serverUrl || !topic || !identityUuid) throw new EnrollmentError("the MDM payload needs ServerURL, Topic and IdentityCertificateUUID");
  const identityPayload = read.payloads.find((p) => p.PayloadUUID === identityUuid);
  if (!identityPayload) throw new EnrollmentError(`IdentityCertificateUUID ${identityUuid} names no payload of the profile`);
  if (identityPayload.PayloadType !== SCEP_PAYLOAD) throw new EnrollmentError(`the identity payload is ${identityPayload.PayloadType}; the virtual device enrolls with SCEP`);
  const rights = mdm.AccessRights;
  const settings: EnrollmentSettings = {
    ServerURL: serverUrl,
    Topic: topic,
    SignMessage: mdm.SignMessage === true,
    CheckOutWhenRemoved: mdm.CheckOutWhenRemoved === true,
    UseDevelopmentAPNS: mdm.UseDevelopmentAPNS === true,
    trust: read.payloads.filter((p) => p.PayloadType === "com.apple.security.root").map(certificateOf),
    identity: { scep: scepContentOf(identityPayload) },
    profile: {
      PayloadIdentifier: read.identifier,
      PayloadUUID: read.uuid,
      ...(typeof read.profile.PayloadDisplayName === "string" ? { PayloadDisplayName: read.profile.PayloadDisplayName } : {}),
      ...(typeof read.profile.PayloadOrganization === "string" ? { PayloadOrganization: read.profile.PayloadOrganization } : {}),
      ...(typeof read.profile.PayloadDescription === "string" ? { PayloadDescription: read.profile.PayloadDescription } : {}),
      PayloadRemovalDisallowed: read.profile.PayloadRemovalDisallowed === true,
    },
  };
  if (typeof rights === "number") settings.AccessRights = rights;
  else throw new EnrollmentError("the MDM payload has no AccessRights");
  const checkIn = str("CheckInURL");
  if (checkIn) settings.CheckInURL = checkIn;
  if (Array.isArray(mdm.ServerCapabilities)) settings.ServerCapabilities = mdm.ServerCapabilities.filter((c): c is string => typeof c === "string");
  else settings.ServerCapabilities = [];
  return { settings, payloads: read.payloads.map(payloadRecord) };
}

export { readProfile };
