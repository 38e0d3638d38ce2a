// The native RSA path must give node:crypto's answer for every signature: checked on real signatures and on
// encoded blocks crafted with the private key (each with one thing wrong), for both the kept key and the
// one-off key.
import { spawnSync } from "node:child_process";
import { constants, generateKeyPairSync, hash, privateEncrypt, sign, verify, type KeyObject } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { keyPartsToJwk, readSpkiKeyParts } from "./spki-key.ts";
import { matchesEncoding, rsaNative, rsaNativeStatus, RsaPublicValues, type RsaNative } from "./rsa-native.ts";
import type { CmsDigest } from "./mdm-signature-cms.ts";

const DATA = Buffer.from("the DER of some signed attributes, or a request body");
const PREFIX_SHA256 = Buffer.from("3031300d060960864801650304020105000420", "hex");

interface Key {
  privateKey: KeyObject;
  publicKey: KeyObject;
  values: RsaPublicValues;
  k: number;
}

function rsaKey(modulusLength: number, publicExponent = 65537): Key {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength, publicExponent });
  const parts = readSpkiKeyParts(new Uint8Array(publicKey.export({ type: "spki", format: "der" })));
  if (parts?.kty !== "RSA") throw new Error("not an RSA key");
  return { privateKey, publicKey, values: new RsaPublicValues(parts.n, parts.e), k: parts.n.length };
}

/** The raw private-key operation on an encoded block: a "signature" whose recovered block is exactly `em`. */
function signBlock(key: Key, em: Uint8Array): Buffer {
  return privateEncrypt({ key: key.privateKey, padding: constants.RSA_NO_PADDING }, em);
}

/** A correct EMSA-PKCS1-v1_5 block for SHA-256 of DATA, for mutating. */
function goodBlock(k: number): Buffer {
  const t = Buffer.concat([PREFIX_SHA256, hash("sha256", DATA, "buffer")]);
  return Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(k - t.length - 3, 0xff), Buffer.from([0]), t]);
}

// The helper is optional: npm install builds it when a C compiler is there. Where one is, it must load.
const compiler = spawnSync(process.env.CC || "cc", ["--version"]).status === 0;

let native: RsaNative;
let key2048: Key;

beforeAll(() => {
  if (!compiler) return;
  const loaded = rsaNative();
  if (loaded === undefined) throw new Error(`the native helper is not loaded: ${rsaNativeStatus()}`);
  native = loaded;
  key2048 = rsaKey(2048);
});

describe.runIf(compiler)("RSA signatures through the native helper", () => {
  it("is built and loaded here (npm install builds it with cc)", () => {
    expect(rsaNativeStatus()).toMatch(/^loaded from .*rsa-public\.node$/);
  });

  it("accepts what node:crypto signs, for each digest and key size, with a kept key and a one-off key", () => {
    for (const key of [key2048, rsaKey(3072, 3), rsaKey(1024)]) {
      for (const digest of ["sha1", "sha224", "sha256", "sha384", "sha512"] as CmsDigest[]) {
        const signature = sign(digest, DATA, key.privateKey);
        expect(native.verify(key.values, digest, DATA, signature, true), `${key.k * 8}-bit ${digest}`).toBe(true);
        expect(native.verify(key.values, digest, DATA, signature, false), `${key.k * 8}-bit ${digest} once`).toBe(true);
        // The same signature under another digest, or over other data, is refused.
        expect(native.verify(key.values, digest === "sha256" ? "sha1" : "sha256", DATA, signature, true)).toBe(false);
        expect(native.verify(key.values, digest, Buffer.from("other data"), signature, true)).toBe(false);
      }
    }
  });

  it("gives node:crypto's answer on blocks with one thing wrong", () => {
    const k = key2048.k;
    const cases: [string, (em: Buffer) => Buffer][] = [
      ["the correct block", (em) => em],
      ["first byte not 0", (em) => ((em[0] = 1), em)],
      ["block type 2", (em) => ((em[1] = 2), em)],
      ["a padding byte not 0xff", (em) => ((em[20] = 0xfe), em)],
      ["no zero separator", (em) => ((em[k - 52] = 0xff), em)],
      ["a prefix byte changed", (em) => ((em[k - 40] = em[k - 40]! ^ 1), em)],
      ["a hash byte changed", (em) => ((em[k - 1] = em[k - 1]! ^ 1), em)],
      [
        "DigestInfo without the NULL parameters",
        () => {
          const t = Buffer.concat([Buffer.from("302f300b0609608648016503040201" + "0420", "hex"), hash("sha256", DATA, "buffer")]);
          return Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(k - t.length - 3, 0xff), Buffer.from([0]), t]);
        },
      ],
      [
        "hash followed by garbage instead of padding (a lenient parser's forgery)",
        () => {
          const t = Buffer.concat([PREFIX_SHA256, hash("sha256", DATA, "buffer")]);
          return Buffer.concat([Buffer.from([0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]), t, Buffer.alloc(k - t.length - 11, 0x42)]);
        },
      ],
    ];
    for (const [name, mutate] of cases) {
      const signature = signBlock(key2048, mutate(goodBlock(k)));
      const expected = verify("sha256", DATA, key2048.publicKey, signature);
      expect(native.verify(key2048.values, "sha256", DATA, signature, true), name).toBe(expected);
      expect(native.verify(key2048.values, "sha256", DATA, signature, false), `${name} once`).toBe(expected);
    }
    expect(verify("sha256", DATA, key2048.publicKey, signBlock(key2048, goodBlock(k)))).toBe(true);
  });

  it("refuses signatures of the wrong length or not below the modulus, and leaves node:crypto's error queue clean", () => {
    const signature = sign("sha256", DATA, key2048.privateKey);
    expect(native.verify(key2048.values, "sha256", DATA, signature.subarray(1), true)).toBe(false);
    expect(native.verify(key2048.values, "sha256", DATA, Buffer.concat([Buffer.from([0]), signature]), true)).toBe(false);
    const tooLarge = Buffer.alloc(key2048.k, 0xff);
    expect(native.verify(key2048.values, "sha256", DATA, tooLarge, true)).toBe(false);
    expect(native.verify(key2048.values, "sha256", DATA, tooLarge, false)).toBe(false);
    // OpenSSL reported "data too large for modulus" to the helper; node's next operations must not see it.
    expect(verify("sha256", DATA, key2048.publicKey, signature)).toBe(true);
    expect(sign("sha256", DATA, key2048.privateKey).equals(signature)).toBe(true);
  });

  it("refuses key values it cannot hold, and arguments of the wrong type", () => {
    expect(native.helper.rsaPublicKey(new Uint8Array(0), Uint8Array.of(1, 0, 1))).toBe(-1);
    expect(native.helper.rsaPublicKey(new Uint8Array(2049).fill(1), Uint8Array.of(1, 0, 1))).toBe(-1);
    expect(native.helper.rsaPublicKey(new Uint8Array(256).fill(1), new Uint8Array(9).fill(1))).toBe(-1);
    const values = new RsaPublicValues(new Uint8Array(0), Uint8Array.of(3));
    expect(native.verify(values, "sha256", DATA, new Uint8Array(0), true)).toBe(false);
    expect(() => native.helper.rsaPublicOp({} as never, new Uint8Array(256), new Uint8Array(256))).toThrow(TypeError);
    expect(() => native.helper.rsaPublicKey("n" as never, Uint8Array.of(3))).toThrow(TypeError);
    expect(() => native.helper.rsaPublicOpOnce(new Uint8Array(256), Uint8Array.of(3), new Uint16Array(128) as never, new Uint8Array(256))).toThrow(TypeError);
  });

  it("keeps one helper key per public key object", () => {
    const values = new RsaPublicValues(key2048.values.n, key2048.values.e);
    const first = values.key(native.helper);
    expect(first).toBeDefined();
    expect(values.key(native.helper)).toBe(first);
    expect(keyPartsToJwk({ kty: "RSA", n: values.n, e: values.e })).toEqual(key2048.publicKey.export({ format: "jwk" }));
  });
});

describe("the EMSA-PKCS1-v1_5 comparison", () => {
  it("needs at least 8 padding bytes", () => {
    const h = new Uint8Array(32).fill(7);
    const block = (k: number) => Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(k - 3 - 51, 0xff), Buffer.from([0]), PREFIX_SHA256, h]);
    expect(matchesEncoding(block(62), PREFIX_SHA256, h)).toBe(true);
    expect(matchesEncoding(block(61), PREFIX_SHA256, h)).toBe(false);
  });
});
