// What the Mdm-Signature verifier needs from an X.509 certificate (RFC 5280 §4.1), read straight from the DER:
// the issuer and serial (to match a CMS SignerIdentifier), the subject key identifier, the validity window, and
// the extensions that decide whether the certificate may act as a device identity (basicConstraints,
// keyUsage, extendedKeyUsage). The signature and public key are handed to node:crypto.

import { DerError, DerTag, children, contentOf, encodingOf, expectTag, oidContent, oidEquals, oidToString, readRoot, readTime } from "./der-reader.ts";

export interface CertificateFacts {
  /** The issuer Name, whole encoding (compared byte for byte with a SignerIdentifier's issuer). */
  issuer: Uint8Array;
  /** The serialNumber INTEGER's content octets. */
  serial: Uint8Array;
  /** The subjectKeyIdentifier extension's key identifier, when present. */
  subjectKeyId: Uint8Array | undefined;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  /** The keyUsage bits that matter here, or undefined when the extension is absent. */
  keyUsage: { digitalSignature: boolean; keyCertSign: boolean } | undefined;
  /** extendedKeyUsage OIDs (dotted), or undefined when the extension is absent. */
  extendedKeyUsage: string[] | undefined;
  /** The SubjectPublicKeyInfo, whole encoding: node:crypto imports the key from it. */
  spki: Uint8Array;
}

const OID_SUBJECT_KEY_ID = oidContent("2.5.29.14");
const OID_KEY_USAGE = oidContent("2.5.29.15");
const OID_BASIC_CONSTRAINTS = oidContent("2.5.29.19");
const OID_EXT_KEY_USAGE = oidContent("2.5.29.37");

export const EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
export const EKU_ANY = "2.5.29.37.0";

export function readCertificateFacts(der: Uint8Array): CertificateFacts {
  const cert = expectTag(readRoot(der), DerTag.SEQUENCE, "Certificate");
  const [tbs] = children(der, cert);
  const fields = children(der, expectTag(tbs, DerTag.SEQUENCE, "TBSCertificate"));
  let i = 0;
  if (fields[0]?.tag === DerTag.CONTEXT_0) i++; // version
  const serial = expectTag(fields[i++], DerTag.INTEGER, "serialNumber");
  expectTag(fields[i++], DerTag.SEQUENCE, "signature algorithm");
  const issuer = expectTag(fields[i++], DerTag.SEQUENCE, "issuer");
  const validity = children(der, expectTag(fields[i++], DerTag.SEQUENCE, "validity"));
  expectTag(fields[i++], DerTag.SEQUENCE, "subject");
  const spki = expectTag(fields[i++], DerTag.SEQUENCE, "subjectPublicKeyInfo");
  const notBeforeTlv = validity[0];
  const notAfterTlv = validity[1];
  if (notBeforeTlv === undefined || notAfterTlv === undefined) throw new DerError("validity lacks notBefore/notAfter");

  const facts: CertificateFacts = {
    issuer: encodingOf(der, issuer),
    serial: contentOf(der, serial),
    subjectKeyId: undefined,
    notBefore: readTime(der, notBeforeTlv),
    notAfter: readTime(der, notAfterTlv),
    isCa: false,
    keyUsage: undefined,
    extendedKeyUsage: undefined,
    spki: encodingOf(der, spki),
  };

  const extensionsWrapper = fields.slice(i).find((f) => f.tag === DerTag.CONTEXT_3);
  if (extensionsWrapper === undefined) return facts;
  const [extensions] = children(der, extensionsWrapper);
  for (const ext of children(der, expectTag(extensions, DerTag.SEQUENCE, "extensions"))) {
    const parts = children(der, expectTag(ext, DerTag.SEQUENCE, "extension"));
    const id = expectTag(parts[0], DerTag.OID, "extnID");
    const valueTlv = expectTag(parts[parts.length - 1], DerTag.OCTET_STRING, "extnValue");
    const value = contentOf(der, valueTlv);
    if (oidEquals(der, id, OID_SUBJECT_KEY_ID)) {
      facts.subjectKeyId = contentOf(value, expectTag(readRoot(value), DerTag.OCTET_STRING, "subjectKeyIdentifier"));
    } else if (oidEquals(der, id, OID_BASIC_CONSTRAINTS)) {
      const [ca] = children(value, expectTag(readRoot(value), DerTag.SEQUENCE, "basicConstraints"));
      facts.isCa = ca !== undefined && ca.tag === DerTag.BOOLEAN && value[ca.contentStart] !== 0;
    } else if (oidEquals(der, id, OID_KEY_USAGE)) {
      const bits = contentOf(value, expectTag(readRoot(value), DerTag.BIT_STRING, "keyUsage"));
      const first = bits[1] ?? 0; // bits[0] counts the unused bits
      facts.keyUsage = { digitalSignature: (first & 0x80) !== 0, keyCertSign: (first & 0x04) !== 0 };
    } else if (oidEquals(der, id, OID_EXT_KEY_USAGE)) {
      const seq = expectTag(readRoot(value), DerTag.SEQUENCE, "extKeyUsage");
      facts.extendedKeyUsage = children(value, seq).map((oid) => {
        expectTag(oid, DerTag.OID, "KeyPurposeId");
        return oidToString(value, oid);
      });
    }
  }
  return facts;
}

/** Why a certificate may not serve as a device identity, or undefined when it may. */
export function identityUsageProblem(facts: CertificateFacts): string | undefined {
  if (facts.isCa) return "the certificate is a CA certificate, not a device identity";
  if (facts.keyUsage !== undefined && !facts.keyUsage.digitalSignature) return "keyUsage does not allow digitalSignature";
  const eku = facts.extendedKeyUsage;
  if (eku !== undefined && !eku.includes(EKU_CLIENT_AUTH) && !eku.includes(EKU_ANY)) {
    return `extendedKeyUsage (${eku.join(", ") || "empty"}) does not include clientAuth`;
  }
  return undefined;
}
