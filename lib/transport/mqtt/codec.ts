/**
 * @module vCD's MQTT API-extension messages (wire-format document, section 12) as a
 * {@linkcode RequestCodec}: `API_REQUEST` in, `API_RESPONSE` out. Pure: no MQTT client, no I/O.
 *
 * A message on an extension's monitor topic is first {@linkcode classify}-ed: an `API_REQUEST`
 * that names a `requestId` is a request (the core answers it, 400 when it cannot be decoded);
 * anything else (not JSON, another `type`, no `requestId`) is ignored by the transport with one
 * debug line, since vCD could not match a reply to it.
 *
 * **How a request is decoded.** `httpRequest` is base64 of `{message, securityContext,
 * context}`; `message` is element 0 of the AMQP envelope and `securityContext` element 1 plus
 * `apiAccessToken`. The inner JSON is parsed once, and its elements go through
 * lib/core/envelope.ts's `decodeElements`, the same checks as an AMQP envelope's after parsing.
 *
 * **The caller's credential.** On AMQP a handler calls vCD as the caller with the forwarded
 * `Authorization` header. Here `apiAccessToken` (from `securityContext`, else from the
 * message's `headers.context`) is that credential: it reaches the handler as
 * `Authorization: Bearer <token>` unless the forwarded headers carry an `Authorization` already.
 * The core scrubs request credential headers from every error message and log line; the token
 * is kept nowhere else (not in `security`, not in `context`).
 *
 * **Limits.** `maxEnvelopeBytes` bounds the decoded `httpRequest` (the AMQP envelope's
 * equivalent): checked on the base64 length before decoding, then exactly. The whole message
 * may be at most {@linkcode outerLimit} bytes (the base64 text is 4/3 of the envelope, and the
 * message repeats the caller's context): a bigger one is not parsed at all. `maxBodyBytes`
 * bounds the request entity as on AMQP. Over a limit: 413.
 */

import { isRecord, type Json, own } from "../../core/json.ts";
import {
  decodeElements,
  type DecodeLimits,
  EnvelopeError,
  parseJson,
  type Reply,
  type VcdRequest,
} from "../../core/envelope.ts";
import type { RequestCodec } from "../../core/seam.ts";

/** What a message on a monitor topic is to the transport. */
export type Classified =
  /** An `API_REQUEST` naming a `requestId`: hand it to the endpoint, reply to that id. */
  | { readonly kind: "request"; readonly requestId: string }
  /** Anything else: drop it with one debug line saying `why`. */
  | { readonly kind: "ignore"; readonly why: string };

/** The JSON object published as the reply (wire-format document, section 12.4). */
export interface ApiResponse {
  type: "API_RESPONSE";
  headers: { requestId: string };
  httpResponse: {
    statusCode: number;
    headers: Record<string, string | number>;
    body: string;
  };
}

/** Longest `requestId` taken; vCD sends a UUID. */
export const MAX_REQUEST_ID = 256;
/** What the message may add beyond the base64 `httpRequest` before it is not parsed at all. */
const OUTER_SLACK = 64 * 1024;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** `o[key]` when `o` is an object with that own field. */
function field(o: unknown, key: string): unknown {
  return isRecord(o) ? own(o, key) : undefined;
}

/**
 * The largest whole message parsed, for a given `maxEnvelopeBytes`: twice the envelope (its
 * base64 form is 4/3 of it, and the message repeats the caller's context beside it) plus 64 KiB.
 * Unbounded without a limit.
 */
export function outerLimit(limits: DecodeLimits): number {
  return limits.maxEnvelopeBytes === undefined
    ? Infinity
    : 2 * limits.maxEnvelopeBytes + OUTER_SLACK;
}

/** The message's `headers.requestId` as text, or why there is none. */
function requestIdOf(message: Json): string | { why: string } {
  const raw = field(field(message, "headers"), "requestId");
  const id = typeof raw === "string" ? raw : typeof raw === "number" ? `${raw}` : "";
  if (id === "") return { why: "no headers.requestId" };
  if (id.length > MAX_REQUEST_ID) return { why: `requestId over ${MAX_REQUEST_ID} characters` };
  return id;
}

/**
 * A message too big to parse: its requestId when a plain `"requestId":"…"` can be found, so
 * the 413 reply reaches the caller. A scan, linear in the text; no JSON is built.
 */
function scanOversized(text: string): { requestId: string } | undefined {
  if (!/"type"\s*:\s*"API_REQUEST"/.test(text)) return undefined;
  const m = /"requestId"\s*:\s*"([^"\\]{1,256})"/.exec(text);
  return m ? { requestId: m[1]! } : undefined;
}

/** {@linkcode parse}'s answer for a message over {@linkcode outerLimit}. */
const OVERSIZED = Symbol("oversized");

/** Parsed messages by their bytes: {@linkcode classify} parses once, `decode` reuses it. */
const parsedCache = new WeakMap<Uint8Array, Json>();

/** The message parsed, or why not; cached for the decode that follows a classify. */
function parse(bytes: Uint8Array, limits: DecodeLimits): Json | typeof OVERSIZED | string {
  const cached = parsedCache.get(bytes);
  if (cached) return cached;
  if (bytes.byteLength > outerLimit(limits)) return OVERSIZED;
  let parsed: unknown;
  try {
    parsed = parseJson(decoder.decode(bytes));
  } catch {
    return "not JSON";
  }
  if (!isRecord(parsed)) return "not a JSON object";
  parsedCache.set(bytes, parsed);
  return parsed;
}

/**
 * What a message on a monitor topic is: a request to answer, or something to ignore (and why,
 * for the debug line). Never throws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classify } from "./codec.ts";
 * const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
 * assert.deepEqual(classify(bytes({ type: "API_REQUEST", headers: { requestId: "r1" } })), { kind: "request", requestId: "r1" });
 * assert.equal(classify(bytes({ type: "EVENT", headers: { requestId: "r1" } })).kind, "ignore");
 * assert.equal(classify(new TextEncoder().encode("{")).kind, "ignore");
 * ```
 */
export function classify(bytes: Uint8Array, limits: DecodeLimits = {}): Classified {
  const parsed = parse(bytes, limits);
  if (typeof parsed === "string") return { kind: "ignore", why: parsed };
  if (parsed === OVERSIZED) {
    const found = scanOversized(decoder.decode(bytes));
    return found
      ? { kind: "request", requestId: found.requestId }
      : { kind: "ignore", why: `over ${outerLimit(limits)} bytes without a readable requestId` };
  }
  const message = parsed;
  const type = field(message, "type");
  if (type !== "API_REQUEST") {
    return {
      kind: "ignore",
      why: typeof type === "string" ? `type ${JSON.stringify(type.slice(0, 40))}` : "no type",
    };
  }
  const id = requestIdOf(message);
  return typeof id === "string" ? { kind: "request", requestId: id } : { kind: "ignore", ...id };
}

/** The caller's token: `securityContext.apiAccessToken`, else `headers.context.apiAccessToken`. */
function accessToken(security: unknown, outerContext: unknown): string | undefined {
  for (
    const candidate of [field(security, "apiAccessToken"), field(outerContext, "apiAccessToken")]
  ) {
    if (typeof candidate === "string" && candidate !== "") return candidate;
  }
  return undefined;
}

/** The forwarded headers, with `Authorization: Bearer <token>` added when none is there. */
function withCredential(headers: unknown, token: string | undefined): Json {
  const out: Record<string, unknown> = isRecord(headers) ? { ...headers } : {};
  if (token === undefined) return out;
  for (const name in out) if (name.toLowerCase() === "authorization") return out;
  out["Authorization"] = `Bearer ${token}`;
  return out;
}

/** The decoded `httpRequest` bytes, with the size checks around decoding. */
function httpRequestBytes(raw: unknown, requestId: string, limits: DecodeLimits): Uint8Array {
  if (typeof raw !== "string" || raw === "") {
    throw new EnvelopeError("httpRequest is not a base64 string", { requestId });
  }
  const max = limits.maxEnvelopeBytes;
  // Before decoding: 3 bytes per 4 characters, less up to 3% for line breaks (MIME base64).
  if (max !== undefined && Math.floor((raw.length * 3) / 4) > max * 1.03 + 4) {
    throw new EnvelopeError(`httpRequest is over the limit of ${max} bytes`, {
      requestId,
      status: 413,
    });
  }
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(raw);
  } catch {
    throw new EnvelopeError("httpRequest is not valid base64", { requestId });
  }
  if (max !== undefined && bytes.byteLength > max) {
    throw new EnvelopeError(
      `httpRequest is ${bytes.byteLength} bytes, over the limit of ${max}`,
      { requestId, status: 413 },
    );
  }
  return bytes;
}

/**
 * Decodes an `API_REQUEST` into the core's {@linkcode VcdRequest}; its `id` is the message's
 * `headers.requestId` (the id vCD matches the response by). Throws an `EnvelopeError` carrying
 * that requestId for a malformed request (answered 400, or 413 over a limit), and one without a
 * requestId for a message {@linkcode classify} ignores.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeApiRequest } from "./codec.ts";
 * const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
 * const httpRequest = json({
 *   message: { id: "m1", method: "GET", requestUri: "/api/org/1/ticketing", headers: {}, body: "" },
 *   securityContext: { user: "urn:vcloud:user:u", org: "urn:vcloud:org:o", rights: null, apiAccessToken: "tok3n" },
 *   context: {},
 * }).toBase64();
 * const req = decodeApiRequest(json({ type: "API_REQUEST", headers: { requestId: "r1" }, httpRequest }));
 * assert.equal(req.id, "r1");
 * assert.equal(req.headers.get("authorization"), "Bearer tok3n");
 * ```
 */
export function decodeApiRequest(bytes: Uint8Array, limits: DecodeLimits = {}): VcdRequest {
  const parsed = parse(bytes, limits);
  if (typeof parsed === "string") throw new EnvelopeError(`message is ${parsed}`);
  if (parsed === OVERSIZED) {
    const found = scanOversized(decoder.decode(bytes));
    throw new EnvelopeError(
      `message is ${bytes.byteLength} bytes, over the limit of ${outerLimit(limits)}`,
      { status: 413, ...(found ? { requestId: found.requestId } : {}) },
    );
  }
  const message = parsed;
  if (field(message, "type") !== "API_REQUEST") {
    throw new EnvelopeError("message is no API_REQUEST");
  }
  const requestId = requestIdOf(message);
  if (typeof requestId !== "string") throw new EnvelopeError(`message has ${requestId.why}`);

  const inner = httpRequestBytes(field(message, "httpRequest"), requestId, limits);
  let http: unknown;
  try {
    http = parseJson(decoder.decode(inner));
  } catch {
    throw new EnvelopeError("httpRequest is not JSON", { requestId });
  }
  if (!isRecord(http)) throw new EnvelopeError("httpRequest is not a JSON object", { requestId });
  const request = field(http, "message");
  if (!isRecord(request)) {
    throw new EnvelopeError("httpRequest.message is not an object", { requestId });
  }
  const outerContext = field(field(message, "headers"), "context");
  const rawSecurity = field(http, "securityContext");
  const security = isRecord(rawSecurity) ? rawSecurity : outerContext;
  const token = accessToken(rawSecurity, outerContext);
  // The AMQP envelope's elements: element 0 answers to the MQTT requestId and carries the
  // caller's credential as a header; element 1 without the token (see the module doc).
  const envelope = [
    { ...request, id: requestId, headers: withCredential(field(request, "headers"), token) },
    {
      user: field(security, "user"),
      org: field(security, "org"),
      rights: field(security, "rights"),
      parameters: field(security, "parameters"),
    },
    field(http, "context"),
  ];
  // Checked against maxEnvelopeBytes already (as httpRequest); read as the AMQP elements are.
  return decodeElements(
    envelope,
    limits.maxBodyBytes === undefined ? {} : { maxBodyBytes: limits.maxBodyBytes },
  );
}

/**
 * Encodes a reply as the UTF-8 JSON bytes of an {@linkcode ApiResponse}: `requestId` is the
 * reply's id, the body base64, `Content-Length` its UTF-8 **byte** length (a number; one given
 * in `reply.headers` is replaced).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeApiResponse } from "./codec.ts";
 * const m = JSON.parse(new TextDecoder().decode(
 *   encodeApiResponse({ id: "r1", status: 200, headers: { "Content-Type": "text/plain" }, body: "é" }),
 * ));
 * assert.deepEqual(m, { type: "API_RESPONSE", headers: { requestId: "r1" },
 *   httpResponse: { statusCode: 200, headers: { "Content-Type": "text/plain", "Content-Length": 2 }, body: "w6k=" } });
 * ```
 */
export function encodeApiResponse(reply: Reply): Uint8Array {
  const body = typeof reply.body === "string" ? encoder.encode(reply.body) : reply.body;
  const headers: Record<string, string | number> = {};
  for (const name in reply.headers) {
    if (!Object.hasOwn(reply.headers, name) || name.toLowerCase() === "content-length") continue;
    headers[name] = reply.headers[name]!;
  }
  headers["Content-Length"] = body.byteLength;
  const message: ApiResponse = {
    type: "API_RESPONSE",
    headers: { requestId: reply.id },
    httpResponse: {
      statusCode: reply.status,
      headers,
      body: body.byteLength === 0 ? "" : body.toBase64(),
    },
  };
  return encoder.encode(JSON.stringify(message));
}

/** vCD's MQTT message format (wire-format document, section 12) as a codec for `endpoint`. */
export const MQTT_CODEC: RequestCodec = { decode: decodeApiRequest, encode: encodeApiResponse };
