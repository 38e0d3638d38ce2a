// SCEP issuances per second, in process: Orchard's ScepIssuance (src/pki/scep-issuance.ts) over a real
// SQLite store, handed PKCSReq messages built beforehand the way a device builds them (RSA-2048 key, CSR with
// the challenge, self-signed signer, AES-256 envelope to the RA). What is timed is the server's work: open the
// envelope with the RA key, check the CSR and challenge, issue and record the certificate, build and sign the
// CertRep. The over-HTTP figure is the enrollment rate (see server-suite.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { createCa } from "../../src/pki/ca.ts";
import { createCsr } from "../../src/pki/csr.ts";
import { issueRaCertificate, selfSignedCertificate } from "../../src/pki/issue.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import { ScepIssuance, type ChallengeDecision } from "../../src/pki/scep-issuance.ts";
import { buildPkiRequest } from "../../src/pki/scep-message.ts";
import { openStore } from "../../src/store/db.ts";
import { migrateAll as migrate } from "../../src/server/modules.ts";
import { seededRandom } from "../../sim/seeded-random.ts";
import { timeLoop } from "../lib/cpu-timer.ts";
import { figure, round, type Figure } from "../lib/figures.ts";

const CHALLENGE = "bench-challenge";
const KEY_POOL = 4;
const WARM_UP = 10;

export async function scepIssuanceBench(opts: { issuances: number }): Promise<{ figures: Figure[]; raw: Record<string, unknown> }> {
  const dir = mkdtempSync(join(tmpdir(), "orchard-bench-scep-"));
  const store = await openStore(`sqlite:${join(dir, "scep.db")}`);
  try {
    await migrate(store);
    const ca = await createCa({ subject: "CN=Bench Orchard CA" });
    const ra = await issueRaCertificate(ca);
    const keys = await Promise.all(Array.from({ length: KEY_POOL }, () => generatePrivateKey({ type: "rsa", bits: 2048 })));
    const rnd = seededRandom("scep-issuance");
    const n = WARM_UP + opts.issuances;
    const requests: Uint8Array[] = [];
    const build = await timeLoop(n, (i) => {
      const key = keys[i % KEY_POOL]!;
      const subject = `CN=${rnd.uuid()}`;
      const csr = createCsr({ subject, key, challengePassword: CHALLENGE });
      const signer = { certDer: selfSignedCertificate(key, subject), key };
      requests.push(buildPkiRequest({ messageType: "PKCSReq", transactionId: Buffer.from(rnd.bytes(20)).toString("hex"), messageData: csr, recipientCertDer: ra.certDer, signer, encryption: "aes-256-cbc", digest: "sha256" }).der);
    });
    const decide = (c: string): ChallengeDecision => (c === CHALLENGE ? { ok: true, profileId: null, enrollmentId: null } : { ok: false, reason: "wrong challenge" });
    const scep = new ScepIssuance({
      store,
      ca: () => ca,
      ra: () => ra,
      allowLegacyDes: false,
      identityValidityDays: 365,
      checkChallenge: async (c) => decide(c),
      redeemChallenge: async (c) => decide(c),
      logger: pino({ level: "silent" }),
    });
    const issue = async (i: number) => {
      const r = await scep.pkiOperation(requests[i]!);
      if (r.outcome.status !== "SUCCESS") throw new Error(`SCEP issuance failed: ${r.outcome.failInfo ?? ""} ${r.outcome.reason ?? ""}`);
    };
    for (let i = 0; i < WARM_UP; i++) await issue(i);
    const t = await timeLoop(opts.issuances, (i) => issue(WARM_UP + i));
    const note = `in process, one core, SQLite record; RSA-2048 device keys, RSA-2048 CA and RA, AES-256, SHA-256; ${opts.issuances} requests`;
    return {
      figures: [
        figure({ id: "scep.inProcess.perSecond", group: "SCEP (in process)", label: "SCEP issuances/s (server side)", value: round(t.perCpuSecond), unit: "/s", note }),
        figure({ id: "scep.inProcess.cpuMs", group: "SCEP (in process)", label: "server CPU per issuance", value: round(t.cpuUsPerOp / 1000), unit: "ms", note: "three RSA private-key operations: RA decrypt, CA sign, RA sign" }),
        figure({ id: "scep.client.cpuMs", group: "SCEP (in process)", label: "client CPU to build one PKCSReq", value: round(build.cpuUsPerOp / 1000), unit: "ms", note: "CSR + self-signed signer + envelope + SignedData (pooled keys: key generation excluded)" }),
      ],
      raw: { server: t, clientBuild: build },
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
