// The device's configuration profile store: what ProfileList reports and what InstallProfile, RemoveProfile and
// unenrollment change. Payload effects (certificates, identities, MDM settings) are applied by the installer
// (profile-installer.ts); the store only keeps the records and removes what a profile brought with it.
import type { DeviceState, InstalledProfile } from "./device-state.ts";
import type { Keychain } from "./keychain.ts";

export class ProfileStore {
  constructor(
    private readonly state: DeviceState,
    private readonly keychain: Keychain,
  ) {}

  list(): readonly InstalledProfile[] {
    return this.state.profiles;
  }

  find(identifier: string): InstalledProfile | undefined {
    return this.state.profiles.find((p) => p.identifier === identifier);
  }

  /** The profile holding the com.apple.mdm payload, when enrolled. */
  enrollmentProfile(): InstalledProfile | undefined {
    return this.state.profiles.find((p) => p.isEnrollment);
  }

  /** Adds a profile, replacing one with the same PayloadIdentifier (Apple's rule for re-installation). */
  put(profile: InstalledProfile): void {
    const i = this.state.profiles.findIndex((p) => p.identifier === profile.identifier);
    if (i >= 0) this.state.profiles[i] = profile;
    else this.state.profiles.push(profile);
  }

  /** Removes the profile and the keychain items its payloads installed. Returns false when it is not installed. */
  remove(identifier: string): boolean {
    const before = this.state.profiles.length;
    this.state.profiles = this.state.profiles.filter((p) => p.identifier !== identifier);
    if (this.state.profiles.length === before) return false;
    this.keychain.removeForProfile(identifier);
    return true;
  }
}
