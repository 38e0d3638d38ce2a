// SCEP messages (RFC 8894 section 3): the pkiMessage a client sends and the CertRep a CA answers
// with, read and written in both directions (the server uses one half, the device simulator the other).
//
//   pkiMessage = ContentInfo(SignedData) signed by the requester, signed attributes
//                messageType, transactionID, senderNonce (+ pkiStatus, failInfo, recipientNonce in
//                a CertRep); its content is the pkcsPKIEnvelope, an EnvelopedData holding the
//                messageData (a PKCS #10 request, IssuerAndSubject or IssuerAndSerialNumber, or in
//                a successful CertRep a certs-only SignedData).

import { randomBytes } from "node:crypto";
import {
  Tag,
  expectTag,
  isPrintableString,
  octetString,
  octetStringValue,
  parseAsn1,
  printableString,
  readString,
  sequence,
  utf8String,
  type Asn1Node,
} from "./der.ts";
import { CmsError, findAttribute, type CmsAttribute, type ParsedAttribute } from "./cms.ts";
import { decryptEnvelope, encryptToCertificate, type ContentEncryptionAlgorithm } from "./cms-enveloped-data.ts";
import { certsOnly, parseCertsOnly, parseSignedData, signCms, type ParsedSignedData } from "./cms-signed-data.ts";
import type { SigningIdentity } from "./issue.ts";
import { OID } from "./oids.ts";
import type { DigestName } from "./signature-algorithms.ts";

export const MESSAGE_TYPES = {
  CertRep: 3,
  RenewalReq: 17,
  PKCSReq: 19,
  CertPoll: 20,
  GetCert: 21,
  GetCRL: 22,
} as const;
export type MessageTypeName = keyof typeof MESSAGE_TYPES;

export const PKI_STATUS = { SUCCESS: 0, FAILURE: 2, PENDING: 3 } as const;
export type PkiStatusName = keyof typeof PKI_STATUS;

export const FAIL_INFO = { badAlg: 0, badMessageCheck: 1, badRequest: 2, badTime: 3, badCertId: 4 } as const;
export type FailInfoName = keyof typeof FAIL_INFO;

const byValue = <T extends Record<string, number>>(table: T) =>
  new Map<number, keyof T>(Object.entries(table).map(([k, v]) => [v, k as keyof T]));
const MESSAGE_TYPE_NAMES = byValue(MESSAGE_TYPES);
const STATUS_NAMES = byValue(PKI_STATUS);
const FAIL_INFO_NAMES = byValue(FAIL_INFO);

/** Input that is not a SCEP message at all (garbage, truncated, missing transactionID or senderNonce): HTTP 400. */
export class ScepMessageError extends Error {
  override readonly name = "ScepMessageError";
  readonly httpStatus = 400;
}

export interface PkiMessage {
  /** The numeric messageType as sent (it may be one we do not know). */
  messageType: number;
  messageTypeName?: MessageTypeName;
  transactionId: string;
  senderNonce: Uint8Array;
  recipientNonce?: Uint8Array;
  pkiStatus?: PkiStatusName;
  failInfo?: FailInfoName;
  failInfoText?: string;
  /** The pkcsPKIEnvelope: the SignedData's content (absent in failed or pending CertReps). */
  envelope?: Uint8Array;
  signedData: ParsedSignedData;
}

function attributeString(attrs: readonly ParsedAttribute[], attrOid: string): string | undefined {
  const v = findAttribute(attrs, attrOid);
  return v ? readString(v, attrOid) : undefined;
}

function attributeNumber(attrs: readonly ParsedAttribute[], attrOid: string): number | undefined {
  const s = attributeString(attrs, attrOid);
  if (s === undefined) return undefined;
  if (!/^\d{1,3}$/.test(s.trim())) throw new ScepMessageError(`SCEP attribute ${attrOid} is not a number: "${s.slice(0, 16)}"`);
  return Number(s.trim());
}

/**
 * Reads the SCEP layer of a pkiMessage without verifying it. Throws ScepMessageError when the bytes
 * are not a SignedData or lack the attributes needed to answer at all (transactionID, senderNonce).
 */
export function readPkiMessage(der: Uint8Array): PkiMessage {
  let signedData: ParsedSignedData;
  try {
    signedData = parseSignedData(der);
  } catch (e) {
    if (e instanceof CmsError) throw new ScepMessageError(`not a SCEP pkiMessage: ${e.message}`);
    throw e;
  }
  const si = signedData.signerInfos[0];
  if (!si) throw new ScepMessageError("SCEP pkiMessage has no signer");
  try {
    const attrs = si.signedAttributes;
    const transactionId = attributeString(attrs, OID.scepTransactionId);
    const nonce = findAttribute(attrs, OID.scepSenderNonce);
    if (transactionId === undefined) throw new ScepMessageError("SCEP pkiMessage has no transactionID");
    // The CertRep echoes the transactionID as a PrintableString (RFC 8894 3.2.1.1), so a value that cannot be
    // written as one leaves no way to answer: refuse it here rather than fail while building the reply.
    if (!isPrintableString(transactionId)) {
      throw new ScepMessageError("SCEP transactionID is not a PrintableString (letters, digits and ' ()+,-./:=? only)");
    }
    if (!nonce) throw new ScepMessageError("SCEP pkiMessage has no senderNonce");
    const messageType = attributeNumber(attrs, OID.scepMessageType);
    if (messageType === undefined) throw new ScepMessageError("SCEP pkiMessage has no messageType");
    const msg: PkiMessage = {
      messageType,
      transactionId,
      senderNonce: octetStringValue(nonce, "senderNonce"),
      signedData,
    };
    const name = MESSAGE_TYPE_NAMES.get(messageType);
    if (name) msg.messageTypeName = name;
    const rn = findAttribute(attrs, OID.scepRecipientNonce);
    if (rn) msg.recipientNonce = octetStringValue(rn, "recipientNonce");
    const status = attributeNumber(attrs, OID.scepPkiStatus);
    if (status !== undefined) {
      const s = STATUS_NAMES.get(status);
      if (!s) throw new ScepMessageError(`unknown pkiStatus ${status}`);
      msg.pkiStatus = s;
    }
    const fail = attributeNumber(attrs, OID.scepFailInfo);
    if (fail !== undefined) {
      const f = FAIL_INFO_NAMES.get(fail);
      if (!f) throw new ScepMessageError(`unknown failInfo ${fail}`);
      msg.failInfo = f;
    }
    const text = attributeString(attrs, OID.scepFailInfoText);
    if (text !== undefined) msg.failInfoText = text;
    if (signedData.content !== undefined && signedData.content.length > 0) msg.envelope = signedData.content;
    return msg;
  } catch (e) {
    if (e instanceof ScepMessageError) throw e;
    throw new ScepMessageError(`unreadable SCEP attributes: ${(e as Error).message}`);
  }
}

/** A fresh 16-octet nonce, the size RFC 8894 3.2.1.5 uses. */
export const newNonce = (): Uint8Array => new Uint8Array(randomBytes(16));

function scepAttributes(a: {
  messageType: number;
  transactionId: string;
  senderNonce: Uint8Array;
  recipientNonce?: Uint8Array;
  pkiStatus?: PkiStatusName;
  failInfo?: FailInfoName;
  failInfoText?: string;
}): CmsAttribute[] {
  const attrs: CmsAttribute[] = [
    { oid: OID.scepMessageType, values: [printableString(String(a.messageType))] },
    { oid: OID.scepTransactionId, values: [printableString(a.transactionId)] },
    { oid: OID.scepSenderNonce, values: [octetString(a.senderNonce)] },
  ];
  if (a.recipientNonce) attrs.push({ oid: OID.scepRecipientNonce, values: [octetString(a.recipientNonce)] });
  if (a.pkiStatus) attrs.push({ oid: OID.scepPkiStatus, values: [printableString(String(PKI_STATUS[a.pkiStatus]))] });
  if (a.failInfo) attrs.push({ oid: OID.scepFailInfo, values: [printableString(String(FAIL_INFO[a.failInfo]))] });
  if (a.failInfoText) attrs.push({ oid: OID.scepFailInfoText, values: [utf8String(a.failInfoText)] });
  return attrs;
}

// ---- requests (client side) ------------------------------------------------------------------

export interface PkiRequestParams {
  messageType: Exclude<MessageTypeName, "CertRep">;
  transactionId: string;
  senderNonce?: Uint8Array;
  /** A PKCS #10 request (PKCSReq, RenewalReq), IssuerAndSubject (CertPoll) or IssuerAndSerialNumber (GetCert, GetCRL). */
  messageData: Uint8Array;
  /** The certificate to encrypt to: the RA certificate from GetCACert. */
  recipientCertDer: Uint8Array;
  /** A self-signed certificate for a PKCSReq, the current certificate for a RenewalReq. */
  signer: SigningIdentity;
  encryption?: ContentEncryptionAlgorithm;
  digest?: DigestName;
}

export function buildPkiRequest(p: PkiRequestParams): { der: Uint8Array; senderNonce: Uint8Array } {
  const senderNonce = p.senderNonce ?? newNonce();
  const envelope = encryptToCertificate(p.messageData, p.recipientCertDer, p.encryption ?? "aes-256-cbc");
  const der = signCms(envelope, p.signer, {
    digest: p.digest ?? "sha256",
    attributes: scepAttributes({ messageType: MESSAGE_TYPES[p.messageType], transactionId: p.transactionId, senderNonce }),
    signingTime: false,
    certificates: [p.signer.certDer],
  });
  return { der, senderNonce };
}

/** IssuerAndSubject (RFC 8894 3.3.3) for a CertPoll. */
export function issuerAndSubject(issuerDer: Uint8Array, subjectDer: Uint8Array): Uint8Array {
  return sequence(issuerDer, subjectDer);
}

// ---- CertRep (server side) -------------------------------------------------------------------

export interface CertRepParams {
  transactionId: string;
  /** The request's senderNonce. */
  recipientNonce: Uint8Array;
  status: PkiStatusName;
  failInfo?: FailInfoName;
  failInfoText?: string;
  /** SUCCESS: the certificates to return, the issued one first. */
  certificates?: Uint8Array[];
  /** SUCCESS: the requester's signing certificate, which the reply is encrypted to. */
  recipientCertDer?: Uint8Array;
  encryption?: ContentEncryptionAlgorithm;
  digest?: DigestName;
  /** The RA identity that signs the reply; its certificate is embedded. */
  ra: SigningIdentity;
  senderNonce?: Uint8Array;
}

export function buildCertRep(p: CertRepParams): Uint8Array {
  let content: Uint8Array = new Uint8Array(0);
  if (p.status === "SUCCESS") {
    if (!p.certificates?.length || !p.recipientCertDer) throw new TypeError("a SUCCESS CertRep needs certificates and a recipient");
    content = encryptToCertificate(certsOnly(p.certificates), p.recipientCertDer, p.encryption ?? "aes-256-cbc");
  } else if (p.status === "FAILURE" && !p.failInfo) {
    throw new TypeError("a FAILURE CertRep needs a failInfo");
  }
  const attributes = scepAttributes({
    messageType: MESSAGE_TYPES.CertRep,
    transactionId: p.transactionId,
    senderNonce: p.senderNonce ?? newNonce(),
    recipientNonce: p.recipientNonce,
    pkiStatus: p.status,
    ...(p.status === "FAILURE" ? { failInfo: p.failInfo! } : {}),
    ...(p.failInfoText ? { failInfoText: p.failInfoText } : {}),
  });
  // RFC 8894 3.3.2: a FAILURE or PENDING reply carries no pkcsPKIEnvelope, so the content is left out.
  return signCms(content, p.ra, {
    digest: p.digest ?? "sha256",
    attributes,
    signingTime: false,
    detached: p.status !== "SUCCESS",
    certificates: [p.ra.certDer],
  });
}

// ---- CertRep (client side) -------------------------------------------------------------------

/** Decrypts a SUCCESS CertRep's envelope with the requester's key and returns its certificates. */
export function openCertRepEnvelope(
  msg: PkiMessage,
  requester: SigningIdentity,
  opts: { allowDes?: boolean } = {},
): Uint8Array[] {
  if (!msg.envelope) throw new ScepMessageError("the CertRep carries no envelope");
  const { content } = decryptEnvelope(msg.envelope, requester.key, {
    recipientCertDer: requester.certDer,
    allowDes: opts.allowDes ?? false,
  });
  return parseCertsOnly(content);
}

/** The IssuerAndSubject or IssuerAndSerialNumber of a CertPoll/GetCert/GetCRL messageData. */
export function readNamePair(messageData: Uint8Array): { issuerDer: Uint8Array; second: Asn1Node } {
  const node = expectTag(parseAsn1(messageData), Tag.SEQUENCE, "messageData");
  const issuer = expectTag(node.children[0], Tag.SEQUENCE, "issuer");
  const second = node.children[1];
  if (!second) throw new ScepMessageError("messageData: missing subject or serial number");
  return { issuerDer: issuer.raw, second };
}
