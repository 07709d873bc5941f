/**
 * @module What to do with one delivery from an extension's queue: decode, dispatch, encode,
 * and say where the reply goes, or why the message must be rejected. Pure: the AMQP adapter
 * carries the decision out (publish and confirm, then ack; or reject without requeue).
 */

import {
  compile,
  dispatch,
  type DispatchOptions,
  errorReply,
  type OptionalTimeLimit,
  type Outcome,
  undecodableReply,
} from "./dispatch.ts";
import { Buffer } from "node:buffer";
import {
  type DecodeLimits,
  decodeRequest,
  encodeReply,
  EnvelopeError,
  type Reply,
  type VcdRequest,
} from "./envelope.ts";
import { HttpError } from "./errors.ts";
import type { Extension } from "./extension.ts";
import { ReplayMemory } from "./replay.ts";

/** The parts of an AMQP message the service reads. */
export interface Delivery {
  readonly content: Uint8Array;
  /** The routing key it was published with. */
  readonly routingKey?: string;
  readonly correlationId?: string | undefined;
  readonly replyTo?: string | undefined;
  /** Application headers, as the broker delivered them. */
  readonly headers: Readonly<Record<string, unknown>>;
  /** The broker's redelivered flag: an earlier delivery was not acked. */
  readonly redelivered?: boolean;
  /** The message's `timestamp` property in ms since the epoch, when the publisher set one. */
  readonly timestamp?: number | undefined;
  /** When this process received it, ms since the epoch (the adapter's clock). */
  readonly receivedAt?: number;
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
  /** Set when the handler did not run for this delivery, and why. */
  readonly shortcut?: Shortcut;
}

/**
 * Why a request was answered without running its handler: `busy` (429, too many in flight),
 * `duplicate` (the same message bytes as a request still being handled: it gets the same
 * outcome), `replayed` (a redelivery of one answered recently, same caller and bytes: the same
 * reply again), `expired` (a redelivery older than vCD's timeout: 504), `anonymous` (no
 * security context: 403).
 */
export type Shortcut = "busy" | "duplicate" | "replayed" | "expired" | "anonymous";

/** No reply is possible: reject without requeue (dead-letter when configured). */
export interface RejectDecision {
  readonly kind: "reject";
  /** Why, for the one log line. */
  readonly reason: string;
}

/** Done, nothing to send (a notification that was handled or ignored): ack. */
export interface AckDecision {
  readonly kind: "ack";
}

/** What the adapter must do with a delivery. */
export type Decision = ReplyDecision | RejectDecision | AckDecision;

/** An extension compiled for the service, with decoding limits. */
export interface Endpoint {
  readonly extension: Extension;
  readonly handle: (delivery: Delivery, signal?: AbortSignal) => Promise<Decision>;
}

/**
 * Options of {@linkcode endpoint}. `timeoutMs`, the handler time limit (504 past it; keep it
 * below vCD's timeout; default none), comes with the `clock` that measures it.
 */
export type EndpointOptions = EndpointSettings & OptionalTimeLimit;

/** The options of {@linkcode endpoint} other than the handler time limit. */
export interface EndpointSettings extends DecodeLimits {
  /** Handlers running at once before new requests are answered 429 at once. Default: none. */
  readonly maxInFlight?: number;
  /** vCD's own timeout: a redelivered request older than this is answered 504 unhandled. Default 10,000. */
  readonly vcdTimeoutMs?: number;
  /**
   * Answered requests remembered for replay to a redelivery (see lib/core/replay.ts for which
   * request an entry answers): at most this many. Default 1,024.
   */
  readonly recentReplies?: number;
  /** Bytes the remembered replies may hold together. Default 4 MiB. */
  readonly recentReplyBytes?: number;
  /** Bytes one remembered reply may hold; a bigger one is not kept. Default 64 KiB. */
  readonly recentReplyEntryBytes?: number;
}

/** A request being handled: its message bytes and the outcome to come. */
interface InFlight {
  readonly content: Uint8Array;
  readonly outcome: Promise<Outcome>;
}

/** Whether two messages are the same bytes (a redelivery), not merely the same id. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/**
 * The answer to a redelivery whose reply was too big to keep (a request with side effects: see
 * lib/core/replay.ts): its error status again, or 409 for a success, without running the handler.
 */
function notKeptReply(request: VcdRequest, status: number): Reply {
  const error = status >= 400
    ? new HttpError(status, `This request was answered ${status} already`)
    : new HttpError(
      409,
      `This request was carried out already (status ${status}); its reply was too large to keep for a redelivery, so it is not repeated`,
    );
  return errorReply(request.id, request.headers.get("accept"), error);
}

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
  const vcdTimeoutMs = options.vcdTimeoutMs ?? 10_000;
  /**
   * Requests being handled, by id, with their message bytes: a delivery of the very same bytes
   * (a redelivery) waits for the same outcome. A different request that reuses the id is run on
   * its own and not entered here. Holds only references to requests in flight, so it is bounded
   * by what is in flight (the prefetch, or `maxInFlight`).
   */
  const handling = new Map<string, InFlight>();
  const recent = new ReplayMemory({
    ...(options.recentReplies === undefined ? {} : { entries: options.recentReplies }),
    ...(options.recentReplyBytes === undefined ? {} : { bytes: options.recentReplyBytes }),
    ...(options.recentReplyEntryBytes === undefined
      ? {}
      : { entryBytes: options.recentReplyEntryBytes }),
  });
  let running = 0;

  /** Dispatch options per outer signal (the adapter passes the same one every time). */
  let lastSignal: AbortSignal | undefined;
  let lastOptions: DispatchOptions = dispatchOptions(undefined);
  function dispatchOptions(signal: AbortSignal | undefined): DispatchOptions {
    const limit = options;
    if (limit.timeoutMs === undefined) return signal ? { signal } : {};
    const { timeoutMs, clock } = limit;
    return signal ? { signal, timeoutMs, clock } : { timeoutMs, clock };
  }

  /** Runs the handler for a request not seen before, or shortcuts a repeated one. */
  async function run(
    request: VcdRequest,
    content: Uint8Array,
    redelivered: boolean,
    signal: AbortSignal | undefined,
    answer: (outcome: Outcome, shortcut?: Shortcut) => ReplyDecision,
  ): Promise<ReplyDecision> {
    const pending = handling.get(request.id);
    if (pending && sameBytes(pending.content, content)) {
      return answer(await pending.outcome, "duplicate");
    }
    if (redelivered) {
      const done = recent.recall(request.id, content, request.security);
      if (done) {
        return answer(
          done.kind === "reply" ? done.outcome : { reply: notKeptReply(request, done.status) },
          "replayed",
        );
      }
    }
    if (options.maxInFlight !== undefined && running >= options.maxInFlight) {
      const busy = new HttpError(429, "The extension is busy; try again shortly", {
        headers: { "Retry-After": "1" },
      });
      return answer({ reply: errorReply(request.id, request.headers.get("accept"), busy) }, "busy");
    }
    if (signal !== lastSignal) {
      lastSignal = signal;
      lastOptions = dispatchOptions(signal);
    }
    running++;
    const dispatched = dispatch(app, request, lastOptions);
    // An id in flight for other bytes keeps its entry; this request runs unlisted.
    const entry = pending ? undefined : { content, outcome: dispatched };
    if (entry) handling.set(request.id, entry);
    let outcome: Outcome;
    try {
      outcome = await dispatched;
      recent.remember(request.id, request.method, content, request.security, outcome);
    } finally {
      running--;
      if (entry) handling.delete(request.id);
    }
    return answer(outcome);
  }

  return {
    extension,
    async handle(delivery: Delivery, signal?: AbortSignal): Promise<Decision> {
      const exchange = text(delivery.headers["replyToExchange"]);
      const routingKey = delivery.replyTo;
      if (exchange === undefined || routingKey === undefined || routingKey === "") {
        const missing = exchange === undefined ? "replyToExchange header" : "reply_to property";
        return { kind: "reject", reason: `message has no ${missing}, so no reply is possible` };
      }
      const correlationId = delivery.correlationId;
      let request: VcdRequest;
      try {
        request = decodeRequest(delivery.content, options);
      } catch (e) {
        const error = e instanceof EnvelopeError ? e : new EnvelopeError(String(e));
        const reply = undecodableReply(error);
        return {
          kind: "reply",
          extension: extension.name,
          exchange,
          routingKey,
          correlationId,
          body: encodeReply(reply),
          requestId: error.requestId,
          outcome: { reply },
        };
      }
      const req = request;
      const replyExchange: string = exchange;
      const replyKey: string = routingKey;
      /** The decision for an outcome: its reply encoded (a 500 when it cannot be). */
      function answer(outcome: Outcome, shortcut?: Shortcut): ReplyDecision {
        let body: Uint8Array;
        try {
          body = encodeReply(outcome.reply);
        } catch (e) {
          // Only a handler header that JSON cannot carry gets here; answer 500 all the same.
          const reply = { id: req.id, status: 500, headers: {}, body: "" };
          body = encodeReply(reply);
          outcome = { reply, error: e };
        }
        const decision: ReplyDecision = {
          kind: "reply",
          extension: extension.name,
          exchange: replyExchange,
          routingKey: replyKey,
          correlationId,
          requestId: req.id,
          method: req.method,
          body,
          outcome,
        };
        return shortcut ? { ...decision, shortcut } : decision;
      }
      if (request.security.org === "" || request.security.user === "") {
        // Without a caller there is no tenant to serve: every handler would act for org "".
        const error = new HttpError(
          403,
          "The request carries no security context (user and organisation), so it is not served",
        );
        return answer(
          { reply: errorReply(request.id, request.headers.get("accept"), error) },
          "anonymous",
        );
      }
      const age = delivery.timestamp !== undefined && delivery.receivedAt !== undefined
        ? delivery.receivedAt - delivery.timestamp
        : undefined;
      if (delivery.redelivered && age !== undefined && age > vcdTimeoutMs) {
        // vCD has answered 504 already; running the handler now would only repeat side effects.
        const error = new HttpError(
          504,
          `The request expired before it was handled (${Math.round(age)} ms old)`,
        );
        return answer(
          { reply: errorReply(request.id, request.headers.get("accept"), error) },
          "expired",
        );
      }
      return await run(request, delivery.content, delivery.redelivered === true, signal, answer);
    },
  };
}
