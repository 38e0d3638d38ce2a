// Queries for Orchard's own signing identities (pki_credentials: CA, SCEP RA, TLS, profile signing). The
// private key arrives and leaves sealed; sealing is the caller's (the store never sees a key in clear).
import type { Selectable } from "kysely";
import type { Executor } from "./db.ts";
import type { PkiCredentialsTable } from "./schema.ts";

export type PkiCredentialRow = Selectable<PkiCredentialsTable>;

export async function pkiCredential(store: Executor, name: string): Promise<PkiCredentialRow | undefined> {
  return store.db.selectFrom("pki_credentials").selectAll().where("name", "=", name).executeTakeFirst();
}

/**
 * Stores a credential, replacing the one of that name; with onlyIfAbsent an existing row is kept instead
 * (another replica made it first, and every replica must use the same one).
 */
export async function savePkiCredential(store: Executor, row: PkiCredentialRow, onlyIfAbsent: boolean): Promise<void> {
  await store.db
    .insertInto("pki_credentials")
    .values(row)
    .onConflict((oc) =>
      onlyIfAbsent ? oc.column("name").doNothing() : oc.column("name").doUpdateSet({ cert_pem: row.cert_pem, chain_pem: row.chain_pem, key_sealed: row.key_sealed, not_after: row.not_after, created_at: row.created_at }),
    )
    .execute();
}
