// Persists Orchard's own signing identities (CA, SCEP RA, TLS, profile signing) in pki_credentials,
// private keys sealed by the secrets envelope.
import { createPrivateKey } from "node:crypto";
import type { AppContext } from "../app-context.ts";
import { parseCertificate } from "../pki/certificate.ts";
import type { SigningIdentity } from "../pki/issue.ts";
import { derToPem, pemBlocks } from "../pki/pem.ts";
import { pkiCredential, savePkiCredential } from "../store/pki-credentials.ts";

export type CredentialName = "ca" | "scep-ra" | "tls" | "profile-signing";

const purpose = (name: CredentialName) => `pki-credential:${name}`;

export async function loadCredential(ctx: Pick<AppContext, "store" | "secrets">, name: CredentialName): Promise<SigningIdentity | undefined> {
  const row = await pkiCredential(ctx.store, name);
  if (!row) return undefined;
  const keyDer = ctx.secrets.open(row.key_sealed, purpose(name));
  const certDer = pemBlocks(row.cert_pem)[0]?.der;
  if (!certDer) throw new Error(`stored ${name} certificate is unreadable`);
  return {
    certDer,
    key: createPrivateKey({ key: keyDer, format: "der", type: "pkcs8" }),
    chainDer: pemBlocks(row.chain_pem).map((b) => b.der),
  };
}

/** Stores a credential. With onlyIfAbsent, an existing row (another replica's) is kept instead. */
export async function saveCredential(ctx: Pick<AppContext, "store" | "secrets">, name: CredentialName, identity: SigningIdentity, onlyIfAbsent = false): Promise<void> {
  const keyDer = identity.key.export({ format: "der", type: "pkcs8" });
  const row = {
    name,
    cert_pem: derToPem(identity.certDer),
    chain_pem: (identity.chainDer ?? []).map((d) => derToPem(d)).join(""),
    key_sealed: ctx.secrets.seal(keyDer, purpose(name)),
    not_after: parseCertificate(identity.certDer).notAfter.getTime(),
    created_at: Date.now(),
  };
  await savePkiCredential(ctx.store, row, onlyIfAbsent);
}
