// Enrollment and its removal. A device enrolls from EnrollmentSettings (what a com.apple.mdm payload and its
// companions say, or what a test hands over directly): it trusts the given CAs, obtains its identity (ready-made
// or through SCEP), records the enrollment profile, then checks in (Authenticate, TokenUpdate, and on macOS the
// console user's channel). If Authenticate is refused the profile is not installed, as on a real device.
// Removal takes every MDM-installed profile and app with it and sends CheckOut when CheckOutWhenRemoved.
import { randomUUID, type KeyObject } from "node:crypto";
import { parseCertificate } from "../src/pki/certificate.ts";
import { certificateDer } from "../src/pki/pem.ts";
import { nameAttribute } from "../src/pki/names.ts";
import { derToPem } from "../src/pki/pem.ts";
import type { InstalledPayload, InstalledProfile, MdmEnrollmentState } from "./device-state.ts";
import type { VirtualDevice } from "./device.ts";
import { checkEnrollmentSettings, EnrollmentError, isReadyIdentity, type EnrollmentSettings } from "./enrollment-settings.ts";
import { b64 } from "./keychain.ts";
import { obtainScepIdentity } from "./scep-identity.ts";
import { enrollmentFromProfile, MDM_PAYLOAD } from "./profile-installer.ts";
import { readProfile, type ReadProfile } from "./profile-reader.ts";

export interface EnrollOptions {
  /** Send Authenticate and TokenUpdate (default true). */
  checkIn?: boolean;
  /** macOS: also open the console user's channel when the server supports it (default true). */
  userChannels?: boolean;
  /** Admit plain http to hosts other than loopback. */
  allowInsecureHttp?: boolean;
  /** The payloads of the profile this enrollment came from, for ProfileList (enrollment from a .mobileconfig). */
  payloads?: InstalledPayload[];
  /** Signer certificates of a signed enrollment profile (DER). */
  signerCertificates?: Uint8Array[];
  /** The keychain UUID of the identity (the profile's IdentityCertificateUUID); random when absent. */
  identityUuid?: string;
}

export interface ProfileEnrollOptions extends Omit<EnrollOptions, "payloads" | "signerCertificates" | "identityUuid"> {
  /** CA certificates to trust for the profile's signature besides the profile's own root payloads (DER or PEM). */
  trust?: (Uint8Array | string)[];
  /** Refuse a profile whose signer does not chain to a trusted certificate (default: install it "Not Verified"). */
  requireTrustedSigner?: boolean;
}

/**
 * Installs an enrollment profile (.mobileconfig, signed or not): verifies the signature, trusts its root
 * payloads, obtains the identity through its SCEP payload, then enrolls with its com.apple.mdm settings.
 */
export async function enrollWithProfile(device: VirtualDevice, bytes: Uint8Array, options: ProfileEnrollOptions = {}): Promise<ReadProfile> {
  const trust = [...device.keychain.anchorsDer(), ...(options.trust ?? []).map((c) => certificateDer(c))];
  const read = readProfile(bytes, { trust, trustOwnRoots: true, ...(options.requireTrustedSigner ? { requireTrustedSigner: true } : {}) });
  const { settings, payloads } = enrollmentFromProfile(device, read);
  const identityUuid = read.payloads.find((p) => p.PayloadType === MDM_PAYLOAD)!.IdentityCertificateUUID as string;
  const { trust: _trust, requireTrustedSigner: _require, ...rest } = options;
  await enrollWithSettings(device, settings, { ...rest, payloads, signerCertificates: read.signerCertificates, identityUuid });
  // Intermediate certificates the profile carries are kept (listed, used for chains), not trusted.
  for (const p of read.payloads) {
    if ((p.PayloadType === "com.apple.security.pkcs1" || p.PayloadType === "com.apple.security.pem") && p.PayloadContent instanceof Uint8Array) {
      device.keychain.addAnchor(p.PayloadContent, read.identifier, true);
    }
  }
  return read;
}

const ALL_CAPABILITIES = ["com.apple.mdm.per-user-connections", "com.apple.mdm.bootstraptoken", "com.apple.mdm.token"];

export async function enrollWithSettings(device: VirtualDevice, settings: EnrollmentSettings, options: EnrollOptions = {}): Promise<void> {
  checkEnrollmentSettings(settings, options.allowInsecureHttp);
  const state = device.state;
  if (state.mdm) throw new EnrollmentError(`device ${state.udid} is already enrolled with ${state.mdm.settings.serverUrl}; unenroll first`);

  const p = settings.profile ?? {};
  const profileIdentifier = p.PayloadIdentifier ?? `com.orchard.sim.enrollment.${randomUUID().toLowerCase()}`;
  if (device.profiles.find(profileIdentifier)) throw new EnrollmentError(`a profile ${profileIdentifier} is already installed`);
  const trustPem = (settings.trust ?? []).map((c) => derToPem(certificateDer(c)));

  // Network work (SCEP) first, so a failure leaves the device as it was.
  const identityUuid = options.identityUuid ?? randomUUID().toUpperCase();
  let identity: { certificate: Uint8Array | string; key: KeyObject | string; chain: (Uint8Array | string)[] };
  if (isReadyIdentity(settings.identity)) {
    identity = { certificate: settings.identity.certificate, key: settings.identity.key, chain: settings.identity.chain ?? [] };
  } else {
    const scep = await obtainScepIdentity(settings.identity.scep, state.deviceName, {
      transport: device.transport,
      trust: [...device.keychain.anchorsPem(), ...trustPem],
      ...(device.keyProvider ? { keyProvider: device.keyProvider } : {}),
    });
    identity = { certificate: scep.certDer, key: scep.key, chain: [] };
  }

  for (const ca of settings.trust ?? []) device.keychain.addAnchor(ca, profileIdentifier);
  device.keychain.addIdentity({ uuid: identityUuid, ...identity, profileIdentifier });

  const capabilities = settings.ServerCapabilities ?? ALL_CAPABILITIES;
  const rights = settings.AccessRights ?? 8191;
  const mdm: MdmEnrollmentState = {
    settings: {
      serverUrl: settings.ServerURL,
      topic: settings.Topic,
      signMessage: settings.SignMessage ?? false,
      accessRights: rights,
      checkOutWhenRemoved: settings.CheckOutWhenRemoved ?? false,
      serverCapabilities: [...capabilities],
      useDevelopmentApns: settings.UseDevelopmentAPNS ?? false,
      identityUuid,
      profileIdentifier,
    },
    pushToken: b64(device.random.bytes(32)),
    pushMagic: device.random.uuid(),
    authenticated: false,
    tokenUpdated: false,
    enrolledAt: new Date().toISOString(),
  };
  if (settings.CheckInURL !== undefined) mdm.settings.checkInUrl = settings.CheckInURL;
  // The UnlockToken exists where a passcode can be cleared remotely, and is only sent when the profile grants it.
  if ((state.platform === "iOS" || state.platform === "iPadOS" || state.platform === "visionOS") && rights & 4) {
    mdm.unlockToken = b64(device.random.bytes(64));
  }

  const profile: InstalledProfile = {
    identifier: profileIdentifier,
    uuid: p.PayloadUUID ?? randomUUID().toUpperCase(),
    version: 1,
    displayName: p.PayloadDisplayName ?? "MDM Profile",
    removalDisallowed: p.PayloadRemovalDisallowed ?? false,
    managed: false,
    isEnrollment: true,
    signerCertificates: (options.signerCertificates ?? []).map(b64),
    installDate: new Date().toISOString(),
    payloads: options.payloads ?? syntheticPayloads(settings, profileIdentifier, identityUuid),
  };
  if (p.PayloadOrganization !== undefined) profile.organization = p.PayloadOrganization;
  if (p.PayloadDescription !== undefined) profile.description = p.PayloadDescription;
  device.profiles.put(profile);
  state.mdm = mdm;

  if (options.checkIn === false) return;
  try {
    await device.mdm.authenticate();
  } catch (e) {
    // Authenticate refused: iOS shows "profile installation failed" and keeps nothing.
    device.profiles.remove(profileIdentifier);
    state.mdm = undefined;
    throw e;
  }
  await device.mdm.tokenUpdate();
  if (options.userChannels !== false && state.platform === "macOS" && capabilities.includes("com.apple.mdm.per-user-connections")) {
    for (const user of state.users.filter((u) => u.onConsole)) await device.mdm.tokenUpdate({ user: user.shortName });
  }
}

/** Payload records for an enrollment made without a profile, so ProfileList looks like a real device's. */
function syntheticPayloads(settings: EnrollmentSettings, profileIdentifier: string, identityUuid: string): InstalledPayload[] {
  const out: InstalledPayload[] = [];
  (settings.trust ?? []).forEach((ca, i) => {
    let name: string | undefined;
    try {
      name = nameAttribute(parseCertificate(certificateDer(ca)).subjectDer);
    } catch {
      name = undefined;
    }
    out.push({ type: "com.apple.security.root", identifier: `${profileIdentifier}.ca${i}`, uuid: randomUUID().toUpperCase(), version: 1, ...(name ? { displayName: name } : {}) });
  });
  const identityType = isReadyIdentity(settings.identity) ? "com.apple.security.pkcs12" : "com.apple.security.scep";
  out.push({ type: identityType, identifier: `${profileIdentifier}.identity`, uuid: identityUuid, version: 1 });
  out.push({ type: "com.apple.mdm", identifier: `${profileIdentifier}.mdm`, uuid: randomUUID().toUpperCase(), version: 1 });
  return out;
}

/**
 * What happens when the enrollment profile is removed: every profile and app the MDM server installed goes,
 * CheckOut is sent when the payload asked for it (a failure does not stop the removal), then the enrollment
 * profile and its keychain items go.
 */
export async function removeEnrollment(device: VirtualDevice): Promise<{ checkedOut: boolean; checkOutError?: Error }> {
  const state = device.state;
  const mdm = state.mdm;
  if (!mdm) throw new EnrollmentError(`device ${state.udid} is not enrolled`);
  for (const profile of state.profiles.filter((p) => p.managed)) device.profiles.remove(profile.identifier);
  state.apps = state.apps.filter((a) => !a.managed);
  let checkedOut = false;
  let checkOutError: Error | undefined;
  if (mdm.settings.checkOutWhenRemoved) {
    try {
      await device.mdm.checkOut();
      checkedOut = true;
    } catch (e) {
      checkOutError = e instanceof Error ? e : new Error(String(e));
    }
  }
  device.profiles.remove(mdm.settings.profileIdentifier);
  for (const u of state.users) {
    delete u.pushToken;
    delete u.pushMagic;
    delete u.userChannelActive;
  }
  delete state.lostMode;
  state.mdm = undefined;
  return checkOutError ? { checkedOut, checkOutError } : { checkedOut };
}
