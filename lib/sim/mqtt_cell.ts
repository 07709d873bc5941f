/**
 * @module The vCD cell's side of the MQTT exchange (wire-format document, sections 12.3 and
 * 12.4), for `vcdext request --transport mqtt`, `vcdext check` and tests: builds an
 * `API_REQUEST` from the same {@linkcode CellRequest} the AMQP cell uses, and decodes an
 * `API_RESPONSE` strictly into a {@linkcode CellReply} (so `describeExchange` prints both buses
 * alike). Pure; lib/transport/mqtt/cell_client.ts publishes and receives the bytes.
 */

import { parseJson } from "../core/envelope.ts";
import { buildRequest, type CellReply, type CellRequest, replyOf } from "./cell.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An `API_REQUEST` ready to publish on the monitor topic. */
export interface ApiRequestMessage {
  /** Its `headers.requestId`: the response names it. */
  readonly requestId: string;
  readonly body: Uint8Array;
}

/** What the cell adds over MQTT besides the request. */
export interface ApiRequestOptions {
  /** `securityContext.apiAccessToken`: the caller's credential (a demo value by default). */
  readonly apiAccessToken?: string;
  /** `linkApiBaseUrl`; default `https://vcd.example.com/api`. */
  readonly linkApiBaseUrl?: string;
}

/**
 * Builds the `API_REQUEST` a cell publishes: `httpRequest` is base64 of `{message,
 * securityContext, context}`, `message` element 0 of the AMQP envelope plus `statusCode: 0`,
 * `securityContext` element 1 plus `apiAccessToken`; `headers.context` repeats the caller.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildApiRequest } from "./mqtt_cell.ts";
 * const m = buildApiRequest({ method: "GET", path: "/api/x?a=1", id: "r1" });
 * const outer = JSON.parse(new TextDecoder().decode(m.body));
 * assert.equal(outer.type, "API_REQUEST");
 * assert.equal(outer.headers.requestId, "r1");
 * const inner = JSON.parse(new TextDecoder().decode(Uint8Array.fromBase64(outer.httpRequest)));
 * assert.equal(inner.message.requestUri, "/api/x");
 * assert.equal(inner.message.queryString, "a=1");
 * assert.equal(inner.message.statusCode, 0);
 * ```
 */
export function buildApiRequest(
  request: CellRequest,
  options: ApiRequestOptions = {},
): ApiRequestMessage {
  const envelope = buildRequest(request);
  const [message, security, context] = JSON.parse(decoder.decode(envelope.body)) as [
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
  ];
  const apiAccessToken = options.apiAccessToken ?? "vcdext-cell-demo-access-token";
  const httpRequest = {
    message: { ...message, statusCode: 0 },
    securityContext: { ...security, apiAccessToken },
    context,
  };
  const outer = {
    type: "API_REQUEST",
    headers: {
      requestId: envelope.id,
      context: {
        apiAccessToken,
        user: security.user,
        org: security.org,
        rights: security.rights,
        parameters: null,
      },
    },
    httpRequest: encoder.encode(JSON.stringify(httpRequest)).toBase64(),
    linkApiBaseUrl: options.linkApiBaseUrl ?? "https://vcd.example.com/api",
  };
  return { requestId: envelope.id, body: encoder.encode(JSON.stringify(outer)) };
}

/**
 * Decodes an `API_RESPONSE` as vCD would, strictly: the type, a string `requestId`, a numeric
 * `statusCode`, a base64 `body` and a numeric `Content-Length` equal to its byte length.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeApiResponse } from "./mqtt_cell.ts";
 * const bytes = new TextEncoder().encode(JSON.stringify({ type: "API_RESPONSE",
 *   headers: { requestId: "r1" },
 *   httpResponse: { statusCode: 200, headers: { "Content-Length": 2 }, body: "w6k=" } }));
 * assert.equal(decodeApiResponse(bytes).text, "é");
 * ```
 */
export function decodeApiResponse(bytes: Uint8Array): CellReply {
  const m = parseJson(decoder.decode(bytes)) as Record<string, unknown> | null;
  if (typeof m !== "object" || m === null || Array.isArray(m)) {
    throw new TypeError("response is not a JSON object");
  }
  if (m.type !== "API_RESPONSE") throw new TypeError("response type is not API_RESPONSE");
  const id = (m.headers as Record<string, unknown> | undefined)?.requestId;
  if (typeof id !== "string") throw new TypeError("response has no string headers.requestId");
  const http = m.httpResponse as Record<string, unknown> | undefined;
  if (typeof http !== "object" || http === null) throw new TypeError("no httpResponse object");
  if (typeof http.statusCode !== "number") throw new TypeError("statusCode is not a number");
  if (typeof http.body !== "string") throw new TypeError("httpResponse body is not a string");
  const headers = (http.headers ?? {}) as Record<string, string | number>;
  return replyOf("response", id, http.statusCode, headers, http.body);
}

/** The simulated cell's MQTT client, as far as a request needs it. */
export interface MqttCellSender {
  send(
    topics: { monitor: string; respond: string },
    requestId: string,
    body: Uint8Array,
    timeoutMs: number,
  ): Promise<Uint8Array>;
}

/**
 * One request over MQTT as a cell makes it: the `API_REQUEST` published on the triplet's
 * monitor topic, the `API_RESPONSE` with its requestId awaited on the respond topic and decoded.
 * Answers the reply and how long the exchange took.
 */
export async function exchangeOverMqtt(
  cell: MqttCellSender,
  topics: { monitor: string; respond: string },
  request: CellRequest,
  timeoutMs: number,
): Promise<{ reply: CellReply; ms: number }> {
  const message = buildApiRequest(request);
  const started = performance.now();
  const raw = await cell.send(topics, message.requestId, message.body, timeoutMs);
  return { reply: decodeApiResponse(raw), ms: performance.now() - started };
}
