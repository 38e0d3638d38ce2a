// Mdm-Signature verifications per second, in process, with Orchard's verifier (src/pki/mdm-signature.ts):
// "first sight" is a certificate the verifier has not seen (parse, path to the CA, usage checks, then the
// signature); "cached" is a certificate it remembers (one digest and one signature check). Measured for
// RSA-2048 device keys under an RSA-2048 CA (what SCEP gives an Apple device from Orchard's default CA) and
// for P-256 device keys under a P-256 CA (the bench's shortcut fleet).
import { createCa } from "../../src/pki/ca.ts";
import { issueDeviceCertificate } from "../../src/pki/issue.ts";
import { generatePrivateKey, type KeySpec } from "../../src/pki/keys.ts";
import { createMdmSignatureVerifier } from "../../src/pki/mdm-signature.ts";
import { createMdmBodySigner } from "../../src/pki/mdm-signature-sign.ts";
import { buildPlist } from "../../src/wire/plist.ts";
import { seededRandom } from "../../sim/seeded-random.ts";
import { figure, round, type Figure } from "../lib/figures.ts";
import { timeLoop } from "../lib/cpu-timer.ts";

export interface MdmSignatureOptions {
  /** Distinct certificates verified once each (first sight). */
  certificates: number;
  /** Cached verifications (cycling over the same certificates). */
  cachedVerifications: number;
}

const KINDS: Array<{ name: string; spec: KeySpec }> = [
  { name: "RSA-2048", spec: { type: "rsa", bits: 2048 } },
  { name: "ECDSA P-256", spec: { type: "ec", curve: "P-256" } },
];
const WARM_UP = 50;
const KEY_POOL = 4;

export async function mdmSignatureBench(opts: MdmSignatureOptions): Promise<{ figures: Figure[]; raw: Record<string, unknown> }> {
  const figures: Figure[] = [];
  const raw: Record<string, unknown> = {};
  for (const kind of KINDS) {
    const rnd = seededRandom(`mdm-signature/${kind.name}`);
    const ca = await createCa({ subject: `CN=Bench ${kind.name} CA`, key: kind.spec });
    const keys = await Promise.all(Array.from({ length: KEY_POOL }, () => generatePrivateKey(kind.spec)));
    const n = WARM_UP + opts.certificates;
    const messages = Array.from({ length: n }, (_, i) => {
      const udid = rnd.uuid();
      const key = keys[i % KEY_POOL]!;
      const certDer = issueDeviceCertificate(ca, { subject: `CN=${udid}`, publicKey: key, serialNumber: serial(i) });
      const body = Buffer.from(buildPlist({ UDID: udid, Status: "Idle" }));
      return { body, header: createMdmBodySigner(certDer, key, { digest: "sha256" })(body) };
    });
    const verifier = createMdmSignatureVerifier({ trustedCaDers: [ca.certDer], cacheSize: n * 2 });
    const check = (i: number) => {
      const m = messages[i]!;
      const r = verifier.verify(m.header, m.body);
      if (!r.ok) throw new Error(`bench signature refused (${kind.name}): ${r.reason} ${r.detail}`);
    };
    for (let i = 0; i < WARM_UP; i++) check(i);
    for (let i = 0; i < WARM_UP; i++) check(i);
    const first = await timeLoop(opts.certificates, (i) => check(WARM_UP + i));
    const cached = await timeLoop(opts.cachedVerifications, (i) => check(WARM_UP + (i % opts.certificates)));
    const stats = verifier.stats();
    if (stats.chainChecks !== n) throw new Error(`expected ${n} path checks, the verifier did ${stats.chainChecks}`);
    raw[kind.name] = { firstSight: first, cached, stats };
    const key = kind.name.startsWith("RSA") ? "rsa2048" : "p256";
    const note = `in process, one core; ${opts.certificates} certificates, SHA-256 signed attributes`;
    figures.push(
      figure({ id: `mdmSignature.${key}.firstSight.perSecond`, group: "Mdm-Signature (in process)", label: `${kind.name}, first sight: verifications/s`, value: round(first.perCpuSecond), unit: "/s", note }),
      figure({ id: `mdmSignature.${key}.firstSight.cpuUs`, group: "Mdm-Signature (in process)", label: `${kind.name}, first sight: CPU per verification`, value: round(first.cpuUsPerOp), unit: "µs", note: "DESIGN.md estimate ~400 µs" }),
      figure({ id: `mdmSignature.${key}.cached.perSecond`, group: "Mdm-Signature (in process)", label: `${kind.name}, cached: verifications/s`, value: round(cached.perCpuSecond), unit: "/s", note }),
      figure({ id: `mdmSignature.${key}.cached.cpuUs`, group: "Mdm-Signature (in process)", label: `${kind.name}, cached: CPU per verification`, value: round(cached.cpuUsPerOp), unit: "µs", note: "DESIGN.md estimate ~50 µs (RSA)" }),
    );
  }
  return { figures, raw };
}

/** A deterministic positive 16-octet serial: the bench's certificates are reproducible in all but keys and dates. */
export function serial(i: number): Uint8Array {
  const s = new Uint8Array(16);
  s[0] = 0x40;
  new DataView(s.buffer).setUint32(12, i);
  return s;
}
