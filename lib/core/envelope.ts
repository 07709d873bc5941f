/**
 * @module The vCD API-extension message codec: decodes the request body a cell publishes
 * (`[request, securityContext, context?]`) and encodes the reply object it waits for.
 * Strict in what it sends, lenient in what it accepts (wire-format doc, sections 2 and 3).
 */

import { Buffer } from "node:buffer";
import { HttpError } from "./errors.ts";
import { isRecord, type Json, own } from "./json.ts";
import type { RequestCodec } from "./seam.ts";

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

function headerText(value: unknown): string {
  return Array.isArray(value)
    ? value.map(String).join(", ")
    : value === null || value === undefined
    ? ""
    : String(value);
}

/** Whether `key.toLowerCase() === lower`, without making the lower-case copy when ASCII. */
function lowerEquals(key: string, lower: string): boolean {
  if (key.length !== lower.length) {
    // Lower-casing changes the length of a string only through U+0130 (İ becomes i + U+0307;
    // Unicode SpecialCasing, unconditional mappings).
    return key.includes("\u0130") && key.toLowerCase() === lower;
  }
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    if (c >= 0x80) return key.toLowerCase() === lower;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The request headers by lower-case name, read from the decoded JSON object as they are
 * asked for: a request carries a handful of headers and the path looks at two or three, so
 * `get` scans the names instead of building a `Map` per request. Iteration (and `size`,
 * `has`) builds the `Map` once. Repeated names in different case are joined with `", "`;
 * array values too; `null` is `""`.
 */
class RequestHeaders implements ReadonlyMap<string, string> {
  readonly #raw: Json | undefined;
  #map: Map<string, string> | undefined;

  constructor(raw: unknown) {
    this.#raw = isRecord(raw) ? raw : undefined;
  }

  get(name: string): string | undefined {
    if (this.#map) return this.#map.get(name);
    const raw = this.#raw;
    if (raw === undefined) return undefined;
    let found: string | undefined;
    for (const key in raw) {
      if (!lowerEquals(key, name) || !Object.hasOwn(raw, key)) continue;
      const text = headerText(raw[key]);
      found = found === undefined ? text : `${found}, ${text}`;
    }
    return found;
  }

  #full(): Map<string, string> {
    if (this.#map) return this.#map;
    const headers = new Map<string, string>();
    const raw = this.#raw;
    if (raw !== undefined) {
      for (const [name, value] of Object.entries(raw)) {
        const key = name.toLowerCase();
        const text = headerText(value);
        const prior = headers.get(key);
        headers.set(key, prior === undefined ? text : `${prior}, ${text}`);
      }
    }
    return (this.#map = headers);
  }

  get size(): number {
    return this.#full().size;
  }
  has(name: string): boolean {
    return this.#full().has(name);
  }
  forEach(
    fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void,
    thisArg?: unknown,
  ): void {
    for (const [key, value] of this.#full()) fn.call(thisArg, value, key, this);
  }
  entries(): MapIterator<[string, string]> {
    return this.#full().entries();
  }
  keys(): MapIterator<string> {
    return this.#full().keys();
  }
  values(): MapIterator<string> {
    return this.#full().values();
  }
  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.#full()[Symbol.iterator]();
  }
}

/**
 * The security context as decoded. A class, not an object literal with a getter: a literal's
 * getter is a fresh closure each time, and V8 then gives every such object its own hidden
 * class, which kept about 4 KB per request alive across garbage collections.
 */
class DecodedSecurity implements SecurityContext {
  readonly #raw: unknown;
  #rights: Set<string> | undefined;

  constructor(
    readonly user: string,
    readonly org: string,
    rights: unknown,
    readonly parameters: unknown,
  ) {
    this.#raw = rights;
  }

  /** Built on first use: most routes declare no rights and most handlers never look. */
  get rights(): ReadonlySet<string> {
    const raw = this.#raw;
    return (this.#rights ??= new Set(
      Array.isArray(raw) ? raw.filter((r): r is string => typeof r === "string") : [],
    ));
  }
}

function decodeSecurity(raw: unknown): SecurityContext {
  if (!isRecord(raw)) return new DecodedSecurity("", "", undefined, undefined);
  const user = own(raw, "user");
  const org = own(raw, "org");
  return new DecodedSecurity(
    typeof user === "string" ? user : "",
    typeof org === "string" ? org : "",
    own(raw, "rights"),
    own(raw, "parameters"),
  );
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
  return decodeElements(parsed, limits);
}

/**
 * The request from the envelope's elements `[request, securityContext, context]`, already
 * parsed (by {@linkcode parseJson}, which drops `__proto__` keys): what {@linkcode decodeRequest}
 * does after parsing, for a bus that carries the same elements in another wrapper (MQTT's
 * `httpRequest`). Checks the body against `maxBodyBytes`; the message size is the caller's.
 */
export function decodeElements(parsed: readonly unknown[], limits: DecodeLimits = {}): VcdRequest {
  const http = parsed[0];
  if (!isRecord(http)) throw new EnvelopeError("element 0 (the HTTP request) is not an object");

  const rawId = own(http, "id");
  const requestId = typeof rawId === "string" ? rawId : typeof rawId === "number" ? `${rawId}` : "";
  const headers = new RequestHeaders(own(http, "headers"));
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

/** The entity as base64 and its length in bytes. */
function encodedBody(entity: Uint8Array | string): { length: number; base64: string } {
  if (typeof entity === "string" && ASCII.test(entity)) {
    // ASCII text (most JSON and XML): bytes = characters, and btoa takes the string as it is.
    return { length: entity.length, base64: btoa(entity) };
  }
  const bytes = typeof entity === "string" ? encoder.encode(entity) : entity;
  return { length: bytes.byteLength, base64: bytes.byteLength === 0 ? "" : bytes.toBase64() };
}

const ASCII = /^[^\u0080-\uffff]*$/; // no character above U+007F (surrogates included)

/**
 * Encodes a reply as the UTF-8 JSON bytes of a {@linkcode ReplyMessage} to publish: the body
 * in base64 and `Content-Length` as its UTF-8 **byte** length, a number. A `Content-Length` in
 * `reply.headers` is replaced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeReply } from "./envelope.ts";
 * const read = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));
 * const m = read(encodeReply({ id: "r1", status: 204, headers: {}, body: "" }));
 * assert.deepEqual(m, { id: "r1", statusCode: 204, headers: { "Content-Length": 0 }, body: "", request: false });
 * const e = read(encodeReply({ id: "r1", status: 200, headers: { "Content-Type": "text/plain" }, body: "é" }));
 * assert.equal(e.headers["Content-Length"], 2);
 * assert.equal(e.body, "w6k=");
 * ```
 */
export function encodeReply(reply: Reply): Uint8Array {
  // The JSON text written directly: no copy of the headers and no message object per reply.
  // A test holds it equal to `JSON.stringify` of the {@linkcode ReplyMessage} built as an
  // object.
  const { length, base64 } = encodedBody(reply.body);
  let headers = "";
  for (const name in reply.headers) {
    if (!Object.hasOwn(reply.headers, name) || name.toLowerCase() === "content-length") continue;
    const value = JSON.stringify(reply.headers[name]);
    if (value !== undefined) headers += `${JSON.stringify(name)}:${value},`;
  }
  // Buffer.from, not TextEncoder: small results are cut from a shared pool instead of each
  // getting an ArrayBuffer of its own (about 3 times faster for a typical reply). A Buffer is a
  // Uint8Array; its `.buffer` is the pool, so read it through byteOffset/byteLength.
  return Buffer.from(
    `{"id":${JSON.stringify(reply.id)},"statusCode":${JSON.stringify(reply.status)},` +
      `"headers":{${headers}"Content-Length":${length}},"body":"${base64}","request":false}`,
    "utf8",
  );
}

/** vCD's AMQP message format (sections 2 and 3 of the wire-format document) as a codec. */
export const ENVELOPE_CODEC: RequestCodec = { decode: decodeRequest, encode: encodeReply };
