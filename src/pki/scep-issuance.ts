// Orchard's SCEP policy on top of the protocol layer (scep-server.ts): which challenges and renewals are
// accepted, what certificate is issued, and the record kept of it. A PKCSReq needs a live enrollment
// profile's challenge or an unused one-time challenge; a RenewalReq must be signed by an unrevoked identity
// certificate Orchard issued. The issued certificate remembers the profile and, when known, the device it
// is for, so that a renewed certificate can replace its predecessor's binding.
import type { Logger } from "pino";
import type { Executor, Store } from "../store/db.ts";
import { deviceIdBoundTo } from "../store/enrollments.ts";
import { issuedByFingerprint, recordIssued } from "../store/issued-certificates.ts";
import { handleScepRequest, type IssueResult, type ScepReply } from "./scep-server.ts";
import { issueDeviceCertificate, type SigningIdentity } from "./issue.ts";
import { parseCertificate } from "./certificate.ts";

export interface ScepIssuanceDeps {
  store: Store;
  ca: () => SigningIdentity;
  ra: () => SigningIdentity;
  allowLegacyDes: boolean;
  identityValidityDays: number;
  /** Decides a challenge without spending it (an early refusal, before any work). */
  checkChallenge: (challenge: string) => Promise<ChallengeDecision>;
  /** Decides a challenge and spends a one-time one, in `tx`: the transaction that records the certificate. */
  redeemChallenge: (challenge: string, tx: Executor) => Promise<ChallengeDecision>;
  logger: Logger;
}

export type ChallengeDecision = { ok: true; profileId: string | null; enrollmentId: string | null } | { ok: false; reason: string };

export class ScepIssuance {
  constructor(private readonly deps: ScepIssuanceDeps) {}

  async pkiOperation(message: Uint8Array): Promise<ScepReply> {
    const { store } = this.deps;
    const ca = this.deps.ca();
    // Per request: what the challenge or the renewed certificate says the new certificate belongs to.
    let forEnrollment: string | null = null;
    let forProfile: string | null = null;
    // The PKCSReq's challenge, spent when (and only when) its certificate is recorded.
    let challengeToRedeem: string | undefined;
    return handleScepRequest(message, {
      ra: this.deps.ra(),
      ca: { certDer: ca.certDer, ...(ca.chainDer ? { chainDer: ca.chainDer } : {}) },
      allowLegacyDes: this.deps.allowLegacyDes,
      logger: this.deps.logger,
      checkChallenge: async (challenge) => {
        const r = await this.deps.checkChallenge(challenge ?? "");
        if (!r.ok) return r;
        challengeToRedeem = challenge ?? "";
        forEnrollment = r.enrollmentId;
        forProfile = r.profileId;
        return r.profileId ? { ok: true, profileId: r.profileId } : { ok: true };
      },
      checkRenewal: async (cert) => {
        const rec = await issuedByFingerprint(store, cert.fingerprint);
        if (!rec || rec.kind !== "identity") return { ok: false, reason: "the signing certificate is not an identity Orchard issued" };
        if (rec.revoked_at !== null) return { ok: false, reason: "the signing certificate has been revoked" };
        forEnrollment = rec.enrollment_id ?? (await deviceIdBoundTo(store, cert.fingerprint)) ?? null;
        forProfile = rec.enrollment_profile_id;
        return rec.enrollment_profile_id ? { ok: true, profileId: rec.enrollment_profile_id } : { ok: true };
      },
      // Spending the challenge and recording the certificate are one transaction: a failure between them
      // neither burns a one-time challenge without a certificate nor leaves a certificate off the record.
      issue: (req) =>
        store.transaction(async (tx): Promise<IssueResult> => {
          if (challengeToRedeem !== undefined) {
            // Checked before, but another request with the same one-time challenge may have spent it since.
            const r = await this.deps.redeemChallenge(challengeToRedeem, tx);
            if (!r.ok) return { status: "FAILURE", failInfo: "badRequest", reason: `challenge refused: ${r.reason}` };
          }
          const der = issueDeviceCertificate(ca, { subject: req.csr.subjectDer, publicKey: req.csr.spkiDer, validityDays: this.deps.identityValidityDays });
          const c = parseCertificate(der);
          await recordIssued(tx, {
            serial: c.serialNumberHex,
            kind: "identity",
            subject: req.csr.subject,
            not_before: c.notBefore.getTime(),
            not_after: c.notAfter.getTime(),
            fingerprint: c.fingerprint,
            enrollment_id: forEnrollment,
            enrollment_profile_id: forProfile,
            revoked_at: null,
            created_at: Date.now(),
          });
          return der;
        }),
    });
  }
}
