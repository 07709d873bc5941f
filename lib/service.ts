/**
 * @module What to do with one delivery from an extension's queue: decode, dispatch, encode,
 * and say where the reply goes, or why the message must be rejected. Pure: the AMQP adapter
 * carries the decision out (publish and confirm, then ack; or reject without requeue).
 */

import { compile, dispatch, type Outcome, undecodableReply } from "./dispatch.ts";
import { type DecodeLimits, decodeRequest, encodeReply, EnvelopeError } from "./envelope.ts";
import type { Extension } from "./extension.ts";

/** The parts of an AMQP message the service reads. */
export interface Delivery {
  readonly content: Uint8Array;
  readonly correlationId?: string | undefined;
  readonly replyTo?: string | undefined;
  /** Application headers, as the broker delivered them. */
  readonly headers: Readonly<Record<string, unknown>>;
}

/** Publish `body` to `exchange` with `routingKey` and `correlationId`, then ack. */
export interface ReplyDecision {
  readonly kind: "reply";
  /** The extension that answered. */
  readonly extension: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly correlationId: string | undefined;
  readonly body: Uint8Array;
  /** The request id (or `""` when the body could not be decoded). */
  readonly requestId: string;
  readonly method?: string;
  readonly outcome: Outcome;
}

/** No reply is possible: reject without requeue (dead-letter when configured). */
export interface RejectDecision {
  readonly kind: "reject";
  /** Why, for the one log line. */
  readonly reason: string;
}

/** What the adapter must do with a delivery. */
export type Decision = ReplyDecision | RejectDecision;

/** An extension compiled for the service, with decoding limits. */
export interface Endpoint {
  readonly extension: Extension;
  readonly handle: (delivery: Delivery, signal?: AbortSignal) => Promise<Decision>;
}

/** Options of {@linkcode endpoint}. */
export interface EndpointOptions extends DecodeLimits {}

function text(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return undefined;
}

/**
 * Compiles an extension into the function that turns a delivery into a {@linkcode Decision}.
 * Never throws. A message with no `reply_to` property or no `replyToExchange` header is
 * rejected; an undecodable body with reply coordinates is answered 400.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { endpoint } from "./service.ts";
 * import { defineExtension } from "./extension.ts";
 * const ep = endpoint(defineExtension({ name: "x", namespace: "x", routingKey: "x", routes: [] }));
 * const d = await ep.handle({ content: new TextEncoder().encode("[]"), headers: {} });
 * assert.equal(d.kind, "reject");
 * ```
 */
export function endpoint(extension: Extension, options: EndpointOptions = {}): Endpoint {
  const app = compile(extension);
  return {
    extension,
    async handle(delivery: Delivery, signal?: AbortSignal): Promise<Decision> {
      const exchange = text(delivery.headers["replyToExchange"]);
      const routingKey = delivery.replyTo;
      if (exchange === undefined || routingKey === undefined || routingKey === "") {
        const missing = exchange === undefined ? "replyToExchange header" : "reply_to property";
        return { kind: "reject", reason: `message has no ${missing}, so no reply is possible` };
      }
      const coordinates = {
        kind: "reply",
        extension: extension.name,
        exchange,
        routingKey,
        correlationId: delivery.correlationId,
      } as const;
      let request;
      try {
        request = decodeRequest(delivery.content, options);
      } catch (e) {
        const error = e instanceof EnvelopeError ? e : new EnvelopeError(String(e));
        const reply = undecodableReply(error);
        return {
          ...coordinates,
          body: encodeReply(reply),
          requestId: error.requestId,
          outcome: { reply },
        };
      }
      const outcome = await dispatch(app, request, signal ? { signal } : {});
      let body: Uint8Array;
      try {
        body = encodeReply(outcome.reply);
      } catch (e) {
        // Only a handler header that JSON cannot carry gets here; answer 500 all the same.
        const reply = { id: request.id, status: 500, headers: {}, body: "" };
        return {
          ...coordinates,
          body: encodeReply(reply),
          requestId: request.id,
          method: request.method,
          outcome: { reply, error: e },
        };
      }
      return { ...coordinates, body, requestId: request.id, method: request.method, outcome };
    },
  };
}
