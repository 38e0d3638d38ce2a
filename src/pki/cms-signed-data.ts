// CMS SignedData (RFC 5652 section 5): signing (configuration profiles, SCEP messages), parsing
// and verifying (attached or detached, SHA-1 or SHA-2), and the certs-only "degenerate" form.
// Reading and verifying report malformed input of any kind (structure, attributes, embedded certificates, the
// signer's key) as CmsError("malformed"), so that callers can answer it as bad input.

import type { KeyObject } from "node:crypto";
import {
  Tag,
  algorithmIdentifier,
  contextTag,
  explicit,
  expectTag,
  implicit,
  integer,
  octetString,
  octetStringValue,
  oid,
  readOid,
  readTime,
  sequence,
  setInOrder,
  setOf,
  tlv,
  time,
  nullValue,
  type Asn1Node,
} from "./der.ts";
import { CertificateError, certificatePublicKey, certificateSubjectKeyId, parseCertificate, type Certificate } from "./certificate.ts";
import {
  CmsError,
  decodeAttributes,
  encodeAttributeSet,
  findAttribute,
  issuerAndSerialNumber,
  matchesIssuerAndSerial,
  parsing,
  unwrapContentInfo,
  wrapContentInfo,
  type CmsAttribute,
  type ParsedAttribute,
} from "./cms.ts";
import type { SigningIdentity } from "./issue.ts";
import { KeyError } from "./keys.ts";
import { OID } from "./oids.ts";
import {
  UnsupportedAlgorithmError,
  digest,
  digestAlgorithmIdentifier,
  digestFromOid,
  signData,
  verifyWithAlgorithm,
  type DigestName,
} from "./signature-algorithms.ts";

export interface SignOptions {
  /** Default sha256. */
  digest?: DigestName;
  /** eContentType; default id-data. */
  contentType?: string;
  /** Leave the content out of the SignedData (a detached signature). */
  detached?: boolean;
  /** Signed attributes besides contentType, messageDigest and signingTime. */
  attributes?: CmsAttribute[];
  /** signingTime attribute value; `false` leaves it out. Default: now. */
  signingTime?: Date | false;
  /** Certificates to embed, in order; default the signer's certificate followed by its chain. */
  certificates?: Uint8Array[];
}

/** The signatureAlgorithm of a SignerInfo: rsaEncryption as openssl and Apple write it, ECDSA with the hash. */
function signerInfoAlgorithm(signer: SigningIdentity, hash: DigestName): Uint8Array {
  if (signer.key.asymmetricKeyType === "rsa") return algorithmIdentifier(OID.rsaEncryption, nullValue());
  if (signer.key.asymmetricKeyType === "ec") {
    const byHash: Record<DigestName, string> = {
      sha1: OID.ecdsaWithSHA1,
      sha256: OID.ecdsaWithSHA256,
      sha384: OID.ecdsaWithSHA384,
      sha512: OID.ecdsaWithSHA512,
    };
    return algorithmIdentifier(byHash[hash]);
  }
  throw new CmsError("unsupported-algorithm", `cannot sign CMS with a ${String(signer.key.asymmetricKeyType)} key`);
}

/**
 * Produces a ContentInfo(SignedData) in DER with one signer identified by issuer and serial number,
 * carrying the contentType, messageDigest and (by default) signingTime signed attributes.
 */
export function signCms(content: Uint8Array, signer: SigningIdentity, opts: SignOptions = {}): Uint8Array {
  const hash = opts.digest ?? "sha256";
  const contentType = opts.contentType ?? OID.data;
  const cert = parseCertificate(signer.certDer);
  const attrs: CmsAttribute[] = [
    { oid: OID.contentType, values: [oid(contentType)] },
    { oid: OID.messageDigest, values: [octetString(digest(hash, content))] },
    ...(opts.signingTime === false ? [] : [{ oid: OID.signingTime, values: [time(opts.signingTime ?? new Date())] }]),
    ...(opts.attributes ?? []),
  ];
  const signedAttrs = encodeAttributeSet(attrs);
  const signature = signData(signer.key, hash, signedAttrs);
  const signerInfo = sequence(
    integer(1),
    issuerAndSerialNumber(cert),
    digestAlgorithmIdentifier(hash),
    implicit(0, signedAttrs),
    signerInfoAlgorithm(signer, hash),
    octetString(signature),
  );
  const certificates = opts.certificates ?? [signer.certDer, ...(signer.chainDer ?? [])];
  // RFC 5652 5.1: version 1 for id-data with issuerAndSerialNumber signers, 3 for other content types.
  const version = contentType === OID.data ? 1 : 3;
  const signedData = sequence(
    integer(version),
    setOf(digestAlgorithmIdentifier(hash)),
    opts.detached ? sequence(oid(contentType)) : sequence(oid(contentType), explicit(0, octetString(content))),
    // The certificate SET keeps our order: SCEP clients read the first certificate as the issued one.
    ...(certificates.length > 0 ? [tlv(0xa0, ...certificates)] : []),
    setOf(signerInfo),
  );
  return wrapContentInfo(OID.signedData, signedData);
}

/** Signs a configuration profile: attached content, SHA-256, signer chain included. */
export function signProfile(content: Uint8Array, signer: SigningIdentity): Uint8Array {
  return signCms(content, signer, { digest: "sha256" });
}

/** A certs-only ("degenerate") SignedData: no content, no signers, the certificates in the given order. */
export function certsOnly(certificates: readonly Uint8Array[]): Uint8Array {
  const signedData = sequence(
    integer(1),
    setInOrder(),
    sequence(oid(OID.data)),
    tlv(0xa0, ...certificates),
    setInOrder(),
  );
  return wrapContentInfo(OID.signedData, signedData);
}

export type SignerIdentifier = { issuerAndSerial: Asn1Node } | { subjectKeyId: Uint8Array };

export interface ParsedSignerInfo {
  sid: SignerIdentifier;
  digestAlgorithmOid: string;
  /** The signed attributes re-encoded with the SET tag, i.e. the bytes the signature covers. */
  signedAttributesDer?: Uint8Array;
  signedAttributes: ParsedAttribute[];
  signatureAlgorithm: Asn1Node;
  signature: Uint8Array;
}

export interface ParsedSignedData {
  contentType: string;
  /** The encapsulated content; absent for detached signatures and certs-only messages. */
  content?: Uint8Array;
  /** Embedded certificates (DER) in the order they appear. */
  certificates: Uint8Array[];
  signerInfos: ParsedSignerInfo[];
}

/** Parses a ContentInfo(SignedData) (BER accepted). Throws CmsError("malformed") on bad input. */
export function parseSignedData(der: Uint8Array | Asn1Node): ParsedSignedData {
  const sd = unwrapContentInfo(der, OID.signedData, "SignedData");
  return parsing("SignedData", () => {
    const f = sd.children;
    const encap = expectTag(f[2], Tag.SEQUENCE, "encapContentInfo");
    const contentType = readOid(encap.children[0], "eContentType");
    const eContent = encap.children[1];
    let content: Uint8Array | undefined;
    if (eContent) {
      if (contextTag(eContent) !== 0 || !eContent.children[0]) throw new CmsError("malformed", "SignedData: bad eContent");
      content = octetStringValue(eContent.children[0], "eContent");
    }
    const certificates: Uint8Array[] = [];
    let i = 3;
    for (; i < f.length && contextTag(f[i]!) >= 0; i++) {
      // [0] certificates: keep X.509 certificates, skip attribute/other certificate choices.
      if (contextTag(f[i]!) === 0) for (const c of f[i]!.children) if (c.tag === Tag.SEQUENCE) certificates.push(c.raw);
    }
    const signerSet = expectTag(f[i], Tag.SET, "signerInfos");
    const signerInfos = signerSet.children.map(parseSignerInfo);
    return content === undefined ? { contentType, certificates, signerInfos } : { contentType, content, certificates, signerInfos };
  });
}

function parseSignerInfo(node: Asn1Node): ParsedSignerInfo {
  expectTag(node, Tag.SEQUENCE, "SignerInfo");
  const f = node.children;
  const sidNode = f[1];
  if (!sidNode) throw new CmsError("malformed", "SignerInfo: no sid");
  const sid: SignerIdentifier =
    contextTag(sidNode) === 0 ? { subjectKeyId: sidNode.content } : { issuerAndSerial: expectTag(sidNode, Tag.SEQUENCE, "sid") };
  const digestAlgorithmOid = readOid(expectTag(f[2], Tag.SEQUENCE, "digestAlgorithm").children[0], "digestAlgorithm");
  let i = 3;
  let signedAttributesDer: Uint8Array | undefined;
  let signedAttributes: ParsedAttribute[] = [];
  if (f[i] && contextTag(f[i]!) === 0) {
    const attrs = f[i++]!;
    // The signature covers the DER of the SET OF, i.e. the [0] IMPLICIT encoding with the SET tag.
    signedAttributesDer = Uint8Array.from(attrs.raw);
    signedAttributesDer[0] = Tag.SET;
    signedAttributes = decodeAttributes(attrs);
  }
  const signatureAlgorithm = expectTag(f[i++], Tag.SEQUENCE, "signatureAlgorithm");
  const signature = octetStringValue(expectTag(f[i], Tag.OCTET_STRING, "signature"));
  const out: ParsedSignerInfo = { sid, digestAlgorithmOid, signedAttributes, signatureAlgorithm, signature };
  if (signedAttributesDer) out.signedAttributesDer = signedAttributesDer;
  return out;
}

/** Certificates of a certs-only message (e.g. a GetCACert reply or a CertRep payload), in order. */
export function parseCertsOnly(der: Uint8Array): Uint8Array[] {
  return parseSignedData(der).certificates;
}

export interface VerifyOptions {
  /** Content of a detached signature. */
  detachedContent?: Uint8Array;
  /** Digests accepted; default SHA-1 and SHA-2 (Apple devices still sign with SHA-1). */
  allowedDigests?: readonly DigestName[];
  /** Certificates to look the signer up in besides the embedded ones. */
  extraCertificates?: readonly Uint8Array[];
}

export interface VerifiedSignedData {
  signerCertDer: Uint8Array;
  signerCert: Certificate;
  content: Uint8Array;
  contentType: string;
  digest: DigestName;
  signedAttributes: ParsedAttribute[];
  signingTime?: Date;
  /** All embedded certificates, for chain building by the caller. */
  certificates: Uint8Array[];
}

/**
 * Verifies every SignerInfo (message digest, content type, signature) and returns the first
 * signer's certificate. It proves the content was signed by that certificate's key; whether that
 * certificate is trusted is the caller's decision (see isIssuedBy).
 */
export function verifySignedData(input: Uint8Array | ParsedSignedData, opts: VerifyOptions = {}): VerifiedSignedData {
  const sd = input instanceof Uint8Array ? parseSignedData(input) : input;
  const content = sd.content ?? opts.detachedContent;
  if (content === undefined) throw new CmsError("no-content", "SignedData has no content and none was supplied");
  if (sd.signerInfos.length === 0) throw new CmsError("signer-not-found", "SignedData has no signers");
  const allowed = opts.allowedDigests ?? ["sha1", "sha256", "sha384", "sha512"];
  // A certificate that cannot be read makes the whole message malformed: which one signed cannot be told without reading them.
  const pool = [...sd.certificates, ...(opts.extraCertificates ?? [])].map((der, i) => {
    try {
      return parseCertificate(der);
    } catch (e) {
      if (e instanceof CertificateError) throw new CmsError("malformed", `certificate ${i + 1} in the SignedData: ${e.message}`);
      throw e;
    }
  });
  let first: VerifiedSignedData | undefined;
  for (const si of sd.signerInfos) {
    let hash: DigestName;
    try {
      hash = digestFromOid(si.digestAlgorithmOid);
    } catch (e) {
      if (e instanceof UnsupportedAlgorithmError) throw new CmsError("unsupported-algorithm", e.message, si.digestAlgorithmOid);
      throw e;
    }
    if (!allowed.includes(hash)) throw new CmsError("algorithm-not-allowed", `digest ${hash} is not accepted`, hash);
    const signer = pool.find((c) => signerMatches(si.sid, c));
    if (!signer) throw new CmsError("signer-not-found", "the signer's certificate is not in the message");
    const contentDigest = digest(hash, content);
    let signedBytes: Uint8Array = content;
    if (si.signedAttributesDer) {
      const md = findAttribute(si.signedAttributes, OID.messageDigest);
      if (!md || !Buffer.from(parsing("messageDigest attribute", () => octetStringValue(md))).equals(Buffer.from(contentDigest))) {
        throw new CmsError("digest-mismatch", "messageDigest does not match the content");
      }
      const ct = findAttribute(si.signedAttributes, OID.contentType);
      if (!ct || parsing("contentType attribute", () => readOid(ct)) !== sd.contentType) {
        throw new CmsError("content-type-mismatch", "contentType attribute does not match");
      }
      signedBytes = si.signedAttributesDer;
    }
    let publicKey: KeyObject;
    try {
      publicKey = certificatePublicKey(signer);
    } catch (e) {
      if (e instanceof KeyError) throw new CmsError("malformed", `the signer's certificate: ${e.message}`);
      throw e;
    }
    let ok: boolean;
    try {
      ok = parsing("SignerInfo signatureAlgorithm", () => verifyWithAlgorithm(si.signatureAlgorithm, publicKey, signedBytes, si.signature, hash));
    } catch (e) {
      if (e instanceof UnsupportedAlgorithmError) throw new CmsError("unsupported-algorithm", e.message, e.algorithm);
      throw e;
    }
    if (!ok) throw new CmsError("bad-signature", "the signature does not verify");
    if (!first) {
      const st = findAttribute(si.signedAttributes, OID.signingTime);
      first = {
        signerCertDer: signer.der,
        signerCert: signer,
        content,
        contentType: sd.contentType,
        digest: hash,
        signedAttributes: si.signedAttributes,
        certificates: sd.certificates,
      };
      if (st) {
        try {
          first.signingTime = readTime(st);
        } catch {
          // an unreadable signingTime is not a reason to reject the signature
        }
      }
    }
  }
  return first!;
}

function signerMatches(sid: SignerIdentifier, cert: Certificate): boolean {
  if ("issuerAndSerial" in sid) return matchesIssuerAndSerial(sid.issuerAndSerial, cert);
  const ski = certificateSubjectKeyId(cert);
  return ski !== undefined && Buffer.from(ski).equals(Buffer.from(sid.subjectKeyId));
}
