// A virtual Apple device: its state (device-state.ts), keychain, profile store and MDM client, and what the
// device itself does after a command (wipe, restart, shut down). Create one, enroll it, then drive its MDM
// client:
//
//   const device = VirtualDevice.create({ platform: "iOS", supervised: true, seed: "bench-1" });
//   await device.enroll({ ServerURL, Topic, SignMessage: true, trust: [caPem], identity: { certificate, key } });
//   const summary = await device.mdm.connect();
import { createDeviceState, type CreateDeviceOptions, type DeviceState } from "./device-state.ts";
import { evolveDevice, installUserApp, removeUserApp, updateOS, type DeviceChange, type EvolveOptions } from "./device-evolution.ts";
import { enrollWithProfile, enrollWithSettings, removeEnrollment, type ProfileEnrollOptions } from "./enroll.ts";
import type { EnrollmentSettings } from "./enrollment-settings.ts";
import { Keychain } from "./keychain.ts";
import { MdmClient } from "./mdm-client.ts";
import { signMdmRequest, type MdmSigner } from "./mdm-signer.ts";
import { sharedTransport, type Transport } from "./mdm-transport.ts";
import { ProfileStore } from "./profile-store.ts";
import { cryptoRandom, seededRandom, type RandomSource } from "./seeded-random.ts";
import type { AfterReport } from "./commands/command-types.ts";
import type { KeyProvider } from "./scep-identity.ts";

export interface VirtualDeviceOptions {
  /** HTTP(S) client; a process-wide keep-alive one by default. */
  transport?: Transport;
  /** Produces the Mdm-Signature header; the sim's CMS signer by default. */
  signer?: MdmSigner;
  /** How many exchanges and processed commands the MDM client keeps for inspection (default 50; 0 for fleets). */
  historySize?: number;
  /** Keys for SCEP enrollment; a fresh RSA key per request by default (fleets may share a pool). */
  keyProvider?: KeyProvider;
}

export class VirtualDevice {
  readonly state: DeviceState;
  readonly keychain: Keychain;
  readonly profiles: ProfileStore;
  readonly mdm: MdmClient;
  readonly transport: Transport;
  readonly signer: MdmSigner;
  readonly keyProvider: KeyProvider | undefined;
  private rng: RandomSource | undefined;

  constructor(state: DeviceState, options: VirtualDeviceOptions = {}) {
    this.state = state;
    this.keychain = new Keychain(state);
    this.profiles = new ProfileStore(state, this.keychain);
    this.transport = options.transport ?? sharedTransport();
    this.signer = options.signer ?? signMdmRequest;
    this.keyProvider = options.keyProvider;
    this.mdm = new MdmClient(this, options.historySize ?? 50);
  }

  static create(options: CreateDeviceOptions, deviceOptions: VirtualDeviceOptions = {}): VirtualDevice {
    return new VirtualDevice(createDeviceState(options), deviceOptions);
  }

  get udid(): string {
    return this.state.udid;
  }

  get enrolled(): boolean {
    return this.state.mdm !== undefined;
  }

  /** Push tokens and the like: reproducible for seeded devices (per erasure), random otherwise. */
  get random(): RandomSource {
    this.rng ??= this.state.seed !== undefined ? seededRandom(`${this.state.seed}:tokens:${this.state.history.erasures}`) : cryptoRandom();
    return this.rng;
  }

  /**
   * Installs the enrollment, from a .mobileconfig (bytes, signed or not) or from EnrollmentSettings, and unless
   * told otherwise checks in like a real device: Authenticate, TokenUpdate, then on macOS the console user's
   * channel. `options.trust` only applies to a profile (CAs for its signature).
   */
  async enroll(source: EnrollmentSettings | Uint8Array, options: ProfileEnrollOptions = {}): Promise<void> {
    if (source instanceof Uint8Array) await enrollWithProfile(this, source, options);
    else await enrollWithSettings(this, source, options);
  }

  /** Removes the enrollment profile as a user would: managed profiles and apps go, CheckOut when configured. */
  async unenroll(): Promise<{ checkedOut: boolean; checkOutError?: Error }> {
    return removeEnrollment(this);
  }

  /** Installs a newer OS: the given release, or the newest the platform's catalog knows. */
  updateOS(version?: string, build?: string): DeviceChange | undefined {
    return updateOS(this.state, version, build);
  }

  /** The user installs an app from the platform's catalog (the given bundle id, or any not yet installed). */
  installUserApp(identifier?: string): DeviceChange | undefined {
    return installUserApp(this.state, this.random, identifier);
  }

  /** The user deletes one of their own apps. */
  removeUserApp(identifier?: string): DeviceChange | undefined {
    return removeUserApp(this.state, this.random, identifier);
  }

  /** One period of the device's life (app churn, maybe an OS update), for inventory history. */
  evolve(options?: EvolveOptions): DeviceChange[] {
    return evolveDevice(this.state, this.random, options);
  }

  /** The user locks the screen; commands needing data protection then answer NotNow. */
  lock(): void {
    this.state.locked = true;
  }

  unlock(): void {
    this.state.locked = false;
  }

  /** What the device does after reporting a command that ends its session. */
  afterCommand(action: AfterReport): void {
    switch (action) {
      case "erase":
        this.erase();
        return;
      case "restart":
        this.state.history.restarts++;
        this.state.locked = this.state.passcodePresent;
        return;
      case "shutdown":
        this.state.history.shutdowns++;
        this.state.locked = this.state.passcodePresent;
        return;
    }
  }

  /** Factory reset: the hardware stays, everything else (enrollment, profiles, keychain, managed apps) goes. */
  erase(): void {
    const s = this.state;
    s.mdm = undefined;
    s.profiles = [];
    this.keychain.clear();
    s.apps = s.apps.filter((a) => !a.managed);
    for (const u of s.users) {
      delete u.pushToken;
      delete u.pushMagic;
      delete u.userChannelActive;
    }
    delete s.bootstrapToken;
    delete s.lostMode;
    s.passcodePresent = false;
    s.locked = false;
    s.settings = {};
    s.history.erasures++;
    this.rng = undefined;
  }

  toJSON(): DeviceState {
    return this.state;
  }
}
