// Orchard's own credentials, kept in the database (keys sealed): the CA, the SCEP RA, the profile-signing
// identity and the HTTPS certificate. Created on first start; the TLS certificate is re-issued when it
// nears expiry or no longer names the public host. An operator-supplied TLS certificate
// (ORCHARD_TLS_CERT_FILE/KEY_FILE) takes precedence. On PostgreSQL several replicas may start at once: the
// first to store a credential wins and the others adopt it.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { AppContext } from "../app-context.ts";
import { createCa, importCa } from "../pki/ca.ts";
import { certificateSubjectAltNames, isIssuedBy, parseCertificate, subjectString } from "../pki/certificate.ts";
import { issueProfileSigningCertificate, issueRaCertificate, issueServerCertificate, type SigningIdentity } from "../pki/issue.ts";
import { exportPrivateKeyPem, type KeySpec } from "../pki/keys.ts";
import { derToPem } from "../pki/pem.ts";
import { escapeDnValue } from "../pki/names.ts";
import type { OrchardConfig } from "../config.ts";
import { loadCredential, saveCredential, type CredentialName } from "./credential-store.ts";
import { recordIssuedIfAbsent } from "../store/issued-certificates.ts";

export interface ServerCredentials {
  ca: SigningIdentity;
  caPem: string;
  scepRa: SigningIdentity;
  profileSigning: SigningIdentity;
  tlsCertChainPem: string;
  tlsKeyPem: string;
}

const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;
/** Apple platforms reject TLS server certificates valid for more than 825 days; stay under 398 like public CAs. */
const TLS_VALIDITY_DAYS = 397;

export function caKeySpec(type: OrchardConfig["caKeyType"]): KeySpec {
  switch (type) {
    case "ec-p256":
      return { type: "ec", curve: "P-256" };
    case "rsa-3072":
      return { type: "rsa", bits: 3072 };
    case "rsa-4096":
      return { type: "rsa", bits: 4096 };
    default:
      return { type: "rsa", bits: 2048 };
  }
}

export async function ensureServerCredentials(ctx: Pick<AppContext, "config" | "store" | "secrets" | "logger">): Promise<ServerCredentials> {
  const imported = ctx.config.caCertFile && ctx.config.caKeyFile ? importCa({ certPem: readFileSync(ctx.config.caCertFile, "utf8"), keyPem: readFileSync(ctx.config.caKeyFile, "utf8") }) : undefined;
  const ca = await ensure(
    ctx,
    "ca",
    // An operator-supplied CA replaces a stored one that differs (e.g. the generated CA of a first trial run).
    (stored) => imported !== undefined && !Buffer.from(stored.certDer).equals(Buffer.from(imported.certDer)),
    async () => {
      if (imported) {
        ctx.logger.info({ subject: subjectString(parseCertificate(imported.certDer)) }, "using the imported certificate authority");
        return imported;
      }
      const created = await createCa({ subject: `CN=Orchard MDM CA,O=${escapeDnValue(ctx.config.organization)}`, key: caKeySpec(ctx.config.caKeyType), validityDays: ctx.config.caValidityDays });
      ctx.logger.info("created Orchard's certificate authority");
      return created;
    },
  );
  const caCert = parseCertificate(ca.certDer);
  const stale = (id: SigningIdentity) => {
    const c = parseCertificate(id.certDer);
    return c.notAfter.getTime() - Date.now() < RENEW_BEFORE_MS || !isIssuedBy(c, caCert);
  };
  const scepRa = await ensure(ctx, "scep-ra", stale, () => issueRaCertificate(ca));
  const profileSigning = await ensure(ctx, "profile-signing", stale, () => issueProfileSigningCertificate(ca, { subject: `CN=Orchard Profile Signing,O=${escapeDnValue(ctx.config.organization)}` }));
  const caPem = derToPem(ca.certDer);

  if (ctx.config.tlsCertFile && ctx.config.tlsKeyFile) {
    return { ca, caPem, scepRa, profileSigning, tlsCertChainPem: readFileSync(ctx.config.tlsCertFile, "utf8"), tlsKeyPem: readFileSync(ctx.config.tlsKeyFile, "utf8") };
  }
  const names = tlsNames(ctx.config.publicUrl);
  const tls = await ensure(
    ctx,
    "tls",
    (id) => stale(id) || !coversNames(id, names),
    async () => {
      const issued = await issueServerCertificate(ca, { dnsNames: names.dns, ipAddresses: names.ips, validityDays: TLS_VALIDITY_DAYS });
      ctx.logger.info({ names: [...names.dns, ...names.ips] }, "issued the HTTPS certificate from Orchard's CA");
      return { certDer: issued.certDer, key: issued.key!, chainDer: [ca.certDer] };
    },
  );
  return { ca, caPem, scepRa, profileSigning, tlsCertChainPem: `${derToPem(tls.certDer)}${caPem}`, tlsKeyPem: exportPrivateKeyPem(tls.key) };
}

async function ensure(
  ctx: Pick<AppContext, "config" | "store" | "secrets" | "logger">,
  name: CredentialName,
  needsReplacing: (id: SigningIdentity) => boolean,
  create: () => Promise<SigningIdentity>,
): Promise<SigningIdentity> {
  const existing = await loadCredential(ctx, name);
  if (existing && !needsReplacing(existing)) return existing;
  const created = await create();
  await saveCredential(ctx, name, created, existing === undefined);
  if (name !== "ca") await recordServerCertificate(ctx, name, created.certDer);
  // Another replica may have stored one first: everyone uses what the database holds.
  return (await loadCredential(ctx, name)) ?? created;
}

function tlsNames(publicUrl: string): { dns: string[]; ips: string[] } {
  const host = new URL(publicUrl).hostname.replace(/^\[|\]$/g, "");
  const dns = new Set(["localhost"]);
  const ips = new Set(["127.0.0.1", "::1"]);
  if (isIP(host)) ips.add(host);
  else dns.add(host);
  return { dns: [...dns], ips: [...ips] };
}

function coversNames(id: SigningIdentity, names: { dns: string[]; ips: string[] }): boolean {
  const san = certificateSubjectAltNames(parseCertificate(id.certDer));
  const has = (type: string, value: string) => san.some((n) => n.type === type && "value" in n && n.value === value);
  return names.dns.every((n) => has("dns", n)) && names.ips.every((n) => has("ip", n));
}

const KIND: Record<Exclude<CredentialName, "ca">, "tls" | "scep-ra" | "profile-signing"> = { tls: "tls", "scep-ra": "scep-ra", "profile-signing": "profile-signing" };

/** Orchard's own certificates are recorded with the devices' ones: every certificate the CA issues is on file. */
async function recordServerCertificate(ctx: Pick<AppContext, "store">, name: Exclude<CredentialName, "ca">, der: Uint8Array): Promise<void> {
  const c = parseCertificate(der);
  await recordIssuedIfAbsent(ctx.store, { serial: c.serialNumberHex, kind: KIND[name], subject: subjectString(c), not_before: c.notBefore.getTime(), not_after: c.notAfter.getTime(), fingerprint: c.fingerprint, enrollment_id: null, enrollment_profile_id: null, revoked_at: null, created_at: Date.now() });
}
