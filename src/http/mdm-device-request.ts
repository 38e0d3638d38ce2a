// What the device-facing MDM endpoints do with a request, whatever serves the HTTP: PUT /mdm/checkin
// (CheckInURL) and PUT /mdm/connect (ServerURL). When an enrollment profile has no separate CheckInURL,
// check-in messages arrive at the ServerURL too: they are told apart by the body (MessageType vs Status), then
// by Content-Type. Every request must prove the device's identity (TLS client certificate, a trusted proxy's
// header, or Mdm-Signature) before its body means anything.
//
// Served by mdm-fast-path.ts on the listening sockets (the one device front end; fastify has no device routes).
import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { PlistError, type PlistDict, type PlistValue } from "../wire/plist.ts";
import { readDevicePlist } from "../wire/checkin-reader.ts";
import { CheckinMessageError, decodeCheckinMessage } from "../wire/checkin-message.ts";
import { CommandReportError, decodeCommandReport } from "../wire/command-report.ts";
import { EnrollmentIdError } from "../mdm/enrollment-id.ts";
import type { CheckinService, MdmResponse } from "../mdm/checkin.ts";
import type { ConnectService } from "../mdm/connect.ts";
import type { DeviceCertificateVerifier, IdentityResult } from "../mdm/device-identity.ts";
import { labelSet, type MetricsRegistry } from "../metrics/registry.ts";

export const CHECKIN_CONTENT_TYPE = "application/x-apple-aspen-mdm-checkin";


export interface MdmDeps {
  checkin: CheckinService;
  connect: ConnectService;
  verifier: DeviceCertificateVerifier;
  /** Lower-cased header a trusted TLS-terminating proxy forwards the client certificate in. */
  certHeader?: string;
  metrics: MetricsRegistry;
}

/** "either": the ServerURL, which also takes check-in messages. */
export type MdmEndpoint = "checkin" | "either";

/** The two routes, by path: what the device front end serves. */
export const MDM_ROUTES: Readonly<Record<string, MdmEndpoint>> = { "/mdm/checkin": "checkin", "/mdm/connect": "either" };

export interface DeviceRequest {
  headers: IncomingHttpHeaders;
  socket: Socket;
  body: Buffer;
}

/** The answer to send. `refusal` is set for 4xx answers: the reason, also the body, for the log line. */
export interface DeviceAnswer {
  status: number;
  contentType?: string;
  body?: string | Uint8Array;
  refusal?: string;
}

export type DeviceRequestHandler = (endpoint: MdmEndpoint, req: DeviceRequest) => Promise<DeviceAnswer>;

/** Unexpected errors (a database failure) are thrown, for the front end to answer 500 and log. */
export function deviceRequestHandler(deps: MdmDeps): DeviceRequestHandler {
  const refused = deps.metrics.counter("orchard_mdm_refused_total", "Device requests refused, by endpoint and HTTP status.");
  const messages = deps.metrics.counter("orchard_mdm_messages_total", "Device messages handled, by MessageType or Status.");
  // One label set per message type, built once: this counts every device request. Types are the schema's
  // (decoding refused anything else), so the map stays small.
  const typeLabels = new Map<string, Readonly<Record<string, string>>>();
  const countMessage = (type: string) => {
    let labels = typeLabels.get(type);
    if (labels === undefined) typeLabels.set(type, (labels = labelSet({ type })));
    messages.inc(labels);
  };

  const refuse = (endpoint: MdmEndpoint, status: number, reason: string): DeviceAnswer => {
    refused.inc({ endpoint, status: String(status) });
    return { status, contentType: "text/plain; charset=utf-8", body: `${reason}\n`, refusal: reason };
  };

  return async (endpoint, req) => {
    const { body } = req;
    const identity = establishIdentity(req, deps);
    if (!identity.ok) return refuse(endpoint, 401, identity.reason);

    let value: PlistValue;
    try {
      value = readDevicePlist(body);
    } catch (e) {
      if (e instanceof PlistError) return refuse(endpoint, 400, `malformed plist: ${e.message}`);
      throw e;
    }
    const isCheckin = endpoint === "checkin" || looksLikeCheckin(value, req.headers["content-type"]);
    let res: MdmResponse;
    try {
      if (isCheckin) {
        const msg = decodeCheckinMessage(value);
        countMessage(msg.MessageType);
        res = await deps.checkin.handle(msg, body, identity);
      } else {
        const report = decodeCommandReport(value);
        countMessage(report.Status);
        res = await deps.connect.handle(report, body, identity, value as PlistDict);
      }
    } catch (e) {
      if (e instanceof CheckinMessageError || e instanceof CommandReportError || e instanceof EnrollmentIdError) return refuse(endpoint, 400, e.message);
      throw e;
    }
    if (res.status >= 400) return refuse(endpoint, res.status, res.reason ?? "refused");
    if (res.body === undefined) return { status: res.status };
    return { status: res.status, contentType: res.contentType ?? "application/xml", body: res.body };
  };
}

function establishIdentity(req: DeviceRequest, deps: MdmDeps): IdentityResult {
  const signature = req.headers["mdm-signature"];
  if (typeof signature === "string" && signature.length > 0) return deps.verifier.verifySignature(signature, req.body);
  if (deps.certHeader) {
    const forwarded = req.headers[deps.certHeader];
    if (typeof forwarded === "string" && forwarded.length > 0) return deps.verifier.verifyForwarded(forwarded);
  }
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate === "function") {
    const peer = socket.getPeerCertificate(false);
    if (peer && peer.raw) return deps.verifier.verifyCertificate(new Uint8Array(peer.raw));
  }
  return { ok: false, reason: "no device identity: send the Mdm-Signature header or a TLS client certificate" };
}

/** At the ServerURL: the body decides (MessageType vs Status); only an ambiguous body falls back to the Content-Type. */
function looksLikeCheckin(value: PlistValue, contentType: string | undefined): boolean {
  if (isDict(value)) {
    const hasType = value.MessageType !== undefined;
    const hasStatus = value.Status !== undefined;
    if (hasType !== hasStatus) return hasType;
  }
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase() === CHECKIN_CONTENT_TYPE;
}

function isDict(v: PlistValue): v is { [k: string]: PlistValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
}
