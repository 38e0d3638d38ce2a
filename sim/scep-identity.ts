// Obtaining the device identity a com.apple.security.scep payload describes, as Apple's client does: a new key
// of the payload's Keysize, a CSR with the payload's Subject and Challenge, GetCACaps/GetCACert/PKIOperation
// through sim/scep-client.ts (which picks the strongest algorithms the server advertises), CertPoll while the
// server answers PENDING (Retries, RetryDelay), and the CAFingerprint check when the payload has one.
import { createHash, type KeyObject } from "node:crypto";
import { generatePrivateKey } from "../src/pki/keys.ts";
import { selfSignedCertificate } from "../src/pki/issue.ts";
import type { GeneralName } from "../src/pki/extensions.ts";
import { ScepClient, type FetchLike } from "./scep-client.ts";
import { EnrollmentError, type ScepPayloadContent } from "./enrollment-settings.ts";
import type { Transport } from "./mdm-transport.ts";

/** Where keys come from: a fresh one per request by default; a fleet may hand out keys from a pre-made pool. */
export type KeyProvider = (bits: number) => Promise<KeyObject>;

export const freshRsaKey: KeyProvider = async (bits) => {
  if (bits !== 2048 && bits !== 3072 && bits !== 4096) {
    // Apple's default Keysize is 1024, which OpenSSL 3 and every current CA refuse; devices today ask 2048.
    throw new EnrollmentError(`SCEP Keysize ${bits} is not supported (2048, 3072 or 4096)`);
  }
  return generatePrivateKey({ type: "rsa", bits });
};

export interface ScepIdentity {
  certDer: Uint8Array;
  key: KeyObject;
  /** The other certificates of the CertRep and GetCACert (CA, RA), for the keychain. */
  caDer: Uint8Array[];
}

export interface ScepIdentityOptions {
  transport: Transport;
  /** PEM certificates the device trusts for the SCEP server's TLS. */
  trust: string[];
  keyProvider?: KeyProvider;
  /** Milliseconds to wait between CertPoll attempts instead of the payload's RetryDelay (tests). */
  retryDelayMs?: number;
}

/** Apple writes a subject as an array of RDNs, each an array of [type, value] pairs, in DER order. */
export function subjectToString(subject: string[][][] | undefined, fallbackCn: string): string {
  if (!subject || subject.length === 0) return `CN=${escapeDn(fallbackCn)}`;
  return subject
    .map((rdn) =>
      rdn
        .map((pair) => {
          const [type, value] = pair;
          if (typeof type !== "string" || typeof value !== "string") throw new EnrollmentError("SCEP Subject must be [[[type, value]], ...]");
          return `${type}=${escapeDn(value)}`;
        })
        .join("+"),
    )
    .join(",");
}

function escapeDn(value: string): string {
  return value.replace(/([,+"\\<>;=])/g, "\\$1").replace(/^([ #])/, "\\$1").replace(/ $/, "\\ ");
}

function subjectAltNames(san: ScepPayloadContent["SubjectAltName"]): GeneralName[] {
  if (!san) return [];
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  return [
    ...list(san.dNSName).map((value): GeneralName => ({ type: "dns", value })),
    ...list(san.rfc822Name).map((value): GeneralName => ({ type: "email", value })),
    ...list(san.uniformResourceIdentifier).map((value): GeneralName => ({ type: "uri", value })),
    ...list(san.ntPrincipalName).map((value): GeneralName => ({ type: "upn", value })),
  ];
}

/** A FetchLike over the sim's transport, so SCEP trusts exactly what the device trusts. */
export function transportFetch(transport: Transport, trust: string[]): FetchLike {
  return async (url, init) => {
    const method = (init?.method ?? "GET").toUpperCase();
    if (method !== "GET" && method !== "POST" && method !== "PUT") throw new EnrollmentError(`unsupported method ${method}`);
    const res = await transport.request({
      method,
      url,
      ...(init?.body ? { body: init.body } : {}),
      ...(init?.headers ? { headers: init.headers } : {}),
      ca: trust,
    });
    return {
      status: res.status,
      headers: {
        get: (name: string) => {
          const v = res.headers[name.toLowerCase()];
          return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
        },
      },
      arrayBuffer: async () => res.body.buffer.slice(res.body.byteOffset, res.body.byteOffset + res.body.byteLength) as ArrayBuffer,
    };
  };
}

export async function obtainScepIdentity(payload: ScepPayloadContent, fallbackCn: string, options: ScepIdentityOptions): Promise<ScepIdentity> {
  if (typeof payload.URL !== "string") throw new EnrollmentError("the SCEP payload has no URL");
  const keyType = payload["Key Type"] ?? "RSA";
  if (keyType !== "RSA") throw new EnrollmentError(`SCEP Key Type ${keyType} is not supported (Apple's clients use RSA)`);
  const key = await (options.keyProvider ?? freshRsaKey)(payload.Keysize ?? 2048);
  const subject = subjectToString(payload.Subject, fallbackCn);
  const client = new ScepClient({ url: payload.URL, fetch: transportFetch(options.transport, options.trust), ...(payload.Name ? { caIdentifier: payload.Name } : {}) });

  const ca = await client.getCaCert();
  if (payload.CAFingerprint !== undefined) checkFingerprint(payload.CAFingerprint, ca.caCertDer);

  const sans = subjectAltNames(payload.SubjectAltName);
  let result = await client.enroll({ key, subject, ...(payload.Challenge !== undefined ? { challenge: payload.Challenge } : {}), ...(sans.length ? { subjectAltNames: sans } : {}) });
  const retries = payload.Retries ?? 3;
  const delayMs = options.retryDelayMs ?? (payload.RetryDelay ?? 10) * 1000;
  for (let attempt = 0; result.status === "PENDING" && attempt < retries; attempt++) {
    await new Promise((r) => setTimeout(r, delayMs));
    result = await client.poll({ transactionId: result.transactionId, subject, signer: { certDer: selfSignedCertificate(key, subject), key } });
  }
  if (result.status === "PENDING") throw new EnrollmentError(`SCEP request still pending after ${retries} retries`);
  if (result.status !== "SUCCESS" || !result.certDer) {
    throw new EnrollmentError(`SCEP enrollment refused: ${result.failInfo ?? "failure"}${result.failInfoText ? ` (${result.failInfoText})` : ""}`);
  }
  const others = [...(result.certificates ?? []).slice(1), ...ca.certificates];
  const seen = new Set<string>();
  const caDer = others.filter((c) => {
    const h = createHash("sha256").update(c).digest("hex");
    if (seen.has(h) || Buffer.from(c).equals(Buffer.from(result.certDer!))) return false;
    seen.add(h);
    return true;
  });
  return { certDer: result.certDer, key, caDer };
}

/** CAFingerprint is the CA certificate's digest; Apple accepts MD5 or SHA-1 (told apart by length). */
function checkFingerprint(expected: Uint8Array, caDer: Uint8Array): void {
  const algorithm = expected.length === 16 ? "md5" : expected.length === 20 ? "sha1" : expected.length === 32 ? "sha256" : undefined;
  if (!algorithm) throw new EnrollmentError(`CAFingerprint has ${expected.length} bytes; expected an MD5, SHA-1 or SHA-256 digest`);
  const actual = createHash(algorithm).update(caDer).digest();
  if (!actual.equals(Buffer.from(expected))) throw new EnrollmentError("the SCEP server's CA does not match the payload's CAFingerprint");
}
