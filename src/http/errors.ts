// The admin API's error shape: { "error": { "code", "message" } }, with the HTTP status to send.
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { validationMessage } from "./api/validation-message.ts";

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown) {
    super(message);
    this.name = "ApiError";
  }
}

export const badRequest = (message: string, details?: unknown) => new ApiError(400, "invalid_request", message, details);
export const notFound = (what: string) => new ApiError(404, "not_found", `${what} not found`);
export const conflict = (message: string, details?: unknown) => new ApiError(409, "conflict", message, details);

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** Maps every error escaping a route to the JSON error shape; never leaks internals on 5xx. */
export function handleError(err: FastifyError | ApiError | Error, req: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof ApiError) {
    void reply.status(err.status).send(errorBody(err.code, err.message, err.details));
    return;
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    void reply.status(400).send(errorBody("invalid_request", validationMessage(fe.validationContext, fe.validation)));
    return;
  }
  const status = typeof fe.statusCode === "number" && fe.statusCode >= 400 ? fe.statusCode : 500;
  if (status >= 500) {
    req.log.error({ err }, "request failed");
    void reply.status(status).send(errorBody("internal_error", "internal server error"));
    return;
  }
  const code = fe.code === "FST_ERR_CTP_BODY_TOO_LARGE" ? "payload_too_large" : fe.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" ? "unsupported_media_type" : "invalid_request";
  void reply.status(status).send(errorBody(code, fe.message));
}
