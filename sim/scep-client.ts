// A SCEP client (RFC 8894), behaving like Apple's: it reads GetCACaps and GetCACert, enrolls with a
// PKCSReq carrying the challenge (signed with a throwaway self-signed certificate for the new key),
// renews with a RenewalReq signed by the current certificate, and checks every CertRep (signature
// by the RA/CA, transactionID, recipientNonce) before trusting the certificate inside.
// Used by the test suite and by the virtual device simulator.

import { createHash, type KeyObject } from "node:crypto";
import {
  certificateKeyUsage,
  isCertificateAuthority,
  isIssuedBy,
  parseCertificate,
  type Certificate,
} from "../src/pki/certificate.ts";
import type { ContentEncryptionAlgorithm } from "../src/pki/cms-enveloped-data.ts";
import { parseCertsOnly, verifySignedData } from "../src/pki/cms-signed-data.ts";
import { createCsr } from "../src/pki/csr.ts";
import type { GeneralName } from "../src/pki/extensions.ts";
import { selfSignedCertificate, type SigningIdentity } from "../src/pki/issue.ts";
import { spkiDer } from "../src/pki/keys.ts";
import { encodeName } from "../src/pki/names.ts";
import {
  buildPkiRequest,
  issuerAndSubject,
  openCertRepEnvelope,
  readPkiMessage,
  type FailInfoName,
  type PkiStatusName,
} from "../src/pki/scep-message.ts";
import type { DigestName } from "../src/pki/signature-algorithms.ts";

export interface FetchResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type FetchLike = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: Uint8Array },
) => Promise<FetchResponseLike>;

export class ScepClientError extends Error {
  override readonly name = "ScepClientError";
  constructor(
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

export interface ScepClientOptions {
  /** The SCEP URL, as in the profile's SCEP payload (e.g. "https://mdm.example.com/scep"). */
  url: string;
  /** Defaults to the global fetch; tests pass an in-process handler. */
  fetch?: FetchLike;
  /** Force algorithms regardless of GetCACaps (to exercise legacy paths). */
  force?: { encryption?: ContentEncryptionAlgorithm; digest?: "sha1" | "sha256"; method?: "GET" | "POST" };
  /** "AES" in GetCACaps: use AES-256 (default) or AES-128, the only size RFC 8894 promises. */
  aesKeySize?: 128 | 256;
  /** Optional CA identifier, sent as the `message` parameter of GetCACert/GetCACaps. */
  caIdentifier?: string;
}

export interface CaCertificates {
  contentType: string;
  /** Every certificate the server sent, in order. */
  certificates: Uint8Array[];
  caCertDer: Uint8Array;
  /** The certificate requests are encrypted to: the RA if there is one, else the CA. */
  recipientCertDer: Uint8Array;
}

export interface Algorithms {
  encryption: ContentEncryptionAlgorithm;
  digest: DigestName;
  method: "GET" | "POST";
}

export interface ScepResult {
  status: PkiStatusName;
  failInfo?: FailInfoName;
  failInfoText?: string;
  transactionId: string;
  /** SUCCESS: the issued certificate (the first of the certs-only reply). */
  certDer?: Uint8Array;
  certificates?: Uint8Array[];
  algorithms: Algorithms;
}

export interface RequestParams {
  messageType: "PKCSReq" | "RenewalReq" | "CertPoll" | "GetCert";
  messageData: Uint8Array;
  signer: SigningIdentity;
  transactionId: string;
  /** For enrollments: the key the issued certificate must certify. */
  expectedKey?: KeyObject;
  /** Encrypt to this certificate instead of the RA's (for negative tests). */
  recipientCertDer?: Uint8Array;
}

export interface EnrollParams {
  /** The new key pair's private key (the CSR certifies its public half). */
  key: KeyObject;
  subject: string;
  challenge?: string;
  subjectAltNames?: GeneralName[];
}

/**
 * The algorithms a client picks from GetCACaps: AES over 3DES (single DES only when forced),
 * SHA-256 over SHA-1, POST when offered.
 */
export function chooseAlgorithms(caps: readonly string[], opts: Pick<ScepClientOptions, "force" | "aesKeySize"> = {}): Algorithms {
  const has = (c: string) => caps.some((x) => x.toUpperCase() === c.toUpperCase());
  const standard = has("SCEPStandard"); // implies AES, POSTPKIOperation and SHA-256
  let encryption: ContentEncryptionAlgorithm;
  if (opts.force?.encryption) encryption = opts.force.encryption;
  else if (has("AES") || standard) encryption = opts.aesKeySize === 128 ? "aes-128-cbc" : "aes-256-cbc";
  else if (has("DES3")) encryption = "des-ede3-cbc";
  else throw new ScepClientError("the server offers neither AES nor 3DES; single DES is only used when forced");
  let digest: DigestName;
  if (opts.force?.digest) digest = opts.force.digest;
  else if (has("SHA-256") || standard) digest = "sha256";
  else if (has("SHA-1")) digest = "sha1";
  else digest = "sha256";
  const method = opts.force?.method ?? (has("POSTPKIOperation") || standard ? "POST" : "GET");
  return { encryption, digest, method };
}

export class ScepClient {
  private readonly fetch: FetchLike;
  private caps?: string[];
  private caCerts?: CaCertificates;

  constructor(private readonly opts: ScepClientOptions) {
    const f = opts.fetch ?? (globalThis.fetch as unknown as FetchLike | undefined);
    if (!f) throw new ScepClientError("no fetch implementation available");
    this.fetch = f;
  }

  private url(operation: string, message?: string): string {
    const u = new URL(this.opts.url);
    u.searchParams.set("operation", operation);
    if (message !== undefined) u.searchParams.set("message", message);
    return u.toString();
  }

  private async get(operation: string, message?: string): Promise<{ contentType: string; body: Uint8Array }> {
    const res = await this.fetch(this.url(operation, message), { method: "GET" });
    return this.read(res, operation);
  }

  private async read(res: FetchResponseLike, operation: string): Promise<{ contentType: string; body: Uint8Array }> {
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) {
      throw new ScepClientError(`${operation}: HTTP ${res.status}: ${Buffer.from(body.subarray(0, 200)).toString()}`, res.status);
    }
    return { contentType: (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase(), body };
  }

  async getCaCaps(): Promise<string[]> {
    const { body } = await this.get("GetCACaps", this.opts.caIdentifier);
    this.caps = Buffer.from(body)
      .toString("utf8")
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    return this.caps;
  }

  async getCaCert(): Promise<CaCertificates> {
    const { contentType, body } = await this.get("GetCACert", this.opts.caIdentifier);
    let certificates: Uint8Array[];
    if (contentType === "application/x-x509-ca-cert") {
      certificates = [body];
    } else if (contentType === "application/x-x509-ca-ra-cert") {
      certificates = parseCertsOnly(body);
    } else {
      throw new ScepClientError(`GetCACert: unexpected Content-Type "${contentType}"`);
    }
    const parsed = certificates.map((der) => parseCertificate(der));
    const cas = parsed.filter(isCertificateAuthority);
    // The RA is the end-entity certificate that can receive encrypted keys, issued by one of the CAs.
    const ra = parsed.find(
      (c) => !isCertificateAuthority(c) && (certificateKeyUsage(c)?.includes("keyEncipherment") ?? true),
    );
    const ca = ra ? (cas.find((c) => isIssuedBy(ra, c)) ?? cas[0]) : cas[0];
    if (!ca) throw new ScepClientError("GetCACert: no CA certificate in the response");
    this.caCerts = { contentType, certificates, caCertDer: ca.der, recipientCertDer: (ra ?? ca).der };
    return this.caCerts;
  }

  /** Capabilities and CA certificates, fetched once. */
  private async prepare(): Promise<{ caps: string[]; ca: CaCertificates }> {
    const caps = this.caps ?? (await this.getCaCaps());
    const ca = this.caCerts ?? (await this.getCaCert());
    return { caps, ca };
  }

  /** Sends a pkiMessage and returns the raw reply. */
  async pkiOperation(der: Uint8Array, method: "GET" | "POST"): Promise<Uint8Array> {
    let res: FetchResponseLike;
    if (method === "POST") {
      res = await this.fetch(this.url("PKIOperation"), {
        method: "POST",
        headers: { "content-type": "application/x-pki-message" },
        body: der,
      });
    } else {
      res = await this.fetch(this.url("PKIOperation", Buffer.from(der).toString("base64")), { method: "GET" });
    }
    const { contentType, body } = await this.read(res, "PKIOperation");
    if (contentType !== "application/x-pki-message") throw new ScepClientError(`PKIOperation: unexpected Content-Type "${contentType}"`);
    return body;
  }

  /** PKCSReq: a new certificate for `key`, authorised by the challenge. */
  async enroll(p: EnrollParams): Promise<ScepResult> {
    const csr = createCsr({
      subject: p.subject,
      key: p.key,
      ...(p.challenge !== undefined ? { challengePassword: p.challenge } : {}),
      ...(p.subjectAltNames ? { subjectAltNames: p.subjectAltNames } : {}),
    });
    // RFC 8894 2.3: without a certificate, sign with a self-signed one for the same key and subject.
    const signer: SigningIdentity = { certDer: selfSignedCertificate(p.key, p.subject), key: p.key };
    return this.request({ messageType: "PKCSReq", messageData: csr, signer, transactionId: transactionIdFor(p.key), expectedKey: p.key });
  }

  /** RenewalReq: a new certificate for `key`, authorised by the current certificate. */
  async renew(p: { key: KeyObject; subject: string; current: SigningIdentity }): Promise<ScepResult> {
    const csr = createCsr({ subject: p.subject, key: p.key });
    return this.request({
      messageType: "RenewalReq",
      messageData: csr,
      signer: p.current,
      transactionId: transactionIdFor(p.key),
      expectedKey: p.key,
    });
  }

  /** CertPoll (GetCertInitial) for a pending request, signed by the same identity as the request. */
  async poll(p: { transactionId: string; subject: string; signer: SigningIdentity }): Promise<ScepResult> {
    const { ca } = await this.prepare();
    const data = issuerAndSubject(parseCertificate(ca.caCertDer).subjectDer, encodeName(p.subject));
    return this.request({ messageType: "CertPoll", messageData: data, signer: p.signer, transactionId: p.transactionId });
  }

  /** Builds, sends and checks one request. */
  async request(r: RequestParams): Promise<ScepResult>;
  /** The same with positional arguments (the form the e2e suite uses). */
  async request(
    messageType: RequestParams["messageType"],
    messageData: Uint8Array,
    signer: SigningIdentity,
    transactionId: string,
    expectedKey?: KeyObject,
    recipientCertDer?: Uint8Array,
  ): Promise<ScepResult>;
  async request(
    first: RequestParams | RequestParams["messageType"],
    messageData?: Uint8Array,
    signer?: SigningIdentity,
    transactionId?: string,
    expectedKey?: KeyObject,
    recipientCertDer?: Uint8Array,
  ): Promise<ScepResult> {
    const r: RequestParams =
      typeof first === "object"
        ? first
        : {
            messageType: first,
            messageData: messageData!,
            signer: signer!,
            transactionId: transactionId!,
            ...(expectedKey ? { expectedKey } : {}),
            ...(recipientCertDer ? { recipientCertDer } : {}),
          };
    const { caps, ca } = await this.prepare();
    const algorithms = chooseAlgorithms(caps, this.opts);
    const { der, senderNonce } = buildPkiRequest({
      messageType: r.messageType,
      transactionId: r.transactionId,
      messageData: r.messageData,
      recipientCertDer: r.recipientCertDer ?? ca.recipientCertDer,
      signer: r.signer,
      encryption: algorithms.encryption,
      digest: algorithms.digest,
    });
    const replyDer = await this.pkiOperation(der, algorithms.method);
    return this.checkReply(replyDer, {
      transactionId: r.transactionId,
      senderNonce,
      signer: r.signer,
      ca,
      algorithms,
      ...(r.expectedKey ? { expectedKey: r.expectedKey } : {}),
    });
  }

  private checkReply(
    replyDer: Uint8Array,
    x: { transactionId: string; senderNonce: Uint8Array; signer: SigningIdentity; ca: CaCertificates; algorithms: Algorithms; expectedKey?: KeyObject },
  ): ScepResult {
    const msg = readPkiMessage(replyDer);
    if (msg.messageTypeName !== "CertRep") throw new ScepClientError(`reply is not a CertRep (messageType ${msg.messageType})`);
    if (msg.transactionId !== x.transactionId) throw new ScepClientError("CertRep transactionID does not match the request");
    if (!msg.recipientNonce || !Buffer.from(msg.recipientNonce).equals(Buffer.from(x.senderNonce))) {
      throw new ScepClientError("CertRep recipientNonce does not match our senderNonce");
    }
    if (!msg.pkiStatus) throw new ScepClientError("CertRep has no pkiStatus");
    // A FAILURE or PENDING reply has no content: its messageDigest covers the empty string.
    const verified = verifySignedData(msg.signedData, { detachedContent: new Uint8Array(0) });
    if (!this.trustedReplySigner(verified.signerCert, x.ca)) throw new ScepClientError("CertRep is not signed by the CA or its RA");

    const result: ScepResult = { status: msg.pkiStatus, transactionId: msg.transactionId, algorithms: x.algorithms };
    if (msg.failInfo) result.failInfo = msg.failInfo;
    if (msg.failInfoText) result.failInfoText = msg.failInfoText;
    if (msg.pkiStatus === "SUCCESS") {
      // Decrypt what Apple devices decrypt: the server picks the reply's cipher, and servers in the
      // field answer with single DES whatever the request used. Refusing DES is a server policy
      // (what Orchard accepts from clients); the client only ever *sends* DES when forced.
      const certs = openCertRepEnvelope(msg, x.signer, { allowDes: true });
      const issued = certs[0];
      if (!issued) throw new ScepClientError("CertRep SUCCESS without a certificate");
      const cert = parseCertificate(issued);
      if (x.expectedKey && !Buffer.from(cert.spkiDer).equals(Buffer.from(spkiDer(x.expectedKey)))) {
        throw new ScepClientError("the first certificate in the CertRep is not for our key");
      }
      result.certDer = issued;
      result.certificates = certs;
    }
    return result;
  }

  private trustedReplySigner(signer: Certificate, ca: CaCertificates): boolean {
    const caCert = parseCertificate(ca.caCertDer);
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
    return same(signer.der, ca.recipientCertDer) || same(signer.der, ca.caCertDer) || isIssuedBy(signer, caCert);
  }
}

/** RFC 8894 3.2.1.1 suggests a hash of the public key as transactionID. */
export function transactionIdFor(key: KeyObject): string {
  return createHash("sha256").update(spkiDer(key)).digest("hex").toUpperCase();
}
