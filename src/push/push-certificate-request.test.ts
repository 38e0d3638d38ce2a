// The vendor-signed push certificate request, checked with independent tools: Python's plistlib reads the
// decoded plist, openssl verifies the SHA256WithRSA signature over the CSR with the vendor certificate's key.
import { spawnSync } from "node:child_process";
import { describe, expect, it, beforeAll } from "vitest";
import { createCa } from "../pki/ca.ts";
import { createCsr } from "../pki/csr.ts";
import { issueProfileSigningCertificate, type SigningIdentity } from "../pki/issue.ts";
import { generatePrivateKey } from "../pki/keys.ts";
import { derToPem } from "../pki/pem.ts";
import { openssl } from "../pki/test-support/openssl.ts";
import { buildPushCertificateRequest, PushRequestError } from "./push-certificate-request.ts";

describe("push certificate request (MDM vendor signing)", () => {
  let root: SigningIdentity;
  let vendor: SigningIdentity;
  let csrDer: Uint8Array;
  beforeAll(async () => {
    root = await createCa({ subject: "CN=Test Apple Root CA" });
    vendor = await issueProfileSigningCertificate(root, { subject: "CN=MDM Vendor: Example Inc" });
    csrDer = createCsr({ subject: "CN=Customer push,O=Customer", key: await generatePrivateKey({ type: "rsa", bits: 2048 }) });
  });

  it("encodes the plist Apple's portal takes, with a signature openssl verifies", () => {
    const req = buildPushCertificateRequest({ csrDer, vendorCertDer: vendor.certDer, vendorKey: vendor.key, chainDer: [root.certDer] });
    expect(req.warnings).toEqual([]);
    const py = spawnSync("python3", ["-c", "import sys,base64,plistlib,json; d=plistlib.loads(base64.b64decode(sys.stdin.read())); print(json.dumps(d))"], { input: req.encoded });
    expect(py.status, py.stderr.toString()).toBe(0);
    const d = JSON.parse(py.stdout.toString()) as Record<string, string>;
    expect(Object.keys(d).sort()).toEqual(["PushCertCertificateChain", "PushCertRequestCSR", "PushCertSignature"]);
    expect(Buffer.from(d.PushCertRequestCSR!, "base64").equals(Buffer.from(csrDer))).toBe(true);
    expect(d.PushCertCertificateChain).toBe(derToPem(vendor.certDer) + derToPem(root.certDer));
    for (const line of d.PushCertCertificateChain!.split("\n").filter((l) => l && !l.startsWith("-----"))) expect(line.length).toBeLessThanOrEqual(64);
    const pub = openssl(["x509", "-in", "v.pem", "-pubkey", "-noout"], { files: { "v.pem": derToPem(vendor.certDer) } }).stdout;
    const verify = openssl(["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.bin", "csr.der"], { files: { "pub.pem": pub, "sig.bin": Buffer.from(d.PushCertSignature!, "base64"), "csr.der": csrDer } });
    expect(verify.stdout.toString().trim()).toBe("Verified OK");
  });

  it("warns about a chain that stops short of a root, and refuses a key of another certificate or a damaged CSR", async () => {
    expect(buildPushCertificateRequest({ csrDer, vendorCertDer: vendor.certDer, vendorKey: vendor.key }).warnings.join(" ")).toMatch(/does not reach a root/);
    const stranger = await generatePrivateKey({ type: "rsa", bits: 2048 });
    expect(() => buildPushCertificateRequest({ csrDer, vendorCertDer: vendor.certDer, vendorKey: stranger })).toThrow(PushRequestError);
    const damaged = new Uint8Array(csrDer);
    damaged[damaged.length - 5]! ^= 0xff;
    expect(() => buildPushCertificateRequest({ csrDer: damaged, vendorCertDer: vendor.certDer, vendorKey: vendor.key })).toThrow(/signature does not verify/);
  });
});
