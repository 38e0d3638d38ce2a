// The SCEP server logic (RFC 8894) as pure functions: the HTTP route hands over the request bytes
// and gets back the reply bytes plus an outcome to log and record. Everything that needs storage
// (challenge checking, issuance, revocation) is a callback in the context.

import {
  certificatePublicKey,
  isIssuedBy,
  isValidAt,
  parseCertificate,
  subjectString,
  type Certificate,
} from "./certificate.ts";
import { CmsError } from "./cms.ts";
import { decryptEnvelope, envelopeAlgorithm, envelopeIsFor, type ContentEncryptionAlgorithm } from "./cms-enveloped-data.ts";
import { certsOnly, verifySignedData, type VerifiedSignedData } from "./cms-signed-data.ts";
import { CsrError, parseCsr, type Csr } from "./csr.ts";
import { Asn1Error, Tag, readIntegerBytes } from "./der.ts";
import type { SigningIdentity } from "./issue.ts";
import {
  ScepMessageError,
  buildCertRep,
  readNamePair,
  readPkiMessage,
  type FailInfoName,
  type MessageTypeName,
  type PkiMessage,
  type PkiStatusName,
} from "./scep-message.ts";
import { NameError } from "./names.ts";
import { digestFromOid, type DigestName } from "./signature-algorithms.ts";

export interface ScepLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export type CheckResult = { ok: true; profileId?: string } | { ok: false; reason: string };

export interface IssueRequest {
  messageType: "PKCSReq" | "RenewalReq";
  transactionId: string;
  csr: Csr;
  /** The certificate that signed the request: self-signed for a PKCSReq, the current one for a RenewalReq. */
  signerCert: Certificate;
  /** From checkChallenge / checkRenewal. */
  profileId?: string;
}

/** The issued certificate (DER), or a decision not to issue (yet). */
export type IssueResult = Uint8Array | { status: "PENDING" } | { status: "FAILURE"; failInfo: FailInfoName; reason: string };

export interface ScepContext {
  /** The RA identity: decrypts requests, signs replies. */
  ra: SigningIdentity;
  /** Earlier RA identities still accepted for decryption while clients hold their certificate. */
  previousRas?: SigningIdentity[];
  /** The issuing CA (certificate and chain; its key stays with the `issue` callback). */
  ca: { certDer: Uint8Array; chainDer?: Uint8Array[] };
  /** Decides a PKCSReq's challengePassword (a secret: never log it). Reuse and expiry are its business. */
  checkChallenge(challenge: string | undefined, req: { csr: Csr; transactionId: string }): Promise<CheckResult>;
  /**
   * Decides a RenewalReq signed by a certificate this CA issued and that is still valid (e.g. refuse a
   * revoked or unknown one). Without it, any such certificate may renew.
   */
  checkRenewal?(cert: Certificate, req: { csr: Csr; transactionId: string }): Promise<CheckResult>;
  issue(req: IssueRequest): Promise<IssueResult>;
  /** CertPoll (GetCertInitial) for manual enrollment; without it CertPoll fails with badRequest. */
  poll?(req: { transactionId: string; issuerDer: Uint8Array; subjectDer: Uint8Array }): Promise<IssueResult | undefined>;
  /** GetCert: a certificate by issuer and serial; without it GetCert fails with badRequest. */
  getCert?(req: { issuerDer: Uint8Array; serialNumberHex: string }): Promise<Uint8Array | undefined>;
  /** Accept single-DES envelopes from legacy clients. Default false (DES gets failInfo badAlg). */
  allowLegacyDes?: boolean;
  /** Smallest RSA key accepted in a CSR. Default 2048. */
  minRsaBits?: number;
  /** Accept SHA-1 signed requests (many SCEP clients). Default true. */
  allowSha1?: boolean;
  logger?: ScepLogger;
  now?: () => Date;
}

export interface ScepOutcome {
  status: PkiStatusName;
  failInfo?: FailInfoName;
  /** Why it failed, for logs and audit (not sent to the client). */
  reason?: string;
  transactionId: string;
  messageType: MessageTypeName | number;
  issuedCertDer?: Uint8Array;
  profileId?: string;
  /** The request's signing certificate. */
  signerCertDer?: Uint8Array;
  contentEncryption?: ContentEncryptionAlgorithm;
  digest?: DigestName;
}

export interface ScepReply {
  /** The CertRep, to send as application/x-pki-message. */
  reply: Uint8Array;
  outcome: ScepOutcome;
}

/** Thrown for input that is not a SCEP message at all: the route answers HTTP 400. */
export { ScepMessageError };

class Refusal extends Error {
  constructor(
    readonly failInfo: FailInfoName,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const EC_CURVES = new Set(["prime256v1", "secp384r1", "secp521r1"]);
const MAX_RSA_BITS = 8192;

/**
 * Handles a PKIOperation. Returns a CertRep for everything that is a SCEP message, including
 * refusals (FAILURE with failInfo); throws ScepMessageError for input that is not one.
 */
export async function handleScepRequest(request: Uint8Array, ctx: ScepContext): Promise<ScepReply> {
  const msg = readPkiMessage(request);
  const now = ctx.now?.() ?? new Date();
  const outcome: ScepOutcome = {
    status: "FAILURE",
    transactionId: msg.transactionId,
    messageType: msg.messageTypeName ?? msg.messageType,
  };
  let digest: DigestName = "sha256";
  let encryption: ContentEncryptionAlgorithm = "aes-256-cbc";
  let verified: VerifiedSignedData | undefined;

  const reply = (status: PkiStatusName, extra: { failInfo?: FailInfoName; certificates?: Uint8Array[] } = {}): ScepReply => {
    const der = buildCertRep({
      transactionId: msg.transactionId,
      recipientNonce: msg.senderNonce,
      status,
      ...(extra.failInfo ? { failInfo: extra.failInfo } : {}),
      ...(extra.certificates && verified
        ? { certificates: extra.certificates, recipientCertDer: verified.signerCertDer }
        : {}),
      encryption,
      digest,
      ra: ctx.ra,
    });
    outcome.status = status;
    if (extra.failInfo) outcome.failInfo = extra.failInfo;
    log(ctx, outcome);
    return { reply: der, outcome };
  };

  try {
    // 1. Who signed it, and is the signature good? The reply uses the request's digest once it is accepted.
    let requestDigest: DigestName;
    try {
      requestDigest = digestFromOid(msg.signedData.signerInfos[0]!.digestAlgorithmOid);
    } catch {
      throw new Refusal("badAlg", "unsupported digest algorithm");
    }
    verified = verifyRequestSignature(msg, ctx);
    digest = requestDigest;
    outcome.digest = digest;
    outcome.signerCertDer = verified.signerCertDer;

    // 2. Is the envelope for us, in an algorithm we accept? Then open it with the RA key.
    if (!msg.envelope) throw new Refusal("badRequest", "the request carries no pkcsPKIEnvelope");
    const envelope = msg.envelope;
    let alg: ReturnType<typeof envelopeAlgorithm>;
    try {
      alg = envelopeAlgorithm(envelope);
    } catch {
      throw new Refusal("badMessageCheck", "the pkcsPKIEnvelope is not an EnvelopedData");
    }
    if (!alg.name) throw new Refusal("badAlg", `unsupported content encryption ${alg.oid}`);
    if (alg.name === "des-cbc" && !ctx.allowLegacyDes) throw new Refusal("badAlg", "single DES is not allowed");
    encryption = alg.name;
    outcome.contentEncryption = alg.name;
    const ra = [ctx.ra, ...(ctx.previousRas ?? [])].find((r) => isFor(envelope, r.certDer));
    if (!ra) throw new Refusal("badMessageCheck", "the request is encrypted to a certificate other than the RA's");
    let messageData: Uint8Array;
    try {
      messageData = decryptEnvelope(envelope, ra.key, { recipientCertDer: ra.certDer, allowDes: ctx.allowLegacyDes ?? false }).content;
    } catch (e) {
      if (e instanceof CmsError && (e.code === "unsupported-algorithm" || e.code === "algorithm-not-allowed")) {
        throw new Refusal("badAlg", e.message);
      }
      throw new Refusal("badMessageCheck", "the pkcsPKIEnvelope could not be decrypted");
    }

    // 3. The operation itself.
    switch (msg.messageTypeName) {
      case "PKCSReq":
      case "RenewalReq":
        return await enroll(msg.messageTypeName, messageData, verified, ctx, now, outcome, reply);
      case "CertPoll":
        return await certPoll(messageData, msg, ctx, outcome, reply);
      case "GetCert":
        return await getCert(messageData, ctx, outcome, reply);
      case "GetCRL":
        throw new Refusal("badRequest", "CRLs are not distributed over SCEP");
      default:
        throw new Refusal("badRequest", `unsupported messageType ${msg.messageType}`);
    }
  } catch (e) {
    if (e instanceof Refusal) {
      outcome.reason = e.reason;
      return reply("FAILURE", { failInfo: e.failInfo });
    }
    throw e;
  }
}

function isFor(envelope: Uint8Array, certDer: Uint8Array): boolean {
  try {
    return envelopeIsFor(envelope, certDer);
  } catch (e) {
    if (e instanceof CmsError) return false;
    throw e;
  }
}

function verifyRequestSignature(msg: PkiMessage, ctx: ScepContext): VerifiedSignedData {
  const allowedDigests: DigestName[] = ctx.allowSha1 === false ? ["sha256", "sha384", "sha512"] : ["sha1", "sha256", "sha384", "sha512"];
  try {
    return verifySignedData(msg.signedData, { allowedDigests });
  } catch (e) {
    if (e instanceof CmsError) {
      // Not a well-formed signed message (an unreadable embedded certificate or signer key, a garbled signed
      // attribute): HTTP 400 like any unreadable pkiMessage. A well-formed one that fails a check gets a CertRep.
      if (e.code === "malformed") throw new ScepMessageError(`malformed SignedData: ${e.message}`);
      if (e.code === "unsupported-algorithm" || e.code === "algorithm-not-allowed") throw new Refusal("badAlg", e.message);
      if (e.code === "signer-not-found") throw new Refusal("badCertId", "the signer certificate is not in the request");
      throw new Refusal("badMessageCheck", `signature check failed: ${e.message}`);
    }
    throw e;
  }
}

type Reply = (status: PkiStatusName, extra?: { failInfo?: FailInfoName; certificates?: Uint8Array[] }) => ScepReply;

async function enroll(
  type: "PKCSReq" | "RenewalReq",
  messageData: Uint8Array,
  verified: VerifiedSignedData,
  ctx: ScepContext,
  now: Date,
  outcome: ScepOutcome,
  reply: Reply,
): Promise<ScepReply> {
  let csr: Csr;
  try {
    csr = parseCsr(messageData);
  } catch (e) {
    if (e instanceof CsrError) throw new Refusal("badRequest", e.message);
    throw e;
  }
  if (!csr.signatureValid) throw new Refusal("badMessageCheck", "the PKCS #10 request's signature does not verify");
  checkKeyPolicy(csr, ctx.minRsaBits ?? 2048);
  // The reply is encrypted to the signer's key with RSA key transport.
  if (certificatePublicKey(verified.signerCert).asymmetricKeyType !== "rsa") {
    throw new Refusal("badAlg", "the request must be signed with an RSA key to receive an encrypted reply");
  }

  let check: CheckResult;
  if (type === "PKCSReq") {
    check = await ctx.checkChallenge(csr.challengePassword, { csr, transactionId: outcome.transactionId });
    if (!check.ok) throw new Refusal("badRequest", `challenge refused: ${check.reason}`);
  } else {
    const caCert = parseCertificate(ctx.ca.certDer);
    if (!isIssuedBy(verified.signerCert, caCert)) {
      throw new Refusal("badCertId", `renewal signed by a certificate this CA did not issue (${signerName(verified.signerCert)})`);
    }
    if (!isValidAt(verified.signerCert, now)) throw new Refusal("badTime", "renewal signed by a certificate that is not valid now");
    check = ctx.checkRenewal ? await ctx.checkRenewal(verified.signerCert, { csr, transactionId: outcome.transactionId }) : { ok: true };
    if (!check.ok) throw new Refusal("badRequest", `renewal refused: ${check.reason}`);
  }
  if (check.profileId !== undefined) outcome.profileId = check.profileId;

  const req: IssueRequest = { messageType: type, transactionId: outcome.transactionId, csr, signerCert: verified.signerCert };
  if (check.profileId !== undefined) req.profileId = check.profileId;
  const result = await ctx.issue(req);
  return answerIssue(result, outcome, reply);
}

function answerIssue(result: IssueResult, outcome: ScepOutcome, reply: Reply): ScepReply {
  if (result instanceof Uint8Array) {
    outcome.issuedCertDer = result;
    return reply("SUCCESS", { certificates: [result] });
  }
  if (result.status === "PENDING") return reply("PENDING");
  throw new Refusal(result.failInfo, result.reason);
}

/** The signer's subject for a refusal reason; the request's certificate is not signed by us, so its name may be garbage. */
function signerName(cert: Certificate): string {
  try {
    return subjectString(cert);
  } catch (e) {
    if (e instanceof NameError) return `unreadable subject, SHA-256 fingerprint ${cert.fingerprint}`;
    throw e;
  }
}

function checkKeyPolicy(csr: Csr, minRsaBits: number): void {
  const k = csr.key;
  if (k.type === "rsa") {
    if (k.bits < minRsaBits) throw new Refusal("badRequest", `RSA key of ${k.bits} bits is below the minimum of ${minRsaBits}`);
    // Devices use 2048 or 4096; anything far larger only makes every later verification slow.
    if (k.bits > MAX_RSA_BITS) throw new Refusal("badRequest", `RSA key of ${k.bits} bits is above the maximum of ${MAX_RSA_BITS}`);
    return;
  }
  if (k.type === "ec" && k.curve && EC_CURVES.has(k.curve)) return;
  throw new Refusal("badRequest", `key type ${k.type}${k.curve ? ` (${k.curve})` : ""} is not accepted`);
}

async function certPoll(messageData: Uint8Array, msg: PkiMessage, ctx: ScepContext, outcome: ScepOutcome, reply: Reply) {
  const { issuerDer, second } = namePair(messageData);
  if (second.tag !== Tag.SEQUENCE) throw new Refusal("badRequest", "CertPoll messageData is not IssuerAndSubject");
  if (!ctx.poll) throw new Refusal("badRequest", "manual enrollment (CertPoll) is not supported");
  const result = await ctx.poll({ transactionId: msg.transactionId, issuerDer, subjectDer: second.raw });
  if (!result) throw new Refusal("badCertId", "no request with this transactionID");
  return answerIssue(result, outcome, reply);
}

async function getCert(messageData: Uint8Array, ctx: ScepContext, outcome: ScepOutcome, reply: Reply) {
  const { issuerDer, second } = namePair(messageData);
  let serial: Uint8Array;
  try {
    serial = readIntegerBytes(second, "serialNumber");
  } catch {
    throw new Refusal("badRequest", "GetCert messageData is not IssuerAndSerialNumber");
  }
  if (!ctx.getCert) throw new Refusal("badRequest", "GetCert is not supported");
  let start = 0;
  while (start < serial.length - 1 && serial[start] === 0) start++;
  const cert = await ctx.getCert({ issuerDer, serialNumberHex: Buffer.from(serial.subarray(start)).toString("hex") });
  if (!cert) throw new Refusal("badCertId", "no such certificate");
  outcome.issuedCertDer = cert;
  return reply("SUCCESS", { certificates: [cert] });
}

function namePair(messageData: Uint8Array) {
  try {
    return readNamePair(messageData);
  } catch (e) {
    if (e instanceof Asn1Error || e instanceof ScepMessageError) throw new Refusal("badRequest", `unreadable messageData: ${e.message}`);
    throw e;
  }
}

function log(ctx: ScepContext, o: ScepOutcome): void {
  if (!ctx.logger) return;
  const fields = {
    transactionId: o.transactionId,
    messageType: o.messageType,
    status: o.status,
    ...(o.failInfo ? { failInfo: o.failInfo, reason: o.reason } : {}),
    ...(o.contentEncryption ? { contentEncryption: o.contentEncryption } : {}),
    ...(o.digest ? { digest: o.digest } : {}),
    ...(o.profileId ? { profileId: o.profileId } : {}),
  };
  if (o.status === "FAILURE") ctx.logger.warn(fields, "SCEP request refused");
  else ctx.logger.info(fields, "SCEP request handled");
}

// ---- GetCACaps and GetCACert -----------------------------------------------------------------

/**
 * The GetCACaps keywords (RFC 8894 3.5.2). DES is never advertised: with allowLegacyDes it is
 * accepted from clients that use it regardless, but nobody should be invited to pick it.
 */
export function scepCapabilities(opts: { renewal?: boolean } = {}): string[] {
  return [
    "AES",
    "DES3",
    "POSTPKIOperation",
    ...(opts.renewal === false ? [] : ["Renewal"]),
    "SHA-1",
    "SHA-256",
    "SHA-512",
    "SCEPStandard",
  ];
}

/** The GetCACaps response body (text/plain), one keyword per line. */
export function getCaCapsText(opts: { renewal?: boolean } = {}): string {
  return scepCapabilities(opts).join("\n") + "\n";
}

export interface CaCertResponse {
  contentType: "application/x-x509-ca-cert" | "application/x-x509-ca-ra-cert";
  body: Uint8Array;
}

/**
 * The GetCACert response (RFC 8894 4.2.1): with an RA, a certs-only PKCS #7 holding the CA, the RA and
 * the CA's chain (application/x-x509-ca-ra-cert); without one, the CA certificate's DER alone.
 */
export function getCaCertResponse(ca: { certDer: Uint8Array; chainDer?: Uint8Array[] }, ra?: { certDer: Uint8Array }): CaCertResponse {
  if (!ra) return { contentType: "application/x-x509-ca-cert", body: ca.certDer };
  return { contentType: "application/x-x509-ca-ra-cert", body: certsOnly([ca.certDer, ra.certDer, ...(ca.chainDer ?? [])]) };
}
