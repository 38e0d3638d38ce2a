// CertificateList: every certificate in the device's keychain, identities flagged IsIdentity.
import type { PlistDict } from "../../src/wire/plist.ts";
import { parseCertificate } from "../../src/pki/certificate.ts";
import { nameAttribute, nameToString } from "../../src/pki/names.ts";
import { fromB64 } from "../keychain.ts";
import { ack, type CommandHandler } from "./command-types.ts";

function commonName(der: Uint8Array): string {
  try {
    const subject = parseCertificate(der).subjectDer;
    return nameAttribute(subject) ?? nameToString(subject);
  } catch {
    return "";
  }
}

export const certificateHandlers: CommandHandler[] = [
  {
    requestType: "CertificateList",
    handle: (ctx) => {
      const { keychain } = ctx.device.state;
      // A User Enrollment device lists only the certificates its managed profiles installed.
      const managedOnly = ctx.request.command.ManagedOnly === true || ctx.device.state.userEnrollment === true;
      const list: PlistDict[] = [];
      for (const identity of keychain.identities) {
        if (managedOnly && identity.profileIdentifier === undefined) continue;
        const der = fromB64(identity.certificate);
        list.push({ CommonName: commonName(der), Data: der, IsIdentity: true });
      }
      for (const anchor of keychain.anchors) {
        if (managedOnly && anchor.profileIdentifier === undefined) continue;
        const der = fromB64(anchor.certificate);
        list.push({ CommonName: commonName(der), Data: der, IsIdentity: false });
      }
      return ack({ CertificateList: list });
    },
  },
];
