// PUT /mdm/checkin and PUT /mdm/connect straight from node:http, before fastify sees the request.
//
// Why: these two routes are nearly all of a replica's traffic (every device connects after every push), and
// fastify's per-request work (request and reply objects, hooks, content-type parsing, the reply pipeline) was
// a measurable part of an idle connect's CPU. Everything else about them is kept: the body limit (413), the
// same request metrics and refusal logs, 500 without internals on an unexpected error. Anything this does not
// match exactly goes to fastify, which has no device routes: another method or an encoded path gets its 404, a
// server that is closing its 503. This is the one device front end: tests and fuzzing come through it too,
// over a real socket.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { errorBody } from "./errors.ts";
import { MDM_ROUTES, type DeviceAnswer, type DeviceRequestHandler, type MdmEndpoint } from "./mdm-device-request.ts";
import type { RecordRequest } from "./request-metrics.ts";

export interface MdmFastPathOptions {
  handle: DeviceRequestHandler;
  bodyLimit: number;
  record: RecordRequest;
  logger: Logger;
  /** True once the server is closing: fastify then answers 503 and closes the connection. */
  closing: () => boolean;
}

/** Returns a function that takes the request (and answers it) when it is a device request, and returns false otherwise. */
export function mdmFastPath(o: MdmFastPathOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const routes = new Map<string, MdmEndpoint>(Object.entries(MDM_ROUTES));

  return (req, res) => {
    if (req.method !== "PUT" || o.closing()) return false;
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const route = q === -1 ? url : url.slice(0, q);
    const endpoint = routes.get(route);
    if (endpoint === undefined) return false;

    const started = performance.now();
    const finish = (status: number, contentType: string | undefined, body: string | Uint8Array | undefined, close = false) => {
      if (body === undefined) {
        res.writeHead(status, close ? { "content-length": "0", connection: "close" } : { "content-length": "0" });
        res.end();
      } else {
        const payload = typeof body === "string" ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
        const headers: Record<string, string> = { "content-type": contentType ?? "application/octet-stream", "content-length": String(payload.length) };
        if (close) headers.connection = "close";
        res.writeHead(status, headers);
        res.end(payload);
      }
      o.record("PUT", route, status, (performance.now() - started) / 1000);
    };
    const requestId = () => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && given.length > 0 ? given : randomUUID();
    };
    const tooLarge = () => {
      o.logger.warn({ reqId: requestId(), status: 413, limit: o.bodyLimit }, "device request refused: body too large");
      // The rest of the body is not read: close the connection rather than wait for it.
      finish(413, "application/json; charset=utf-8", JSON.stringify(errorBody("payload_too_large", `request body is larger than ${o.bodyLimit} bytes`)), true);
    };

    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > o.bodyLimit) {
      tooLarge();
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > o.bodyLimit) {
        over = true;
        chunks.length = 0;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    // A client that goes away mid-body gets no answer; there is nobody to send it to.
    req.on("error", () => {});
    req.on("end", () => {
      if (over || res.writableEnded) return;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      o.handle(endpoint, { headers: req.headers, socket: req.socket, body }).then(
        (answer: DeviceAnswer) => {
          if (answer.refusal !== undefined) o.logger.warn({ reqId: requestId(), status: answer.status, reason: answer.refusal }, "device request refused");
          finish(answer.status, answer.contentType, answer.body);
        },
        (err: unknown) => {
          o.logger.error({ err, reqId: requestId(), url: route }, "request failed");
          if (res.headersSent) res.destroy();
          else finish(500, "application/json; charset=utf-8", JSON.stringify(errorBody("internal_error", "internal server error")));
        },
      );
    });
    return true;
  };
}
