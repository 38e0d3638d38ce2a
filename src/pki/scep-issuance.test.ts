// ScepIssuance's unit of work: a one-time challenge is spent in the same transaction that records the
// certificate it was redeemed for, so a failure to record leaves the challenge usable (and nothing on file).
import { sql } from "kysely";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../../test/databases.ts";
import { buildTestContext, type TestContext } from "../../test/context.ts";
import { PROFILE_DEFAULTS } from "../manage/enrollment-profiles/enrollment-profiles.ts";
import { createCsr } from "./csr.ts";
import { selfSignedCertificate } from "./issue.ts";
import { generatePrivateKey } from "./keys.ts";
import { buildPkiRequest } from "./scep-message.ts";

describeEachDatabase("SCEP issuance transaction", (database) => {
  let t: TestContext;
  beforeAll(async () => {
    t = await buildTestContext(database);
  });
  afterAll(async () => t.cleanup());

  async function pkcsReq(challenge: string, subject: string): Promise<Uint8Array> {
    const key = await generatePrivateKey({ type: "rsa", bits: 2048 });
    const csr = createCsr({ subject, key, challengePassword: challenge });
    const signer = { certDer: selfSignedCertificate(key, subject), key };
    return buildPkiRequest({ messageType: "PKCSReq", transactionId: subject.replace(/\W/g, ""), messageData: csr, recipientCertDer: t.ctx.credentials.scepRa.certDer, signer }).der;
  }

  // A real database refusal of the certificate record (a trigger), not a stubbed store function.
  async function refuseCertificateRecords(on: boolean): Promise<void> {
    const db = t.ctx.store.db;
    if (t.ctx.store.dialect === "sqlite") {
      if (on) await sql`CREATE TRIGGER refuse_issued BEFORE INSERT ON issued_certificates BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`.execute(db);
      else await sql`DROP TRIGGER refuse_issued`.execute(db);
    } else if (on) {
      await sql`CREATE FUNCTION refuse_issued() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`.execute(db);
      await sql`CREATE TRIGGER refuse_issued BEFORE INSERT ON issued_certificates FOR EACH ROW EXECUTE FUNCTION refuse_issued()`.execute(db);
    } else {
      await sql`DROP TRIGGER refuse_issued ON issued_certificates`.execute(db);
      await sql`DROP FUNCTION refuse_issued()`.execute(db);
    }
  }

  it("a certificate that cannot be recorded does not spend the one-time challenge; the retry succeeds, a replay after it is refused", async () => {
    const p = await t.ctx.enrollmentProfiles.create({ ...PROFILE_DEFAULTS, name: "atomic" }, "system:test");
    const { challenge } = await t.ctx.enrollmentProfiles.createChallenge({ profileId: p.id }, "system:test");

    await refuseCertificateRecords(true);
    try {
      await expect(t.ctx.scep.pkiOperation(await pkcsReq(challenge, "CN=first try"))).rejects.toThrow(/refused by the test/);
    } finally {
      await refuseCertificateRecords(false);
    }
    expect(await t.ctx.enrollmentProfiles.checkChallenge(challenge)).toEqual({ ok: true, profileId: p.id, enrollmentId: null });

    const retry = await t.ctx.scep.pkiOperation(await pkcsReq(challenge, "CN=second try"));
    expect(retry.outcome).toMatchObject({ status: "SUCCESS", profileId: p.id });
    const replay = await t.ctx.scep.pkiOperation(await pkcsReq(challenge, "CN=replay"));
    expect(replay.outcome).toMatchObject({ status: "FAILURE", failInfo: "badRequest", reason: "challenge refused: the challenge has already been used" });
  });

  it("two requests racing with one one-time challenge: one certificate, one refusal", async () => {
    const { challenge } = await t.ctx.enrollmentProfiles.createChallenge({}, "system:test");
    const [a, b] = await Promise.all([pkcsReq(challenge, "CN=racer a"), pkcsReq(challenge, "CN=racer b")]);
    const outcomes = (await Promise.all([t.ctx.scep.pkiOperation(a!), t.ctx.scep.pkiOperation(b!)])).map((r) => r.outcome.status).sort();
    expect(outcomes).toEqual(["FAILURE", "SUCCESS"]);
  });
});
