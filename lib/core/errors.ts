/**
 * @module The one error type that becomes a reply: an HTTP status, a vCloud minor error code
 * and a message that is safe to show the API client.
 */

/** vCloud minor error codes by HTTP status, as vCD clients expect them. */
export const MINOR_CODES: Readonly<Record<number, string>> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "ACCESS_TO_RESOURCE_IS_FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  406: "NOT_ACCEPTABLE",
  409: "CONFLICT",
  413: "REQUEST_ENTITY_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "BUSY",
  500: "INTERNAL_SERVER_ERROR",
  503: "SERVICE_UNAVAILABLE",
  504: "GATEWAY_TIMEOUT",
};

/** Options of {@linkcode HttpError}. */
export interface HttpErrorOptions {
  /** The vCloud `minorErrorCode`; defaults to the conventional one for the status. */
  readonly minorCode?: string;
  /** Extra response headers, e.g. `Allow` on a 405. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The underlying error; logged, never shown to the client. */
  readonly cause?: unknown;
}

/**
 * An error that dispatch turns into a vCloud `Error` reply with this status. Throw it from a
 * handler to answer with an error; anything else thrown becomes a 500 without internals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpError } from "./errors.ts";
 * const e = new HttpError(404, "no ticket 42 in this organisation");
 * assert.equal(e.status, 404);
 * assert.equal(e.minorCode, "NOT_FOUND");
 * ```
 */
export class HttpError extends Error {
  /** The HTTP status the API client sees (400–599). */
  readonly status: number;
  /** The vCloud `minorErrorCode`. */
  readonly minorCode: string;
  /** Extra response headers. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, message: string, options: HttpErrorOptions = {}) {
    // An HttpError is an answer, not a fault: nobody reads its stack, and capturing one is the
    // most expensive part of a 404. (Synchronous, so no other error can see the limit.)
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = limit;
    this.name = "HttpError";
    this.status = Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
    this.minorCode = options.minorCode ?? MINOR_CODES[this.status] ?? `HTTP_${this.status}`;
    this.headers = options.headers ?? {};
  }
}
