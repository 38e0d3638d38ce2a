// The Mdm-Signature header: a base64 CMS SignedData over the exact request body, detached, signed with the
// device's identity and carrying its certificate (Apple: "Mdm-Signature ... a base64-encoded CMS Signature
// of the HTTP body"). The encoding is src/pki's (createMdmBodySigner); the signer is a plain function type so
// another implementation (e.g. a deliberately broken one in tests) can be plugged into a device.
import { createMdmBodySigner, type MdmBodySigner } from "../src/pki/mdm-signature-sign.ts";
import type { SigningIdentity } from "../src/pki/issue.ts";
import type { DigestName } from "../src/pki/signature-algorithms.ts";

export type MdmSigner = (body: Uint8Array, identity: SigningIdentity, digest: DigestName) => string;

// The fixed parts of the SignedData are prepared once per identity object (the keychain hands out the same
// object for as long as the identity is unchanged), so each request costs one hash and one signature.
const prepared = new WeakMap<SigningIdentity, Map<DigestName, MdmBodySigner>>();

export const signMdmRequest: MdmSigner = (body, identity, digest) => {
  let byDigest = prepared.get(identity);
  if (!byDigest) {
    byDigest = new Map();
    prepared.set(identity, byDigest);
  }
  let sign = byDigest.get(digest);
  if (!sign) {
    // Apple's client embeds only its own certificate; the server knows the CA.
    sign = createMdmBodySigner(identity.certDer, identity.key, { digest });
    byDigest.set(digest, sign);
  }
  return sign(body);
};
