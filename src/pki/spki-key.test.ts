import { generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { importSpki, spkiToJwk } from "./spki-key.ts";

const spkiOf = (k: KeyObject) => new Uint8Array(k.export({ format: "der", type: "spki" }));

describe("importSpki", () => {
  const cases: Array<[string, () => { publicKey: KeyObject; privateKey: KeyObject }, "jwk" | "decoder"]> = [
    ["RSA-2048", () => generateKeyPairSync("rsa", { modulusLength: 2048 }), "jwk"],
    ["RSA-3072, e = 3", () => generateKeyPairSync("rsa", { modulusLength: 3072, publicExponent: 3 }), "jwk"],
    ["P-256", () => generateKeyPairSync("ec", { namedCurve: "P-256" }), "jwk"],
    ["P-384", () => generateKeyPairSync("ec", { namedCurve: "P-384" }), "jwk"],
    ["P-521", () => generateKeyPairSync("ec", { namedCurve: "P-521" }), "jwk"],
    ["secp256k1 (not a JOSE curve)", () => generateKeyPairSync("ec", { namedCurve: "secp256k1" }), "decoder"],
    ["Ed25519", () => generateKeyPairSync("ed25519"), "decoder"],
    ["RSA-PSS", () => generateKeyPairSync("rsa-pss", { modulusLength: 2048 }), "decoder"],
  ];
  for (const [name, make, path] of cases) {
    it(`reads ${name} keys (${path === "jwk" ? "built from a JWK" : "left to the generic decoder"})`, () => {
      const { publicKey, privateKey } = make();
      const spki = spkiOf(publicKey);
      expect(spkiToJwk(spki) === undefined).toBe(path === "decoder");
      const imported = importSpki(spki);
      expect(imported.equals(publicKey)).toBe(true);
      expect(spkiOf(imported)).toEqual(spki);
      // The imported key verifies what the private key signed, and nothing else.
      const data = Buffer.from("an Mdm-Signature body");
      const digest = name === "Ed25519" ? null : "sha256";
      const signature = sign(digest, data, privateKey);
      expect(verify(digest, data, imported, signature)).toBe(true);
      expect(verify(digest, Buffer.from("another body"), imported, signature)).toBe(false);
    });
  }

  it("leaves a compressed EC point to the generic decoder", () => {
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const y = Buffer.from(jwk.y!, "base64url");
    const x = Buffer.from(jwk.x!, "base64url");
    const uncompressed = spkiOf(publicKey);
    // Same SPKI up to the BIT STRING's unused-bits octet, then a 33-byte compressed point (SEC 1 §2.3.3).
    const header = uncompressed.subarray(0, uncompressed.length - 65);
    const compressed = Buffer.concat([header, Buffer.from([(y[31]! & 1) === 1 ? 0x03 : 0x02]), x]);
    compressed[1] = compressed.length - 2;
    compressed[header.length - 2] = 34;
    expect(spkiToJwk(compressed)).toBeUndefined();
    expect(importSpki(compressed).equals(publicKey)).toBe(true);
  });

  it("refuses what is not a key, with the decoder's error", () => {
    expect(() => importSpki(Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x01]))).toThrow();
    // An RSA key whose modulus is negative is not built from a JWK either.
    const spki = spkiOf(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey);
    const i = spki.indexOf(0x02, 20); // the modulus INTEGER
    const broken = Uint8Array.from(spki);
    broken[i + 4] = 0x80; // its leading 0x00 becomes a sign bit
    expect(spkiToJwk(broken)).toBeUndefined();
  });

  it("agrees with node for a key with a modulus that has no leading zero octet to strip", () => {
    for (let i = 0; i < 5; i++) {
      const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 1031 });
      expect(importSpki(spkiOf(publicKey)).equals(publicKey)).toBe(true);
    }
  });
});
