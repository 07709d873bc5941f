/**
 * @module The seam between the core and a bus. A transport (lib/transport/<bus>/) turns what its
 * broker delivers into a {@linkcode Delivery}: the message bytes, where its reply goes as an
 * opaque value of the transport's own type `A` (the core never looks inside), and the
 * redelivery facts. A {@linkcode Handler} (an extension's endpoint, or the notification
 * processor) turns it into a {@linkcode Decision}: reply bytes and where they go, reject, or ack.
 * The transport carries the decision out. A second bus is a sibling folder that implements these
 * two steps; nothing in lib/core/ changes.
 */

import type { Outcome } from "./dispatch.ts";
import type { DecodeLimits, Reply, VcdRequest } from "./envelope.ts";

/** Where a reply goes, or why none can go. */
export type ReplyTo<A> =
  | { readonly to: A }
  /** What is missing, for the log: e.g. `reply_to property`. */
  | { readonly missing: string };

/** One message, as the core reads it. */
export interface Delivery<A = unknown> {
  /** The message body. */
  readonly content: Uint8Array;
  /** The reply address (requests); absent for messages that are never answered (notifications). */
  readonly reply?: ReplyTo<A> | undefined;
  /** The routing key or topic it came with (notifications read their type from it). */
  readonly topic?: string | undefined;
  /** Message metadata the bus carries beside the body (AMQP application headers). */
  readonly headers: Readonly<Record<string, unknown>>;
  /** The broker delivered it before and it was not settled: it may have been handled already. */
  readonly redelivered?: boolean | undefined;
  /** When the publisher sent it, ms since the epoch, when it says. */
  readonly timestamp?: number | undefined;
  /** When this process received it, ms since the epoch (the transport's clock). */
  readonly receivedAt?: number | undefined;
}

/** Why a message is rejected without a reply: a code for metrics, stable across releases. */
export type RejectCode = "no-reply-address" | "undecodable" | "handler-failed";

/** No reply is possible: reject without requeue (dead-letter where the bus can). */
export interface RejectDecision {
  readonly kind: "reject";
  readonly code: RejectCode;
  /** Why, for the one log line. */
  readonly reason: string;
}

/** Done, nothing to send (a notification that was handled or ignored): ack. */
export interface AckDecision {
  readonly kind: "ack";
}

/**
 * Why a request was answered without running its handler: `busy` (429, too many in flight),
 * `duplicate` (the same message bytes as a request still being handled: it gets the same
 * outcome), `replayed` (a redelivery of one answered recently, same caller and bytes: the same
 * reply again), `expired` (a redelivery older than vCD's timeout: 504), `anonymous` (no
 * security context: 403).
 */
export type Shortcut = "busy" | "duplicate" | "replayed" | "expired" | "anonymous";

/** Send `body` to `to`, then settle the request (ack). */
export interface ReplyDecision<A = unknown> {
  readonly kind: "reply";
  /** The delivery's reply address, as the transport gave it. */
  readonly to: A;
  /** The encoded reply, in the bus's own format (see {@linkcode RequestCodec}). */
  readonly body: Uint8Array;
  /** The extension that answered. */
  readonly extension: string;
  /** The request id (or `""` when the body could not be decoded). */
  readonly requestId: string;
  readonly method?: string;
  /** The caller's user id (`urn:vcloud:user:<uuid>`) from the security context, for the log. */
  readonly user?: string;
  /** The caller's organisation id (`urn:vcloud:org:<uuid>`), for the log. */
  readonly org?: string;
  readonly outcome: Outcome;
  /** Set when the handler did not run for this delivery, and why. */
  readonly shortcut?: Shortcut;
}

/** What a transport does with a delivery. */
export type Decision<A = unknown> = ReplyDecision<A> | RejectDecision | AckDecision;

/** Turns a delivery into a decision; never throws. */
export type Handler = <A>(delivery: Delivery<A>, signal: AbortSignal) => Promise<Decision<A>>;

/**
 * How a bus writes requests and replies: vCD's AMQP JSON envelope (`ENVELOPE_CODEC` in
 * lib/core/envelope.ts, the default) or another bus's. `decode` throws an `EnvelopeError` (with the
 * request id when it could read one) for a message it cannot read: it is answered 400.
 */
export interface RequestCodec {
  decode(bytes: Uint8Array, limits: DecodeLimits): VcdRequest;
  encode(reply: Reply): Uint8Array;
}
