/**
 * @module The vCD cell's side of the exchange, for `vcdext request`, the demo, tests and
 * benchmarks: builds request envelopes exactly as a cell publishes them and decodes replies.
 * Pure; the AMQP adapter's `CellClient` sends and receives them.
 */

import { parseJson, type ReplyMessage } from "../core/envelope.ts";
import type { Extension } from "../core/extension.ts";
import { SECRET_HEADERS } from "../core/redact.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a simulated API client asks for. */
export interface CellRequest {
  readonly method: string;
  /** Path, optionally with `?query`. */
  readonly path: string;
  /** Request headers as the client sent them (e.g. `Accept`, `Content-Type`, `Authorization`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Request entity. */
  readonly body?: string | Uint8Array;
  /** `urn:vcloud:user:<uuid>`. */
  readonly user?: string;
  /** `urn:vcloud:org:<uuid>`. */
  readonly org?: string;
  /** `urn:vcloud:right:<uuid>` values. */
  readonly rights?: readonly string[];
  /** Request id; default a random UUID. */
  readonly id?: string;
}

/** A request ready to publish. */
export interface CellEnvelope {
  readonly id: string;
  readonly body: Uint8Array;
}

/** Sample ids used by the demo and tests. */
export const SAMPLE = {
  org: "urn:vcloud:org:1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
  orgId: "1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
  user: "urn:vcloud:user:8b7a6c5d-0000-4e3f-9a1b-2c3d4e5f6a7b",
} as const;

/**
 * Builds the `[request, securityContext, context]` body a cell publishes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRequest } from "./cell.ts";
 * const env = buildRequest({ method: "GET", path: "/api/org/o/ticketing?status=open", id: "r1" });
 * const [req] = JSON.parse(new TextDecoder().decode(env.body));
 * assert.equal(req.requestUri, "/api/org/o/ticketing");
 * assert.equal(req.queryString, "status=open");
 * ```
 */
export function buildRequest(request: CellRequest): CellEnvelope {
  const id = request.id ?? crypto.randomUUID();
  const q = request.path.indexOf("?");
  const body = typeof request.body === "string" ? encoder.encode(request.body) : request.body;
  const envelope = [
    {
      id,
      method: request.method.toUpperCase(),
      scheme: "https",
      protocol: "HTTP/1.1",
      requestUri: q >= 0 ? request.path.slice(0, q) : request.path,
      queryString: q >= 0 ? request.path.slice(q + 1) : null,
      headers: request.headers ?? {},
      localAddr: "127.0.0.1",
      localPort: 443,
      remoteAddr: "127.0.0.1",
      remotePort: 50000,
      request: true,
      body: body && body.byteLength > 0 ? body.toBase64() : "",
    },
    {
      user: request.user ?? SAMPLE.user,
      org: request.org ?? SAMPLE.org,
      rights: request.rights ?? [],
    },
    {},
  ];
  return { id, body: encoder.encode(JSON.stringify(envelope)) };
}

/** A decoded reply. */
export interface CellReply {
  readonly id: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string | number>>;
  /** The decoded entity bytes. */
  readonly body: Uint8Array;
  /** The entity as UTF-8 text. */
  readonly text: string;
}

/**
 * Decodes a reply message as the cell would, checking its shape strictly (the service must
 * send exactly this), including that `Content-Length` equals the byte length of the body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeReply } from "./cell.ts";
 * import { encodeReply } from "../core/envelope.ts";
 * const r = decodeReply(encodeReply({ id: "r1", status: 200, headers: {}, body: "é" }));
 * assert.equal(r.text, "é");
 * ```
 */
export function decodeReply(bytes: Uint8Array): CellReply {
  const m = parseJson(decoder.decode(bytes)) as Partial<ReplyMessage> | null;
  if (typeof m !== "object" || m === null || Array.isArray(m)) {
    throw new TypeError("reply is not a JSON object");
  }
  if (typeof m.id !== "string") throw new TypeError("reply has no string id");
  if (typeof m.statusCode !== "number") throw new TypeError("reply statusCode is not a number");
  if (m.request !== false) throw new TypeError("reply request is not false");
  if (typeof m.body !== "string") throw new TypeError("reply body is not a string");
  return replyOf("reply", m.id, m.statusCode, m.headers ?? {}, m.body);
}

/**
 * A reply from its parts as either bus carries them (the body in base64), checked as a cell
 * would: `Content-Length` must be the body's byte count. `what` names it in errors.
 */
export function replyOf(
  what: string,
  id: string,
  status: number,
  headers: Readonly<Record<string, string | number>>,
  base64: string,
): CellReply {
  const body = base64 === "" ? new Uint8Array() : Uint8Array.fromBase64(base64);
  if (headers["Content-Length"] !== body.byteLength) {
    throw new TypeError(
      `${what} Content-Length ${
        headers["Content-Length"]
      } is not the body's ${body.byteLength} bytes`,
    );
  }
  return { id, status, headers, body, text: decoder.decode(body) };
}

const REASONS: Readonly<Record<number, string>> = {
  200: "OK",
  201: "Created",
  204: "No Content",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  504: "Gateway Timeout",
};

/**
 * One request/reply exchange as readable text, the way `vcdext request` and the demo print
 * it. Credential headers are shown as `[redacted]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeReply, describeExchange } from "./cell.ts";
 * import { encodeReply } from "../core/envelope.ts";
 * const reply = decodeReply(encodeReply({ id: "r1", status: 204, headers: {}, body: "" }));
 * const text = describeExchange({ method: "DELETE", path: "/api/x", headers: { Authorization: "Bearer t" } }, reply, 1.5);
 * assert.match(text, /^→ DELETE \/api\/x\n  Authorization: \[redacted\]\n← 204 No Content  \(1\.5 ms\)/);
 * ```
 */
export function describeExchange(request: CellRequest, reply: CellReply, ms: number): string {
  const lines = [`→ ${request.method.toUpperCase()} ${request.path}`];
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    lines.push(`  ${name}: ${SECRET_HEADERS.has(name.toLowerCase()) ? "[redacted]" : value}`);
  }
  if (request.body !== undefined && request.body.length > 0) {
    lines.push(
      `  ${typeof request.body === "string" ? request.body : decoder.decode(request.body)}`,
    );
  }
  lines.push(`← ${reply.status} ${REASONS[reply.status] ?? ""}  (${ms.toFixed(1)} ms)`);
  for (const [name, value] of Object.entries(reply.headers)) lines.push(`  ${name}: ${value}`);
  if (reply.text !== "") lines.push(`  ${reply.text}`);
  return lines.join("\n");
}

/** The ticketing requests the demo sends, in XML and JSON, including errors. */
export function demoRequests(): CellRequest[] {
  const base = `/api/org/${SAMPLE.orgId}/ticketing`;
  const xml = "application/*+xml;version=36.0";
  const json = "application/*+json;version=36.0";
  return [
    {
      method: "POST",
      path: base,
      headers: {
        Accept: json,
        "Content-Type": "application/json",
        Authorization: "Bearer eyJhbGciOiJub25lIn0.demo.token",
      },
      body: '{"message":"disk is full"}',
    },
    {
      method: "POST",
      path: base,
      headers: { Accept: xml, "Content-Type": "application/vnd.example.ticket+xml" },
      body: "<Ticket><Message>VPN &amp; DNS down</Message></Ticket>",
    },
    { method: "GET", path: base, headers: { Accept: xml } },
    {
      method: "PUT",
      path: `${base}/1`,
      headers: { Accept: json, "Content-Type": "application/json" },
      body: '{"status":"closed"}',
    },
    {
      method: "GET",
      path: `${base}?status=open`,
      headers: { Accept: "application/json;q=0.5, application/xml" },
    },
    { method: "DELETE", path: `${base}/1`, headers: { Accept: json } },
    { method: "GET", path: `${base}/1`, headers: { Accept: xml } },
    {
      method: "GET",
      path: `/api/org/00000000-0000-4000-8000-000000000000/ticketing`,
      headers: { Accept: json },
    },
    { method: "PATCH", path: `${base}/2`, headers: { Accept: json } },
    { method: "GET", path: base, headers: { Accept: "text/html" } },
  ];
}

/** A GET (or the first route) of the extension, with placeholder parameters. */
export function sampleRequest(ext: Extension): CellRequest {
  const r = ext.routes.find((x) => x.method === "GET") ?? ext.routes[0]!;
  const path = r.path.replace(/\{org\}/g, SAMPLE.orgId).replace(/\{[^}]+\}/g, "1");
  return { method: r.method, path, headers: { Accept: "application/*+xml;version=36.0" } };
}
