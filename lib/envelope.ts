/**
 * @module The vCD API-extension message codec: decodes the request body a cell publishes
 * (`[request, securityContext, context?]`) and encodes the reply object it waits for.
 * Strict in what it sends, lenient in what it accepts (wire-format doc, sections 2 and 3).
 */

import { HttpError } from "./errors.ts";

/** The caller as vCD vouches for it (element 1 of the envelope). */
export interface SecurityContext {
  /** `urn:vcloud:user:<uuid>`, or `""` when the cell sent none. */
  readonly user: string;
  /** The caller's own organisation, `urn:vcloud:org:<uuid>`, or `""`. */
  readonly org: string;
  /** The rights the caller holds, `urn:vcloud:right:<uuid>`. */
  readonly rights: ReadonlySet<string>;
  /** Meaning unknown; kept as sent. */
  readonly parameters: unknown;
}

/** One decoded API-extension request. */
export interface VcdRequest {
  /** The request id, echoed as `id` in the reply. */
  readonly id: string;
  /** Upper-case HTTP method. */
  readonly method: string;
  /** Path only, e.g. `/api/org/<uuid>/ticketing`. */
  readonly path: string;
  /** Raw query without `?`; `""` when absent. */
  readonly queryString: string;
  /** Request headers keyed by **lower-case** name. */
  readonly headers: ReadonlyMap<string, string>;
  /** The request entity (decoded from base64). */
  readonly body: Uint8Array;
  /** Who is calling. */
  readonly security: SecurityContext;
  /** Element 2 of the envelope; content unknown, kept opaque. */
  readonly context: unknown;
}

/** Limits applied while decoding; both default to no limit. */
export interface DecodeLimits {
  /** Largest accepted message body in bytes (413 beyond). */
  readonly maxEnvelopeBytes?: number;
  /** Largest accepted decoded request entity in bytes (413 beyond). */
  readonly maxBodyBytes?: number;
}

/**
 * A message that cannot be decoded into a request. It is a 400 (or 413) {@linkcode HttpError};
 * `requestId` and `accept` carry what could still be read, so the error reply can echo the id
 * and use the client's format.
 */
export class EnvelopeError extends HttpError {
  /** The request id, when element 0 had one. */
  readonly requestId: string;
  /** The client's Accept header, when it could be read. */
  readonly accept: string | undefined;

  constructor(
    message: string,
    found: { requestId?: string; accept?: string | undefined; status?: number } = {},
  ) {
    super(found.status ?? 400, `Cannot decode request: ${message}`);
    this.name = "EnvelopeError";
    this.requestId = found.requestId ?? "";
    this.accept = found.accept;
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function own(o: Json, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

/** JSON reviver that drops `__proto__` keys so a decoded object can never carry one. */
function dropProto(key: string, value: unknown): unknown {
  return key === "__proto__" ? undefined : value;
}

/**
 * Parses JSON text, dropping any `__proto__` key so no decoded object can pollute a
 * prototype when it is later copied. Throws `SyntaxError` like `JSON.parse`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseJson } from "./envelope.ts";
 * const v = parseJson('{"__proto__":{"admin":true},"a":1}') as Record<string, unknown>;
 * assert.deepEqual(Object.keys(v), ["a"]);
 * assert.equal(Object.getPrototypeOf(v), Object.prototype);
 * ```
 */
export function parseJson(text: string): unknown {
  // A reviver makes JSON.parse several times slower, and a key can only spell `__proto__`
  // literally or through a `\u` escape: without either, the plain parse is the same result.
  return text.includes("__proto__") || text.includes("\\u")
    ? JSON.parse(text, dropProto)
    : JSON.parse(text);
}

function decodeHeaders(raw: unknown): Map<string, string> {
  const headers = new Map<string, string>();
  if (!isObject(raw)) return headers;
  for (const [name, value] of Object.entries(raw)) {
    const key = name.toLowerCase();
    const text = Array.isArray(value)
      ? value.map(String).join(", ")
      : value === null || value === undefined
      ? ""
      : String(value);
    const prior = headers.get(key);
    headers.set(key, prior === undefined ? text : `${prior}, ${text}`);
  }
  return headers;
}

function decodeSecurity(raw: unknown): SecurityContext {
  if (!isObject(raw)) return { user: "", org: "", rights: new Set(), parameters: undefined };
  const rights = own(raw, "rights");
  const user = own(raw, "user");
  const org = own(raw, "org");
  // The set is built on first use: most routes declare no rights and most handlers never look.
  let set: Set<string> | undefined;
  return {
    user: typeof user === "string" ? user : "",
    org: typeof org === "string" ? org : "",
    get rights(): ReadonlySet<string> {
      return (set ??= new Set(
        Array.isArray(rights) ? rights.filter((r): r is string => typeof r === "string") : [],
      ));
    },
    parameters: own(raw, "parameters"),
  };
}

/** Splits `requestUri` into path and query, accepting a full URL or an embedded `?`. */
function splitUri(uri: string): [string, string] {
  let rest = uri;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length) || "/";
  const hash = rest.indexOf("#");
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf("?");
  return q >= 0 ? [rest.slice(0, q), rest.slice(q + 1)] : [rest, ""];
}

/**
 * Decodes the body of a request message into a {@linkcode VcdRequest}. Element 1 and 2 may be
 * missing; extra elements and fields are ignored; header names are looked up
 * case-insensitively. Throws {@linkcode EnvelopeError} saying what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRequest } from "./envelope.ts";
 * const body = new TextEncoder().encode(JSON.stringify([
 *   { id: "r1", method: "get", requestUri: "/api/org/1/ticketing", queryString: null,
 *     headers: { ACCEPT: "application/*+xml;version=36.0" }, body: "" },
 *   { user: "urn:vcloud:user:u", org: "urn:vcloud:org:o", rights: [] },
 * ]));
 * const req = decodeRequest(body);
 * assert.equal(req.method, "GET");
 * assert.equal(req.headers.get("accept"), "application/*+xml;version=36.0");
 * assert.equal(req.queryString, "");
 * ```
 */
export function decodeRequest(bytes: Uint8Array, limits: DecodeLimits = {}): VcdRequest {
  if (limits.maxEnvelopeBytes !== undefined && bytes.byteLength > limits.maxEnvelopeBytes) {
    throw new EnvelopeError(
      `message is ${bytes.byteLength} bytes, over the limit of ${limits.maxEnvelopeBytes}`,
      { status: 413 },
    );
  }
  let parsed: unknown;
  try {
    parsed = parseJson(decoder.decode(bytes));
  } catch (e) {
    throw new EnvelopeError(`body is not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(parsed)) {
    throw new EnvelopeError("body is not a JSON array [request, securityContext, context]");
  }
  const http = parsed[0];
  if (!isObject(http)) throw new EnvelopeError("element 0 (the HTTP request) is not an object");

  const rawId = own(http, "id");
  const requestId = typeof rawId === "string" ? rawId : typeof rawId === "number" ? `${rawId}` : "";
  const headers = decodeHeaders(own(http, "headers"));
  const found = { requestId, accept: headers.get("accept") };
  if (requestId === "") throw new EnvelopeError("request has no id", found);

  const method = own(http, "method");
  if (typeof method !== "string" || !/^[A-Za-z]{1,16}$/.test(method)) {
    throw new EnvelopeError("request has no valid method", found);
  }
  const uri = own(http, "requestUri");
  if (typeof uri !== "string" || uri === "") {
    throw new EnvelopeError("request has no requestUri", found);
  }
  const [path, embeddedQuery] = splitUri(uri);
  if (!path.startsWith("/")) throw new EnvelopeError("requestUri is not a path", found);
  const rawQuery = own(http, "queryString");
  const queryString = typeof rawQuery === "string" ? rawQuery.replace(/^\?/, "") : embeddedQuery;

  const rawBody = own(http, "body");
  let body: Uint8Array;
  if (rawBody === undefined || rawBody === null || rawBody === "") {
    body = new Uint8Array(0);
  } else if (typeof rawBody !== "string") {
    throw new EnvelopeError("request body is not a base64 string", found);
  } else {
    try {
      body = Uint8Array.fromBase64(rawBody);
    } catch {
      throw new EnvelopeError("request body is not valid base64", found);
    }
    // Checked on the decoded bytes: an estimate from the base64 length counts padding and
    // whitespace, and refused entities exactly at the limit. The message limit already bounds
    // how much is decoded.
    if (limits.maxBodyBytes !== undefined && body.byteLength > limits.maxBodyBytes) {
      throw new EnvelopeError(`request entity is over the limit of ${limits.maxBodyBytes} bytes`, {
        ...found,
        status: 413,
      });
    }
  }
  return {
    id: requestId,
    method: method.toUpperCase(),
    path,
    queryString,
    headers,
    body,
    security: decodeSecurity(parsed[1]),
    context: parsed[2],
  };
}

/** A reply before encoding. */
export interface Reply {
  /** The request id to echo. */
  readonly id: string;
  /** HTTP status the API client will see. */
  readonly status: number;
  /** Response headers; `Content-Length` is always set by {@linkcode encodeReply}. */
  readonly headers: Readonly<Record<string, string>>;
  /** Response entity: text is sent as UTF-8. */
  readonly body: Uint8Array | string;
}

/** The JSON object published as the reply message (wire-format doc, section 3). */
export interface ReplyMessage {
  id: string;
  statusCode: number;
  headers: Record<string, string | number>;
  body: string;
  request: false;
}

/**
 * Builds the reply object: base64 body and `Content-Length` as the UTF-8 **byte** length,
 * a number. A `Content-Length` in `reply.headers` is replaced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replyMessage } from "./envelope.ts";
 * const m = replyMessage({ id: "r1", status: 200, headers: { "Content-Type": "text/plain" }, body: "é" });
 * assert.equal(m.headers["Content-Length"], 2);
 * assert.equal(m.body, "w6k=");
 * ```
 */
export function replyMessage(reply: Reply): ReplyMessage {
  const headers: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(reply.headers)) {
    if (name.toLowerCase() !== "content-length") headers[name] = value;
  }
  let length: number;
  let body: string;
  if (typeof reply.body === "string" && ASCII.test(reply.body)) {
    // ASCII text (most JSON and XML): bytes = characters, and btoa takes the string as it is.
    length = reply.body.length;
    body = btoa(reply.body);
  } else {
    const bytes = typeof reply.body === "string" ? encoder.encode(reply.body) : reply.body;
    length = bytes.byteLength;
    body = length === 0 ? "" : bytes.toBase64();
  }
  headers["Content-Length"] = length;
  return { id: reply.id, statusCode: reply.status, headers, body, request: false };
}

const ASCII = /^[^\u0080-\uffff]*$/; // no character above U+007F (surrogates included)

/**
 * Encodes a reply as the UTF-8 JSON bytes to publish.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeReply } from "./envelope.ts";
 * const bytes = encodeReply({ id: "r1", status: 204, headers: {}, body: "" });
 * const m = JSON.parse(new TextDecoder().decode(bytes));
 * assert.deepEqual(m, { id: "r1", statusCode: 204, headers: { "Content-Length": 0 }, body: "", request: false });
 * ```
 */
export function encodeReply(reply: Reply): Uint8Array {
  return encoder.encode(JSON.stringify(replyMessage(reply)));
}
