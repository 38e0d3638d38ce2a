import { constants, createPrivateKey, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { rsaPkcs1v15Decrypt, RsaDecryptError } from "./rsa-pkcs1-decrypt.ts";
import { KEY_2048, KEY_2049, VECTORS_2048, VECTORS_2049 } from "./test-support/implicit-rejection-vectors.ts";
import { opensslOk } from "./test-support/openssl.ts";

describe("rsaPkcs1v15Decrypt against the CFRG implicit-rejection vectors", () => {
  const cases = [
    ...VECTORS_2048.map((v) => ({ ...v, key: KEY_2048, bits: 2048 })),
    ...VECTORS_2049.map((v) => ({ ...v, key: KEY_2049, bits: 2049 })),
  ];
  it.each(cases)("$bits-bit key: $title", ({ key, ciphertext, expected }) => {
    const k = createPrivateKey(key);
    expect(rsaPkcs1v15Decrypt(k, Buffer.from(ciphertext, "hex")).toString("hex")).toBe(expected);
  });

  it("puts back leading zero octets an encoder dropped from the ciphertext", () => {
    const v = VECTORS_2048.find((x) => x.ciphertext.startsWith("00"))!;
    const k = createPrivateKey(KEY_2048);
    expect(rsaPkcs1v15Decrypt(k, Buffer.from(v.ciphertext.slice(2), "hex")).toString("hex")).toBe(v.expected);
  });
});

describe("rsaPkcs1v15Decrypt against openssl", () => {
  let key: KeyObject;
  let other: KeyObject;
  let pubPem: string;
  beforeAll(() => {
    key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    pubPem = key.export({ format: "pem", type: "pkcs8" }).toString();
  });

  const encryptWithOpenssl = (plain: Uint8Array, mode: "pkcs1" | "none" = "pkcs1"): Buffer =>
    opensslOk(
      ["pkeyutl", "-encrypt", "-inkey", "key.pem", "-pkeyopt", `rsa_padding_mode:${mode}`, "-in", "in.bin", "-out", "out.bin"],
      { files: { "key.pem": pubPem, "in.bin": plain }, outputs: ["out.bin"] },
    ).outputs["out.bin"]!;

  it.each([0, 1, 16, 24, 32, 245])("recovers a %i-octet message openssl encrypted", (len) => {
    const plain = randomBytes(len);
    const ct = encryptWithOpenssl(plain);
    expect(ct.length).toBe(256);
    expect(rsaPkcs1v15Decrypt(key, ct).equals(plain)).toBe(true);
  });

  it("agrees with node's own public-key encryption (the SCEP client path)", () => {
    const plain = randomBytes(32);
    const ct = publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, plain);
    expect(rsaPkcs1v15Decrypt(key, ct).equals(plain)).toBe(true);
  });

  it("answers bad padding with a deterministic synthetic message instead of an error", () => {
    // EM with block type 01 (signature padding) instead of 02, encrypted raw.
    const em = Buffer.alloc(256, 0xaa);
    em[0] = 0;
    em[1] = 1;
    em[246] = 0;
    const secret = randomBytes(9);
    secret.copy(em, 247);
    const ct = encryptWithOpenssl(em, "none");
    // openssl's raw private decrypt confirms the padding we built is what the key recovers.
    expect(privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, ct).equals(em)).toBe(true);
    const a = rsaPkcs1v15Decrypt(key, ct);
    const b = rsaPkcs1v15Decrypt(key, ct);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(secret)).toBe(false);
    expect(a.length).toBeLessThanOrEqual(256 - 11);
  });

  it("rejects a padding string shorter than 8 octets, implicitly", () => {
    const em = Buffer.alloc(256, 0x11);
    em[0] = 0;
    em[1] = 2;
    em[8] = 0; // separator after only 6 padding octets
    const ct = encryptWithOpenssl(em, "none");
    const out = rsaPkcs1v15Decrypt(key, ct);
    expect(out.equals(em.subarray(9))).toBe(false);
    expect(rsaPkcs1v15Decrypt(key, ct).equals(out)).toBe(true);
  });

  it("gives a synthetic message, not the plaintext and not an error, for the wrong key", () => {
    const plain = randomBytes(32);
    // A ciphertext for `key` is at or above the other key's modulus about as often as that modulus is the smaller
    // one; such input is publicly invalid and refused (tested below). Padding is random, so encrypt again until the
    // ciphertext is one the other key can decrypt.
    const otherModulus = Buffer.from(other.export({ format: "jwk" }).n!, "base64url");
    let ct = encryptWithOpenssl(plain);
    for (let i = 0; i < 40 && Buffer.compare(ct, otherModulus) >= 0; i++) ct = encryptWithOpenssl(plain);
    expect(Buffer.compare(ct, otherModulus)).toBe(-1);
    const out = rsaPkcs1v15Decrypt(other, ct);
    expect(out.equals(plain)).toBe(false);
    expect(rsaPkcs1v15Decrypt(other, ct).equals(out)).toBe(true);
  });

  it("different bad ciphertexts give unrelated synthetic messages", () => {
    const outs = new Set<string>();
    for (let i = 0; i < 8; i++) {
      // Random ciphertexts below the modulus (a leading zero octet guarantees it).
      const ct = randomBytes(256);
      ct[0] = 0;
      outs.add(rsaPkcs1v15Decrypt(key, ct).toString("hex"));
    }
    expect(outs.size).toBe(8);
  });

  it("throws only for publicly invalid input", () => {
    expect(() => rsaPkcs1v15Decrypt(key, new Uint8Array(257))).toThrow(RsaDecryptError);
    expect(() => rsaPkcs1v15Decrypt(key, new Uint8Array(256).fill(0xff))).toThrow(/not smaller than the RSA modulus/);
    const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    expect(() => rsaPkcs1v15Decrypt(ec, new Uint8Array(32))).toThrow(RsaDecryptError);
  });

  it("does not need the process-wide --security-revert (PKCS#1 private decryption stays refused)", () => {
    const ct = publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, randomBytes(16));
    const major = Number(process.versions.node.split(".")[0]);
    if (major === 20) {
      expect(() => privateDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, ct)).toThrow();
    }
    expect(rsaPkcs1v15Decrypt(key, ct).length).toBe(16);
  });
});
