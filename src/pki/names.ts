// Distinguished names: RFC 4514 strings <-> DER, through @peculiar/x509 (which handles escaping and
// the attribute-type table), so the rest of the PKI code can handle names as opaque DER bytes.

import "reflect-metadata";
import { Name } from "@peculiar/x509";

export class NameError extends Error {
  override readonly name = "NameError";
}

/** DER of a name given as an RFC 4514 string such as "CN=Orchard CA,O=Example". */
export function encodeName(dn: string): Uint8Array {
  try {
    return new Uint8Array(new Name(dn).toArrayBuffer());
  } catch (e) {
    throw new NameError(`invalid distinguished name "${dn}": ${(e as Error).message}`);
  }
}

/** A value escaped for an RFC 4514 string, so a name such as "Acme, Inc." stays one attribute. */
export function escapeDnValue(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`).replace(/^[ #]/, (c) => `\\${c}`).replace(/ $/, "\\ ");
}

/** RFC 4514 string of a DER name (for display and logs; compare names as DER bytes). */
export function nameToString(der: Uint8Array): string {
  try {
    return new Name(der).toString();
  } catch (e) {
    throw new NameError(`unreadable distinguished name: ${(e as Error).message}`);
  }
}

/** The first value of an attribute type in a DER name, e.g. the CN ("2.5.4.3"). */
export function nameAttribute(der: Uint8Array, type = "CN"): string | undefined {
  const values = new Name(der).getField(type);
  return values[0];
}
