// CMS EnvelopedData (RFC 5652 section 6) with RSA key transport: encrypting to a certificate and
// decrypting with an RSA key. PKCS #1 v1.5 key transport is unwrapped by rsa-pkcs1-decrypt.ts,
// which never reveals bad padding; a key of the wrong length is replaced by a random one (the
// RFC 3218 countermeasure), so every failure surfaces the same way: the content does not decrypt.

import { constants, createCipheriv, createDecipheriv, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from "node:crypto";
import {
  Tag,
  algorithmIdentifier,
  contextTag,
  expectTag,
  integer,
  nullValue,
  octetString,
  octetStringValue,
  oid,
  readOid,
  sequence,
  setOf,
  tlv,
  type Asn1Node,
} from "./der.ts";
import { certificatePublicKey, certificateSubjectKeyId, parseCertificate, type Certificate } from "./certificate.ts";
import { CmsError, issuerAndSerialNumber, matchesIssuerAndSerial, parsing, unwrapContentInfo, wrapContentInfo } from "./cms.ts";
import { OID } from "./oids.ts";
import { rsaPkcs1v15Decrypt } from "./rsa-pkcs1-decrypt.ts";

export type ContentEncryptionAlgorithm = "aes-128-cbc" | "aes-192-cbc" | "aes-256-cbc" | "des-ede3-cbc" | "des-cbc";

interface CipherSpec {
  oid: string;
  keyLength: number;
  ivLength: number;
}

const CIPHERS: Record<ContentEncryptionAlgorithm, CipherSpec> = {
  "aes-128-cbc": { oid: OID.aes128Cbc, keyLength: 16, ivLength: 16 },
  "aes-192-cbc": { oid: OID.aes192Cbc, keyLength: 24, ivLength: 16 },
  "aes-256-cbc": { oid: OID.aes256Cbc, keyLength: 32, ivLength: 16 },
  "des-ede3-cbc": { oid: OID.desEde3Cbc, keyLength: 24, ivLength: 8 },
  "des-cbc": { oid: OID.desCbc, keyLength: 8, ivLength: 8 },
};

const CIPHER_BY_OID = new Map<string, ContentEncryptionAlgorithm>(
  Object.entries(CIPHERS).map(([name, spec]) => [spec.oid, name as ContentEncryptionAlgorithm]),
);

export function contentEncryptionAlgorithmFromOid(algOid: string): ContentEncryptionAlgorithm | undefined {
  return CIPHER_BY_OID.get(algOid);
}

/**
 * OpenSSL 3 only offers single DES through its legacy provider, which Node does not load. DES with
 * key K equals 3DES-EDE with K1 = K2 = K3 = K (the encrypt-decrypt-encrypt steps cancel out), so
 * the default provider's des-ede3-cbc does the work.
 */
function nodeCipher(alg: ContentEncryptionAlgorithm, key: Uint8Array): { name: string; key: Uint8Array } {
  if (alg === "des-cbc") {
    const k = Buffer.from(key);
    return { name: "des-ede3-cbc", key: Buffer.concat([k, k, k]) };
  }
  return { name: alg, key };
}

export interface EncryptOptions {
  /** Default aes-256-cbc. */
  algorithm?: ContentEncryptionAlgorithm;
}

/** Encrypts content to the RSA key of a certificate: ContentInfo(EnvelopedData), DER. */
export function encryptToCertificate(
  content: Uint8Array,
  recipientCertDer: Uint8Array,
  algorithm: ContentEncryptionAlgorithm = "aes-256-cbc",
): Uint8Array {
  const cert = parseCertificate(recipientCertDer);
  const publicKey = certificatePublicKey(cert);
  if (publicKey.asymmetricKeyType !== "rsa") {
    throw new CmsError("unsupported-algorithm", "key transport needs an RSA recipient certificate", String(publicKey.asymmetricKeyType));
  }
  const spec = CIPHERS[algorithm];
  const cek = randomBytes(spec.keyLength);
  const iv = randomBytes(spec.ivLength);
  const nc = nodeCipher(algorithm, cek);
  const cipher = createCipheriv(nc.name, nc.key, iv);
  const encrypted = Buffer.concat([cipher.update(content), cipher.final()]);
  const encryptedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, cek);
  const ktri = sequence(
    integer(0),
    issuerAndSerialNumber(cert),
    algorithmIdentifier(OID.rsaEncryption, nullValue()),
    octetString(encryptedKey),
  );
  const envelopedData = sequence(
    integer(0),
    setOf(ktri),
    sequence(oid(OID.data), algorithmIdentifier(spec.oid, octetString(iv)), tlv(0x80, encrypted)),
  );
  cek.fill(0);
  return wrapContentInfo(OID.envelopedData, envelopedData);
}

export interface DecryptOptions {
  /** Accept single DES (legacy SCEP clients). Default false: DES yields CmsError("algorithm-not-allowed"). */
  allowDes?: boolean;
  /** Pick the RecipientInfo for this certificate; without it the only key-transport recipient is used. */
  recipientCertDer?: Uint8Array;
}

export interface DecryptedEnvelope {
  content: Uint8Array;
  algorithm: ContentEncryptionAlgorithm;
}

interface EnvelopeParts {
  recipients: readonly Asn1Node[];
  algorithmOid: string;
  iv: Uint8Array;
  encrypted: Uint8Array;
}

function parseEnvelope(der: Uint8Array | Asn1Node): EnvelopeParts {
  const ed = unwrapContentInfo(der, OID.envelopedData, "EnvelopedData");
  return parsing("EnvelopedData", () => {
    let i = 1; // after version
    if (ed.children[i] && contextTag(ed.children[i]!) === 0) i++; // originatorInfo
    const recipients = expectTag(ed.children[i++], Tag.SET, "recipientInfos").children;
    const eci = expectTag(ed.children[i], Tag.SEQUENCE, "encryptedContentInfo");
    const alg = expectTag(eci.children[1], Tag.SEQUENCE, "contentEncryptionAlgorithm");
    const algorithmOid = readOid(alg.children[0], "contentEncryptionAlgorithm");
    const params = alg.children[1];
    const enc = eci.children[2];
    if (!enc || contextTag(enc) !== 0) throw new CmsError("no-content", "EnvelopedData carries no encrypted content");
    // [0] IMPLICIT OCTET STRING: primitive (DER) or constructed segments (BER).
    const encrypted = octetStringValue(enc, "encryptedContent");
    const iv = params && params.tag === Tag.OCTET_STRING ? octetStringValue(params) : new Uint8Array(0);
    return { recipients, algorithmOid, iv, encrypted };
  });
}

/** The algorithm an envelope uses, without decrypting it (lets a caller refuse DES early). */
export function envelopeAlgorithm(der: Uint8Array | Asn1Node): { oid: string; name?: ContentEncryptionAlgorithm } {
  const { algorithmOid } = parseEnvelope(der);
  const name = CIPHER_BY_OID.get(algorithmOid);
  return name ? { oid: algorithmOid, name } : { oid: algorithmOid };
}

/** Whether an envelope has a key-transport recipient for this certificate. */
export function envelopeIsFor(der: Uint8Array | Asn1Node, recipientCertDer: Uint8Array): boolean {
  const cert = parseCertificate(recipientCertDer);
  return parseEnvelope(der).recipients.some((r) => ktriMatches(r, cert));
}

function ktriMatches(ri: Asn1Node, cert: Certificate): boolean {
  if (ri.tag !== Tag.SEQUENCE) return false; // kari/kekri/pwri are context-tagged
  const rid = ri.children[1];
  if (!rid) return false;
  if (contextTag(rid) === 0) {
    const ski = certificateSubjectKeyId(cert);
    return ski !== undefined && Buffer.from(ski).equals(Buffer.from(rid.content));
  }
  return matchesIssuerAndSerial(rid, cert);
}

/**
 * Decrypts a ContentInfo(EnvelopedData) with an RSA private key. Errors are CmsError with code
 * unsupported-algorithm / algorithm-not-allowed (carrying the algorithm, e.g. so SCEP can answer
 * badAlg), recipient-not-found, decrypt-failed or malformed.
 */
export function decryptEnvelope(der: Uint8Array | Asn1Node, key: KeyObject, opts: DecryptOptions = {}): DecryptedEnvelope {
  const env = parseEnvelope(der);
  const algorithm = CIPHER_BY_OID.get(env.algorithmOid);
  if (!algorithm) throw new CmsError("unsupported-algorithm", `unsupported content encryption ${env.algorithmOid}`, env.algorithmOid);
  if (algorithm === "des-cbc" && !opts.allowDes) {
    throw new CmsError("algorithm-not-allowed", "single DES content encryption is not allowed", algorithm);
  }
  const spec = CIPHERS[algorithm];
  if (env.iv.length !== spec.ivLength) throw new CmsError("malformed", `bad ${algorithm} IV length ${env.iv.length}`);

  const ktris = env.recipients.filter((r) => r.tag === Tag.SEQUENCE);
  let ri: Asn1Node | undefined;
  if (opts.recipientCertDer) {
    const cert = parseCertificate(opts.recipientCertDer);
    ri = ktris.find((r) => ktriMatches(r, cert));
  } else if (ktris.length === 1) {
    ri = ktris[0];
  }
  if (!ri) throw new CmsError("recipient-not-found", "no key-transport recipient matches the decryption key");

  const { keyAlg, encryptedKey } = parsing("KeyTransRecipientInfo", () => ({
    keyAlg: readOid(expectTag(ri.children[2], Tag.SEQUENCE, "keyEncryptionAlgorithm").children[0]),
    encryptedKey: octetStringValue(expectTag(ri.children[3], Tag.OCTET_STRING, "encryptedKey")),
  }));
  let cek: Buffer;
  if (keyAlg === OID.rsaEncryption) {
    try {
      cek = rsaPkcs1v15Decrypt(key, encryptedKey);
    } catch {
      throw new CmsError("decrypt-failed", "the envelope could not be decrypted");
    }
  } else if (keyAlg === OID.rsaesOaep && (ri.children[2]!.children[1] === undefined || isDefaultOaep(ri.children[2]!.children[1]))) {
    try {
      cek = privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING }, encryptedKey);
    } catch {
      cek = randomBytes(spec.keyLength);
    }
  } else {
    throw new CmsError("unsupported-algorithm", `unsupported key transport ${keyAlg}`, keyAlg);
  }
  if (cek.length !== spec.keyLength) cek = randomBytes(spec.keyLength);

  try {
    const nc = nodeCipher(algorithm, cek);
    const decipher = createDecipheriv(nc.name, nc.key, env.iv);
    const content = Buffer.concat([decipher.update(env.encrypted), decipher.final()]);
    return { content: new Uint8Array(content.buffer, content.byteOffset, content.length), algorithm };
  } catch {
    throw new CmsError("decrypt-failed", "the envelope could not be decrypted");
  } finally {
    cek.fill(0);
  }
}

/** RSAES-OAEP parameters that are all defaults (SHA-1, MGF1-SHA-1, empty label): an empty SEQUENCE. */
function isDefaultOaep(params: Asn1Node): boolean {
  return params.tag === Tag.SEQUENCE && params.children.length === 0;
}
