// The device-facing MDM endpoints: PUT /mdm/checkin (CheckInURL) and PUT /mdm/connect (ServerURL).
// When an enrollment profile has no separate CheckInURL, check-in messages arrive at the ServerURL too:
// they are told apart by Content-Type, then by MessageType vs Status. Every request must prove the
// device's identity (TLS client certificate, a trusted proxy's header, or Mdm-Signature) before its
// body means anything.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { TLSSocket } from "node:tls";
import type { Logger, LevelWithSilent as LogLevel } from "pino";
import { PlistError, type PlistValue } from "../wire/plist.ts";
import { readDevicePlist } from "../wire/checkin-reader.ts";
import { CheckinMessageError, decodeCheckinMessage } from "../wire/checkin-message.ts";
import { CommandReportError, decodeCommandReport } from "../wire/command-report.ts";
import { EnrollmentIdError } from "../mdm/enrollment-id.ts";
import type { CheckinService, MdmResponse } from "../mdm/checkin.ts";
import type { ConnectService } from "../mdm/connect.ts";
import type { DeviceIdentity } from "../mdm/identity-binding.ts";
import type { MetricsRegistry } from "../metrics/registry.ts";

export const CHECKIN_CONTENT_TYPE = "application/x-apple-aspen-mdm-checkin";

export type IdentityResult = ({ ok: true } & DeviceIdentity) | { ok: false; reason: string };

/** Verifies the certificate a device presents; see src/pki/mdm-signature.ts. */
export interface DeviceCertificateVerifier {
  /** Mdm-Signature: base64 detached CMS SignedData over the exact body. */
  verifySignature(headerValue: string, body: Uint8Array): IdentityResult;
  /** A certificate presented over TLS (DER). */
  verifyCertificate(der: Uint8Array): IdentityResult;
  /** A certificate forwarded by a trusted proxy (RFC 9440 :base64:, URL-escaped PEM, …). */
  verifyForwarded(headerValue: string): IdentityResult;
}

export interface MdmRouteDeps {
  checkin: CheckinService;
  connect: ConnectService;
  verifier: DeviceCertificateVerifier;
  bodyLimit: number;
  /** Lower-cased header a trusted TLS-terminating proxy forwards the client certificate in. */
  certHeader?: string;
  metrics: MetricsRegistry;
  logger: Logger;
}

type Kind = "checkin" | "connect" | "either";

export function mdmRoutes(deps: MdmRouteDeps) {
  const refused = deps.metrics.counter("orchard_mdm_refused_total", "Device requests refused, by endpoint and HTTP status.");
  const messages = deps.metrics.counter("orchard_mdm_messages_total", "Device messages handled, by MessageType or Status.");

  return async (app: FastifyInstance): Promise<void> => {
    // Device bodies are plists whatever the Content-Type says (command reports may have none at all).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: deps.bodyLimit }, (_req, body, done) => done(null, body));

    const handler = (kind: Kind) => async (req: FastifyRequest, reply: FastifyReply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const identity = establishIdentity(req, body, deps);
      if (!identity.ok) return refuse(reply, req, 401, identity.reason, kind);

      let value: PlistValue;
      try {
        value = readDevicePlist(body);
      } catch (e) {
        if (e instanceof PlistError) return refuse(reply, req, 400, `malformed plist: ${e.message}`, kind);
        throw e;
      }
      const isCheckin = kind === "checkin" || (kind === "either" && looksLikeCheckin(value, contentTypeOf(req)));
      let res: MdmResponse;
      try {
        if (isCheckin) {
          const msg = decodeCheckinMessage(value);
          messages.inc({ type: msg.MessageType });
          res = await deps.checkin.handle(msg, body, identity);
        } else {
          const report = decodeCommandReport(value);
          messages.inc({ type: report.Status });
          res = await deps.connect.handle(report, body, identity);
        }
      } catch (e) {
        if (e instanceof CheckinMessageError || e instanceof CommandReportError || e instanceof EnrollmentIdError) {
          return refuse(reply, req, 400, e.message, kind);
        }
        throw e;
      }
      if (res.status >= 400) return refuse(reply, req, res.status, res.reason ?? "refused", kind);
      reply.status(res.status);
      if (res.body === undefined) return reply.send("");
      return reply.type(res.contentType ?? "application/xml").send(res.body);
    };

    function refuse(reply: FastifyReply, req: FastifyRequest, status: number, reason: string, kind: Kind) {
      refused.inc({ endpoint: kind, status: String(status) });
      req.log.warn({ status, reason }, "device request refused");
      return reply.status(status).type("text/plain; charset=utf-8").send(`${reason}\n`);
    }

    // Routine device traffic is counted in /metrics, not logged line by line; refusals are logged.
    const logLevel: LogLevel = deps.logger.isLevelEnabled("warn") ? "warn" : (deps.logger.level as LogLevel);
    const opts = { logLevel, schema: { hide: true } };
    app.put("/mdm/checkin", opts, handler("checkin"));
    app.put("/mdm/connect", opts, handler("either"));
  };
}

function establishIdentity(req: FastifyRequest, body: Uint8Array, deps: MdmRouteDeps): IdentityResult {
  const signature = req.headers["mdm-signature"];
  if (typeof signature === "string" && signature.length > 0) return deps.verifier.verifySignature(signature, body);
  if (deps.certHeader) {
    const forwarded = req.headers[deps.certHeader];
    if (typeof forwarded === "string" && forwarded.length > 0) return deps.verifier.verifyForwarded(forwarded);
  }
  const socket = req.raw.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate === "function") {
    const peer = socket.getPeerCertificate(false);
    if (peer && peer.raw) return deps.verifier.verifyCertificate(new Uint8Array(peer.raw));
  }
  return { ok: false, reason: "no device identity: send the Mdm-Signature header or a TLS client certificate" };
}

/** At the ServerURL: the body decides (MessageType vs Status); only an ambiguous body falls back to the Content-Type. */
function looksLikeCheckin(value: PlistValue, contentType: string): boolean {
  if (isDict(value)) {
    const hasType = value.MessageType !== undefined;
    const hasStatus = value.Status !== undefined;
    if (hasType !== hasStatus) return hasType;
  }
  return contentType === CHECKIN_CONTENT_TYPE;
}

function contentTypeOf(req: FastifyRequest): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

function isDict(v: PlistValue): v is { [k: string]: PlistValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
}
