/**
 * @module The AMQP side of the seam, without amqplib: what vCD's AMQP message says about where
 * its reply goes (the `replyToExchange` header, the `reply_to` property and the correlation id,
 * wire-format document section 2.1), read into the core's transport-neutral
 * {@linkcode Delivery}.
 */

import type { Delivery } from "../../core/seam.ts";

/** Where a reply to an AMQP request goes: opaque to the core. */
export interface AmqpAddress {
  /** The exchange the reply is published to (the `replyToExchange` header). */
  readonly exchange: string;
  /** The routing key of the reply (the `reply_to` property). */
  readonly routingKey: string;
  /** Copied onto the reply; vCD matches replies by it. */
  readonly correlationId: string | undefined;
}

/** The parts of an AMQP message the service reads. */
export interface AmqpMessageParts {
  /** The message body. */
  readonly content: Uint8Array;
  /** The routing key it was published with. */
  readonly routingKey?: string | undefined;
  /** The message's `correlation_id` property. */
  readonly correlationId?: string | undefined;
  /** The message's `reply_to` property. */
  readonly replyTo?: string | undefined;
  /** Application headers, as the broker delivered them. */
  readonly headers: Readonly<Record<string, unknown>>;
  /** The broker's redelivered flag: an earlier delivery was not acked. */
  readonly redelivered?: boolean | undefined;
  /** The message's `timestamp` property in ms since the epoch, when the publisher set one. */
  readonly timestamp?: number | undefined;
  /** When this process received it, ms since the epoch (the adapter's clock). */
  readonly receivedAt?: number | undefined;
}

const decoder = new TextDecoder();

/** An AMQP header as text: a string, or long-string bytes as some clients send them. */
function text(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return decoder.decode(value);
  return undefined;
}

/**
 * The core's view of an AMQP message: its reply address, or what is missing when a reply is
 * impossible (the core rejects it without requeue).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { amqpDelivery } from "./delivery.ts";
 * const d = amqpDelivery({ content: new Uint8Array(), replyTo: "q", correlationId: "c", headers: { replyToExchange: "x" } });
 * assert.deepEqual(d.reply, { to: { exchange: "x", routingKey: "q", correlationId: "c" } });
 * assert.deepEqual(amqpDelivery({ content: new Uint8Array(), headers: {} }).reply, { missing: "replyToExchange header" });
 * ```
 */
export function amqpDelivery(parts: AmqpMessageParts): Delivery<AmqpAddress> {
  const exchange = text(parts.headers["replyToExchange"]);
  const routingKey = parts.replyTo;
  const reply = exchange === undefined
    ? { missing: "replyToExchange header" }
    : routingKey === undefined || routingKey === ""
    ? { missing: "reply_to property" }
    : { to: { exchange, routingKey, correlationId: parts.correlationId } };
  // One shape for every delivery (absent facts are `undefined`): one hidden class on the hot path.
  return {
    content: parts.content,
    reply,
    headers: parts.headers,
    topic: parts.routingKey,
    redelivered: parts.redelivered,
    timestamp: parts.timestamp,
    receivedAt: parts.receivedAt,
  };
}
