// The device identity certificate as a TLS-terminating proxy forwards it in a header. Proxies differ:
//   - RFC 9440 Client-Cert: a structured-field byte sequence, `:BASE64-DER:`;
//   - URL-escaped PEM (nginx $ssl_client_escaped_cert, AWS ALB, Envoy's XFCC Cert=): `-----BEGIN%20CERTIFICATE-----%0A...`;
//   - raw PEM, with its line breaks kept, or turned into spaces or tab-indented continuation lines;
//   - bare base64 DER (Traefik), possibly URL-escaped, several certificates separated by commas.
// The first certificate is the client's; any that follow are returned as a chain for path building.

export type ClientCertificateHeaderResult =
  | { ok: true; certDer: Uint8Array; chain: Uint8Array[] }
  | { ok: false; reason: "malformed-header"; detail: string };

const MAX_HEADER_LENGTH = 64 * 1024;
const PEM_RE = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

function fail(detail: string): ClientCertificateHeaderResult {
  return { ok: false, reason: "malformed-header", detail };
}

/** Base64 DER that decodes to exactly one ASN.1 SEQUENCE (a certificate's outer shape), or undefined. */
function decodeDer(base64: string): Uint8Array | undefined {
  const compact = base64.replace(/\s+/g, "");
  if (!BASE64_RE.test(compact) || compact.length % 4 === 1) return undefined;
  const der = new Uint8Array(Buffer.from(compact, "base64"));
  if (der.length < 2 || der[0] !== 0x30) return undefined;
  const first = der[1] as number;
  let length = first;
  let header = 2;
  if (first >= 0x80) {
    const count = first & 0x7f;
    if (count < 1 || count > 4 || der.length < 2 + count) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[2 + i] as number);
    header = 2 + count;
  }
  return header + length === der.length ? der : undefined;
}

function urlDecode(value: string): string | undefined {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

export function parseClientCertificateHeader(value: string): ClientCertificateHeaderResult {
  const trimmed = value.trim();
  if (trimmed.length === 0) return fail("the client certificate header is empty");
  if (trimmed.length > MAX_HEADER_LENGTH) return fail("the client certificate header is too long");

  // RFC 9440 §2.2: sf-binary, ":" base64 ":".
  if (trimmed.startsWith(":")) {
    if (!trimmed.endsWith(":") || trimmed.length < 3) return fail("unterminated RFC 9440 byte sequence");
    const der = decodeDer(trimmed.slice(1, -1));
    return der === undefined ? fail("the RFC 9440 byte sequence is not a DER certificate") : { ok: true, certDer: der, chain: [] };
  }

  const text = urlDecode(trimmed);
  if (text === undefined) return fail("invalid URL escaping in the client certificate header");

  const pems = [...text.matchAll(PEM_RE)];
  if (pems.length > 0) {
    const ders = pems.map((m) => decodeDer(m[1] ?? ""));
    const [first, ...rest] = ders;
    if (first === undefined || rest.some((d) => d === undefined)) return fail("a PEM block in the client certificate header is not a DER certificate");
    return { ok: true, certDer: first, chain: rest as Uint8Array[] };
  }
  if (text.includes("-----BEGIN")) return fail("the PEM in the client certificate header is incomplete or not a certificate");

  const ders = text.split(",").map((part) => decodeDer(part));
  const [first, ...rest] = ders;
  if (first === undefined || rest.some((d) => d === undefined)) return fail("the client certificate header is neither PEM nor base64 DER");
  return { ok: true, certDer: first, chain: rest as Uint8Array[] };
}
