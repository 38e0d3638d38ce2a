// The bench's shortcut for large fleets: device identity certificates issued locally by the bench's own CAs,
// which the server trusts through ORCHARD_EXTRA_CA_FILES (as an organisation trusts its own PKI). Enrolling
// 100,000 devices by SCEP would spend the whole run on RSA private-key operations on both sides; with local
// issuance the devices still do everything else for real: Authenticate, TokenUpdate and every connect are
// signed with Mdm-Signature and verified by the server against the trusted CA.
//
// One P-256 CA (it signs a certificate in ~50 µs, an RSA-2048 CA in ~1.5 ms) issues two kinds of device
// identity: RSA-2048 keys, whose Mdm-Signatures cost the server the same to verify as those of SCEP-enrolled
// devices (Apple devices get RSA-2048 keys from SCEP), and P-256 keys, which let the load generator sign hundreds
// of thousands of messages in seconds (an RSA-2048 signature costs it ~1.5 ms, P-256 ~50 µs). The server
// verifies a P-256 signature more slowly than an RSA one: the report says which figures use which. The CA's
// own key type only matters once per device, when the server first checks its certificate's path.
import type { KeyObject } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createCa } from "../../src/pki/ca.ts";
import { issueDeviceCertificate, type SigningIdentity } from "../../src/pki/issue.ts";
import { generatePrivateKey, spkiDer } from "../../src/pki/keys.ts";
import { derToPem } from "../../src/pki/pem.ts";
import type { RandomSource } from "../../sim/seeded-random.ts";
import { benchDevice, type BenchDevice } from "./bench-device.ts";

export interface LocalAuthority {
  /** PEM file holding the CA certificate, for ORCHARD_EXTRA_CA_FILES. */
  caFile: string;
  issue(kind: "rsa-2048-local" | "p256-local", count: number, rnd: RandomSource, serialBase: number): BenchDevice[];
}

/** Device keys come from small pools: key generation is not what is measured, and a certificate is unique anyway. */
const POOL = { "rsa-2048-local": 8, "p256-local": 64 } as const;

export async function createLocalAuthority(caFile: string): Promise<LocalAuthority> {
  const ca: SigningIdentity = await createCa({ subject: "CN=Orchard Bench Device CA", key: { type: "ec", curve: "P-256" } });
  writeFileSync(caFile, derToPem(ca.certDer));
  const pools: Record<keyof typeof POOL, KeyObject[]> = {
    "rsa-2048-local": await Promise.all(Array.from({ length: POOL["rsa-2048-local"] }, () => generatePrivateKey({ type: "rsa", bits: 2048 }))),
    "p256-local": await Promise.all(Array.from({ length: POOL["p256-local"] }, () => generatePrivateKey({ type: "ec", curve: "P-256" }))),
  };
  // Exported once per pooled key: exporting it per certificate costs more than signing the certificate.
  const spkis = { "rsa-2048-local": pools["rsa-2048-local"].map(spkiDer), "p256-local": pools["p256-local"].map(spkiDer) };
  return {
    caFile,
    issue(kind, count, rnd, serialBase) {
      const out: BenchDevice[] = [];
      for (let i = 0; i < count; i++) {
        const n = serialBase + i;
        const udid = rnd.uuid();
        const k = n % pools[kind].length;
        const key = pools[kind][k]!;
        const certDer = issueDeviceCertificate(ca, { subject: `CN=${udid}`, publicKey: spkis[kind][k]!, serialNumber: serialOf(n) });
        out.push(benchDevice(udid, `BENCH${n.toString(36).toUpperCase().padStart(7, "0")}`, kind, certDer, key));
      }
      return out;
    },
  };
}

function serialOf(n: number): Uint8Array {
  const s = new Uint8Array(16);
  s[0] = 0x40;
  new DataView(s.buffer).setUint32(12, n);
  return s;
}
