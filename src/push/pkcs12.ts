// Reading a PKCS #12 file (RFC 7292): the push certificate and its key as Keychain Access and openssl export
// them. Supports the password-integrity MAC (HMAC-SHA-1/SHA-256 with the PKCS #12 key derivation), PBES2
// (PBKDF2 + AES or 3DES, what OpenSSL 3 writes) and the legacy PKCS #12 PBE schemes (3DES, and 40/128-bit RC2
// for certificate bags, what macOS writes). RC2 is not in OpenSSL 3's default provider, so it is done here.
import { createDecipheriv, createHash, createHmac, createPrivateKey, pbkdf2Sync, timingSafeEqual, type KeyObject } from "node:crypto";
import { Asn1Error, child, octetStringValue, parseAsn1, readIntegerBytes, readOid, type Asn1Node } from "../pki/der.ts";
import { PushCertificateError } from "./push-certificate.ts";

const OIDS = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  keyBag: "1.2.840.113549.1.12.10.1.1",
  shroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  localKeyId: "1.2.840.113549.1.9.21",
  pbeSha1Rc2_128: "1.2.840.113549.1.12.1.5",
  pbeSha1Rc2_40: "1.2.840.113549.1.12.1.6",
  pbeSha1TripleDes: "1.2.840.113549.1.12.1.3",
  pbeSha1TwoKeyDes: "1.2.840.113549.1.12.1.4",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacSha1: "1.2.840.113549.2.7",
  hmacSha224: "1.2.840.113549.2.8",
  hmacSha256: "1.2.840.113549.2.9",
  hmacSha384: "1.2.840.113549.2.10",
  hmacSha512: "1.2.840.113549.2.11",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  aes128: "2.16.840.1.101.3.4.1.2",
  aes192: "2.16.840.1.101.3.4.1.22",
  aes256: "2.16.840.1.101.3.4.1.42",
  desEde3: "1.2.840.113549.3.7",
} as const;

const DIGESTS: Record<string, { name: string; u: number; v: number }> = {
  [OIDS.sha1]: { name: "sha1", u: 20, v: 64 },
  [OIDS.sha256]: { name: "sha256", u: 32, v: 64 },
  [OIDS.sha384]: { name: "sha384", u: 48, v: 128 },
  [OIDS.sha512]: { name: "sha512", u: 64, v: 128 },
};
const PRFS: Record<string, string> = { [OIDS.hmacSha1]: "sha1", [OIDS.hmacSha224]: "sha224", [OIDS.hmacSha256]: "sha256", [OIDS.hmacSha384]: "sha384", [OIDS.hmacSha512]: "sha512" };
const PBES2_CIPHERS: Record<string, { name: string; keyLength: number }> = {
  [OIDS.aes128]: { name: "aes-128-cbc", keyLength: 16 },
  [OIDS.aes192]: { name: "aes-192-cbc", keyLength: 24 },
  [OIDS.aes256]: { name: "aes-256-cbc", keyLength: 32 },
  [OIDS.desEde3]: { name: "des-ede3-cbc", keyLength: 24 },
};
/** Guards against a file asking for billions of KDF rounds. */
const MAX_ITERATIONS = 10_000_000;

export interface Pkcs12Contents {
  certDer: Uint8Array;
  chainDer: Uint8Array[];
  key: KeyObject;
}

/** The first private key in the file and the certificate that goes with it (the others as its chain). */
export function readPkcs12(der: Uint8Array, password: string): Pkcs12Contents {
  try {
    return read(der, password);
  } catch (e) {
    if (e instanceof PushCertificateError) throw e;
    if (e instanceof Asn1Error) throw new PushCertificateError("unreadable", `the .p12 file is not a readable PKCS #12 file: ${e.message}`);
    throw new PushCertificateError("unreadable", `the .p12 file could not be read: ${(e as Error).message}`);
  }
}

function read(der: Uint8Array, password: string): Pkcs12Contents {
  const pfx = parseAsn1(der);
  const authSafe = child(pfx, 1, "PFX authSafe");
  if (readOid(authSafe.children[0], "authSafe contentType") !== OIDS.data) throw new PushCertificateError("unreadable", "the .p12 file uses public-key integrity, which is not supported (only password integrity)");
  const authSafeContent = octetStringValue(child(child(authSafe, 1, "authSafe content"), 0, "authSafe content"), "authSafe content");
  const macData = pfx.children[2];
  if (macData) verifyMac(macData, authSafeContent, password);

  const certs: Array<{ der: Uint8Array; keyId?: string }> = [];
  const keys: Array<{ key: KeyObject; keyId?: string }> = [];
  for (const info of parseAsn1(authSafeContent).children) {
    const type = readOid(info.children[0], "ContentInfo contentType");
    let safeContents: Uint8Array;
    if (type === OIDS.data) safeContents = octetStringValue(child(child(info, 1, "data"), 0, "data"), "data");
    else if (type === OIDS.encryptedData) {
      const encryptedContentInfo = child(child(child(info, 1, "encryptedData"), 0, "EncryptedData"), 1, "EncryptedContentInfo");
      const alg = child(encryptedContentInfo, 1, "contentEncryptionAlgorithm");
      const encrypted = encryptedContentInfo.children[2];
      if (!encrypted) continue;
      safeContents = decrypt(alg, octetStringValue(encrypted, "encryptedContent"), password);
    } else continue; // enveloped (public-key privacy) bags are not supported; skip
    for (const bag of parseAsn1(safeContents).children) readBag(bag, password, certs, keys);
  }
  const first = keys[0];
  if (!first) throw new PushCertificateError("no_key", "the .p12 file holds no private key (export the certificate together with its key)");
  const match = certs.find((c) => c.keyId !== undefined && c.keyId === first.keyId) ?? certs[0];
  if (!match) throw new PushCertificateError("unreadable", "the .p12 file holds no certificate");
  return { certDer: match.der, chainDer: certs.filter((c) => c !== match).map((c) => c.der), key: first.key };
}

function readBag(bag: Asn1Node, password: string, certs: Array<{ der: Uint8Array; keyId?: string }>, keys: Array<{ key: KeyObject; keyId?: string }>): void {
  const id = readOid(bag.children[0], "bagId");
  const value = child(child(bag, 1, "bagValue"), 0, "bagValue");
  const keyId = localKeyId(bag.children[2]);
  if (id === OIDS.certBag) {
    if (readOid(value.children[0], "certId") !== OIDS.x509Certificate) return;
    certs.push({ der: octetStringValue(child(child(value, 1, "certValue"), 0, "certValue"), "certValue"), ...(keyId ? { keyId } : {}) });
  } else if (id === OIDS.keyBag) {
    keys.push({ key: createPrivateKey({ key: Buffer.from(value.raw), format: "der", type: "pkcs8" }), ...(keyId ? { keyId } : {}) });
  } else if (id === OIDS.shroudedKeyBag) {
    const pkcs8 = decrypt(child(value, 0, "encryptionAlgorithm"), octetStringValue(child(value, 1, "encryptedData"), "encryptedData"), password);
    keys.push({ key: createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" }), ...(keyId ? { keyId } : {}) });
  }
}

function localKeyId(attributes: Asn1Node | undefined): string | undefined {
  for (const attr of attributes?.children ?? []) {
    if (readOid(attr.children[0], "attribute type") !== OIDS.localKeyId) continue;
    const v = attr.children[1]?.children[0];
    if (v) return Buffer.from(octetStringValue(v, "localKeyId")).toString("hex");
  }
  return undefined;
}

function iterationsOf(node: Asn1Node | undefined): number {
  if (!node) return 1;
  const bytes = readIntegerBytes(node, "iterations");
  let n = 0;
  for (const b of bytes) n = n * 256 + b;
  if (n < 1 || n > MAX_ITERATIONS) throw new PushCertificateError("unreadable", `the .p12 file asks for ${n} key-derivation iterations`);
  return n;
}

function verifyMac(macData: Asn1Node, content: Uint8Array, password: string): void {
  const digestInfo = child(macData, 0, "mac");
  const digestOid = readOid(child(child(digestInfo, 0, "digestAlgorithm"), 0, "digestAlgorithm"), "digestAlgorithm");
  const expected = octetStringValue(child(digestInfo, 1, "digest"), "digest");
  const salt = octetStringValue(child(macData, 1, "macSalt"), "macSalt");
  const iterations = iterationsOf(macData.children[2]);
  const d = DIGESTS[digestOid];
  if (!d) throw new PushCertificateError("unreadable", `the .p12 file's integrity MAC uses an unsupported digest (${digestOid})`);
  const key = pkcs12Kdf(d, bmpPassword(password), salt, 3, iterations, d.u);
  const actual = createHmac(d.name, key).update(content).digest();
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new PushCertificateError("unreadable", "the .p12 password is wrong (the file's integrity check failed)");
  }
}

function decrypt(alg: Asn1Node, data: Uint8Array, password: string): Uint8Array {
  const oid = readOid(alg.children[0], "encryption algorithm");
  const params = alg.children[1];
  try {
    if (oid === OIDS.pbes2) return pbes2(child(alg, 1, "PBES2 parameters"), data, password);
    if (!params) throw new PushCertificateError("unreadable", "PBE parameters missing");
    const salt = octetStringValue(child(params, 0, "salt"), "salt");
    const iterations = iterationsOf(params.children[1]);
    const sha1 = DIGESTS[OIDS.sha1]!;
    const pw = bmpPassword(password);
    if (oid === OIDS.pbeSha1TripleDes || oid === OIDS.pbeSha1TwoKeyDes) {
      let key = pkcs12Kdf(sha1, pw, salt, 1, iterations, oid === OIDS.pbeSha1TripleDes ? 24 : 16);
      if (key.length === 16) key = Buffer.concat([key, key.subarray(0, 8)]);
      const iv = pkcs12Kdf(sha1, pw, salt, 2, iterations, 8);
      return cbc("des-ede3-cbc", key, iv, data);
    }
    if (oid === OIDS.pbeSha1Rc2_40 || oid === OIDS.pbeSha1Rc2_128) {
      const bits = oid === OIDS.pbeSha1Rc2_40 ? 40 : 128;
      const key = pkcs12Kdf(sha1, pw, salt, 1, iterations, bits / 8);
      const iv = pkcs12Kdf(sha1, pw, salt, 2, iterations, 8);
      return rc2CbcDecrypt(key, bits, iv, data);
    }
  } catch (e) {
    if (e instanceof PushCertificateError) throw e;
    throw new PushCertificateError("unreadable", "the .p12 password is wrong or the file is damaged (decryption failed)");
  }
  throw new PushCertificateError("unreadable", `the .p12 file uses an unsupported encryption (${oid})`);
}

function pbes2(params: Asn1Node, data: Uint8Array, password: string): Uint8Array {
  const kdf = child(params, 0, "keyDerivationFunc");
  const scheme = child(params, 1, "encryptionScheme");
  if (readOid(kdf.children[0], "KDF") !== OIDS.pbkdf2) throw new PushCertificateError("unreadable", "the .p12 file uses a key derivation other than PBKDF2");
  const p = child(kdf, 1, "PBKDF2 parameters");
  const salt = octetStringValue(child(p, 0, "salt"), "salt");
  const iterations = iterationsOf(p.children[1]);
  let prf = "sha1";
  for (const extra of p.children.slice(2)) {
    if (extra.tag === 0x30) prf = PRFS[readOid(extra.children[0], "PRF")] ?? "";
  }
  if (!prf) throw new PushCertificateError("unreadable", "the .p12 file uses an unsupported PBKDF2 PRF");
  const cipher = PBES2_CIPHERS[readOid(scheme.children[0], "cipher")];
  if (!cipher) throw new PushCertificateError("unreadable", "the .p12 file uses an unsupported cipher");
  const iv = octetStringValue(child(scheme, 1, "IV"), "IV");
  const key = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, cipher.keyLength, prf);
  return cbc(cipher.name, key, iv, data);
}

function cbc(name: string, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const d = createDecipheriv(name, key, iv);
  return Buffer.concat([d.update(data), d.final()]);
}

/** The password as PKCS #12 wants it for its own KDF: BMPString (UTF-16BE) with a two-byte terminator. */
function bmpPassword(password: string): Buffer {
  const out = Buffer.alloc((password.length + 1) * 2);
  for (let i = 0; i < password.length; i++) out.writeUInt16BE(password.charCodeAt(i), i * 2);
  return out;
}

/** RFC 7292 appendix B.2: id 1 = key, 2 = IV, 3 = MAC key. */
export function pkcs12Kdf(d: { name: string; u: number; v: number }, password: Uint8Array, salt: Uint8Array, id: number, iterations: number, n: number): Buffer {
  const { u, v } = d;
  const D = Buffer.alloc(v, id);
  const fill = (src: Uint8Array) => {
    if (src.length === 0) return Buffer.alloc(0);
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const I = Buffer.concat([fill(salt), fill(password)]);
  const c = Math.ceil(n / u);
  const out: Buffer[] = [];
  for (let i = 0; i < c; i++) {
    let A = createHash(d.name).update(D).update(I).digest();
    for (let j = 1; j < iterations; j++) A = createHash(d.name).update(A).digest();
    out.push(A);
    if (i === c - 1) break;
    const B = fill(A).subarray(0, v);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const x = I[j + k]! + B[k]! + carry;
        I[j + k] = x & 0xff;
        carry = x >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, n);
}

// RC2 (RFC 2268), decryption only, for legacy certificate bags.
// RFC 2268 section 2: the key-expansion permutation (from the digits of pi).
const PITABLE = Buffer.from(
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2" +
    "179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82" +
    "54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626" +
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7" +
    "08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec" +
    "c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731" +
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9" +
    "0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad",
  "hex",
);

function rc2ExpandKey(key: Uint8Array, effectiveBits: number): Uint16Array {
  const L = Buffer.alloc(128);
  Buffer.from(key).copy(L);
  const T = key.length;
  const T8 = Math.ceil(effectiveBits / 8);
  const TM = 0xff % 2 ** (8 + effectiveBits - 8 * T8);
  for (let i = T; i < 128; i++) L[i] = PITABLE[(L[i - 1]! + L[i - T]!) & 0xff]!;
  L[128 - T8] = PITABLE[L[128 - T8]! & TM]!;
  for (let i = 127 - T8; i >= 0; i--) L[i] = PITABLE[L[i + 1]! ^ L[i + T8]!]!;
  const K = new Uint16Array(64);
  for (let i = 0; i < 64; i++) K[i] = L[2 * i]! + (L[2 * i + 1]! << 8);
  return K;
}

function rc2CbcDecrypt(key: Uint8Array, effectiveBits: number, iv: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length % 8 !== 0 || data.length === 0) throw new Error("RC2 ciphertext is not a whole number of blocks");
  const K = rc2ExpandKey(key, effectiveBits);
  const out = Buffer.alloc(data.length);
  const R = new Uint16Array(4);
  const S = [1, 2, 3, 5];
  let prev = Buffer.from(iv);
  for (let off = 0; off < data.length; off += 8) {
    for (let i = 0; i < 4; i++) R[i] = data[off + 2 * i]! | (data[off + 2 * i + 1]! << 8);
    let j = 63;
    const rmix = () => {
      for (let i = 3; i >= 0; i--) {
        const r = R[i]!;
        const s = S[i]!;
        R[i] = ((r >>> s) | (r << (16 - s))) & 0xffff;
        R[i] = (R[i]! - K[j--]! - (R[(i + 3) % 4]! & R[(i + 2) % 4]!) - (~R[(i + 3) % 4]! & R[(i + 1) % 4]!)) & 0xffff;
      }
    };
    const rmash = () => {
      for (let i = 3; i >= 0; i--) R[i] = (R[i]! - K[R[(i + 3) % 4]! & 63]!) & 0xffff;
    };
    for (let k = 0; k < 5; k++) rmix();
    rmash();
    for (let k = 0; k < 6; k++) rmix();
    rmash();
    for (let k = 0; k < 5; k++) rmix();
    for (let i = 0; i < 4; i++) {
      out[off + 2 * i] = (R[i]! & 0xff) ^ prev[2 * i]!;
      out[off + 2 * i + 1] = (R[i]! >> 8) ^ prev[2 * i + 1]!;
    }
    prev = Buffer.from(data.subarray(off, off + 8));
  }
  const pad = out[out.length - 1]!;
  if (pad < 1 || pad > 8 || out.subarray(out.length - pad).some((b) => b !== pad)) throw new Error("bad RC2 padding");
  return out.subarray(0, out.length - pad);
}
