// The device's keychain: identities (certificate + private key) and the certificates it trusts. State lives in
// DeviceState.keychain; this class adds parsing with a cache, so a device signing every request does not
// re-import its key each time.
import type { KeyObject } from "node:crypto";
import { importPrivateKey, exportPrivateKeyPem } from "../src/pki/keys.ts";
import { certificateDer, derToPem } from "../src/pki/pem.ts";
import type { SigningIdentity } from "../src/pki/issue.ts";
import { resolveSharedKey, sharedKeyReference } from "./shared-keys.ts";
import type { DeviceState, KeychainIdentity, TrustAnchor } from "./device-state.ts";

export interface IdentityInput {
  uuid: string;
  /** DER bytes or PEM text. */
  certificate: Uint8Array | string;
  key: KeyObject | string;
  chain?: (Uint8Array | string)[];
  profileIdentifier?: string;
}

export class Keychain {
  private readonly keys = new Map<string, KeyObject>();
  private readonly signing = new Map<string, SigningIdentity>();
  private pemCache: { key: string; pem: string[] } | undefined;

  constructor(private readonly state: DeviceState) {}

  get identities(): readonly KeychainIdentity[] {
    return this.state.keychain.identities;
  }

  /** Adds (or replaces, same uuid) an identity. */
  addIdentity(input: IdentityInput): KeychainIdentity {
    const key = typeof input.key === "string" ? (resolveSharedKey(input.key) ?? importPrivateKey(input.key)) : input.key;
    const identity: KeychainIdentity = {
      uuid: input.uuid,
      certificate: b64(certificateDer(input.certificate)),
      chain: (input.chain ?? []).map((c) => b64(certificateDer(c))),
      key: typeof input.key === "string" ? input.key : (sharedKeyReference(key) ?? exportPrivateKeyPem(key)),
    };
    if (input.profileIdentifier !== undefined) identity.profileIdentifier = input.profileIdentifier;
    this.state.keychain.identities = this.state.keychain.identities.filter((i) => i.uuid !== input.uuid);
    this.state.keychain.identities.push(identity);
    this.keys.set(input.uuid, key);
    this.signing.delete(input.uuid);
    return identity;
  }

  identity(uuid: string): KeychainIdentity | undefined {
    return this.state.keychain.identities.find((i) => i.uuid === uuid);
  }

  /** The identity as pki's SigningIdentity (DER certificate, KeyObject). */
  signingIdentity(uuid: string): SigningIdentity | undefined {
    const cached = this.signing.get(uuid);
    if (cached) return cached;
    const identity = this.identity(uuid);
    if (!identity) return undefined;
    let key = this.keys.get(uuid);
    if (!key) {
      key = resolveSharedKey(identity.key) ?? importPrivateKey(identity.key);
      this.keys.set(uuid, key);
    }
    const signing: SigningIdentity = { certDer: fromB64(identity.certificate), key, chainDer: identity.chain.map(fromB64) };
    this.signing.set(uuid, signing);
    return signing;
  }

  /** The identity as node:tls wants a client certificate: PEM certificate (with its chain) and key. */
  tlsClientCertificate(uuid: string): { cert: string; key: string } | undefined {
    const identity = this.identity(uuid);
    if (!identity) return undefined;
    const cert = [identity.certificate, ...identity.chain].map((c) => derToPem(fromB64(c))).join("");
    const shared = resolveSharedKey(identity.key);
    return { cert, key: shared ? exportPrivateKeyPem(shared) : identity.key };
  }

  /** Adds a certificate: trusted (a root payload) or, with `intermediate`, only kept and listed. */
  addAnchor(certificate: Uint8Array | string, profileIdentifier?: string, intermediate = false): void {
    const der = b64(certificateDer(certificate));
    if (this.state.keychain.anchors.some((a) => a.certificate === der && a.profileIdentifier === profileIdentifier)) return;
    const anchor: TrustAnchor = { certificate: der };
    if (profileIdentifier !== undefined) anchor.profileIdentifier = profileIdentifier;
    if (intermediate) anchor.intermediate = true;
    this.state.keychain.anchors.push(anchor);
  }

  /** Trusted certificates as DER. */
  anchorsDer(): Uint8Array[] {
    return this.state.keychain.anchors.filter((a) => !a.intermediate).map((a) => fromB64(a.certificate));
  }

  /** Trusted certificates as PEM, for node:https `ca` (cached: every request needs them). */
  anchorsPem(): string[] {
    const key = this.state.keychain.anchors.map((a) => (a.intermediate ? "" : a.certificate)).join(",");
    if (this.pemCache?.key !== key) {
      this.pemCache = { key, pem: this.anchorsDer().map((d) => derToPem(d)) };
    }
    return this.pemCache.pem;
  }

  /** Everything a profile installed goes with it. */
  removeForProfile(profileIdentifier: string): void {
    const gone = this.state.keychain.identities.filter((i) => i.profileIdentifier === profileIdentifier);
    for (const i of gone) {
      this.keys.delete(i.uuid);
      this.signing.delete(i.uuid);
    }
    this.state.keychain.identities = this.state.keychain.identities.filter((i) => i.profileIdentifier !== profileIdentifier);
    this.state.keychain.anchors = this.state.keychain.anchors.filter((a) => a.profileIdentifier !== profileIdentifier);
  }

  clear(): void {
    this.keys.clear();
    this.signing.clear();
    this.state.keychain = { identities: [], anchors: [] };
  }
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

export function fromB64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}
