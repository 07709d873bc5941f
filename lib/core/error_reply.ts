/**
 * @module vCloud `Error` document replies: negotiating their format from the client's Accept
 * header, rendering them, and making an error's message fit for the caller (scrubbed of its
 * credentials, cut short). Every error reply of `dispatch()` comes from here.
 */

import type { EnvelopeError, Reply, VcdRequest } from "./envelope.ts";
import { HttpError } from "./errors.ts";
import {
  type Format,
  negotiate,
  type Negotiated,
  type Offer,
  parseAccept,
  withParameter,
} from "./negotiate.ts";
import { clip, scrub, secretsOf } from "./redact.ts";
import { ERROR_MEDIA_BASE, VCLOUD_NS } from "./vcloud.ts";
import { toJson } from "./render.ts";
import { el, renderXml } from "./xml.ts";

/** Base media type of vCloud error documents (the same as `ERROR_MEDIA_BASE` of vcloud.ts). */
export const ERROR_BASE = ERROR_MEDIA_BASE;

/** Both formats, XML first: what an error document may be rendered in by default. */
export const ALL_FORMATS: readonly Format[] = ["xml", "json"];

/** Error-document offers by format list (routes keep theirs), so negotiation can cache them. */
const errorOffers = new WeakMap<readonly Format[], Offer>();

/** Format and concrete Content-Type of an error document for this Accept header. */
function errorNegotiation(accept: string | undefined, formats: readonly Format[]): Negotiated {
  let offer = errorOffers.get(formats);
  if (!offer) errorOffers.set(formats, offer = { base: ERROR_BASE, formats });
  const found = negotiate(accept, offer);
  if (found) return found;
  // Nothing acceptable: still answer in a format the client understands, by the suffix it asked
  // for, else the route's default; keep its version parameter.
  const ranges = accept ? parseAccept(accept).filter((r) => r.q > 0) : [];
  const wanted = ranges.map((
    r,
  ) => (/json$/.test(r.subtype) ? "json" : /xml$/.test(r.subtype) ? "xml" : undefined))
    .find((f): f is Format => f !== undefined && formats.includes(f));
  const format = wanted ?? formats[0] ?? "xml";
  const version = ranges.find((r) => r.params.version !== undefined)?.params.version;
  // Quoted when it is not a token: `version="36.0;charset=UTF-7"` must not become two parameters.
  return { format, contentType: withParameter(`${ERROR_BASE}+${format}`, "version", version) };
}

/**
 * Renders a vCloud `Error` document reply in the format the client accepts (or, when it
 * accepts none, the first of `formats`). `majorErrorCode` equals the status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorReply } from "./error_reply.ts";
 * import { HttpError } from "./errors.ts";
 * const r = errorReply("r1", "application/*+json;version=36.0", new HttpError(404, "no ticket 42"));
 * assert.equal(r.status, 404);
 * assert.equal(r.headers["Content-Type"], "application/vnd.vmware.vcloud.error+json;version=36.0");
 * assert.deepEqual(JSON.parse(r.body as string), { majorErrorCode: 404, minorErrorCode: "NOT_FOUND", message: "no ticket 42" });
 * ```
 */
export function errorReply(
  id: string,
  accept: string | undefined,
  error: HttpError,
  formats: readonly Format[] = ALL_FORMATS,
): Reply {
  const { format, contentType } = errorNegotiation(accept, formats);
  const doc = {
    majorErrorCode: error.status,
    minorErrorCode: error.minorCode,
    message: error.message,
  };
  const body = format === "json"
    ? toJson(doc)
    : renderXml(el("Error", { xmlns: VCLOUD_NS, ...doc }));
  return {
    id,
    status: error.status,
    headers: { ...error.headers, "Content-Type": contentType },
    body,
  };
}

/**
 * The reply to a message whose body could not be decoded but which can still be answered: a
 * 400 (or 413) error document that echoes whatever id could be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { undecodableReply } from "./error_reply.ts";
 * import { EnvelopeError } from "./envelope.ts";
 * const r = undecodableReply(new EnvelopeError("body is not JSON"));
 * assert.equal(r.status, 400);
 * assert.match(r.body as string, /Cannot decode request: body is not JSON/);
 * ```
 */
export function undecodableReply(error: EnvelopeError): Reply {
  return errorReply(error.requestId, error.accept, error);
}

/** The longest message an error reply carries; a handler's longer message is cut. */
export const MAX_MESSAGE = 1024;

/**
 * The error as the caller may see it. Every error reply of {@linkcode dispatch} goes through
 * here, whatever its status or origin (dispatch's own 404/405/406/415, the XML parser's 400, a
 * handler's HttpError), so no path scrubs differently: the message is scrubbed with the
 * request's own credential headers (a client's token echoed in a path or an element name
 * included) and cut to {@linkcode MAX_MESSAGE} characters. Input quoted into a message went
 * through {@linkcode quote} already; this is the net for the rest. `extra` are further secrets
 * to scrub: the extension's secret configuration values.
 */
export function forCaller(
  e: HttpError,
  req: VcdRequest,
  extra: readonly string[] = [],
): HttpError {
  const secrets = extra.length === 0
    ? secretsOf(req.headers)
    : [...secretsOf(req.headers), ...extra];
  let message = scrub(e.message, secrets);
  // Cut after scrubbing (a credential the cut splits would escape the patterns), then once
  // more for a caller's secret split by the cut.
  if (message.length > MAX_MESSAGE) message = scrub(clip(message, MAX_MESSAGE), secrets);
  // A copy only when scrubbing changed the message: most errors carry no credential.
  return message === e.message
    ? e
    : new HttpError(e.status, message, { minorCode: e.minorCode, headers: e.headers });
}
