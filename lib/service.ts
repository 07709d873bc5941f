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
  type Outcome,
  undecodableReply,
} from "./dispatch.ts";
import {
  type DecodeLimits,
  decodeRequest,
  encodeReply,
  EnvelopeError,
  type VcdRequest,
} from "./envelope.ts";
import { HttpError } from "./errors.ts";
import type { Extension } from "./extension.ts";

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
 * `duplicate` (a redelivery of a request still being handled: it gets the same outcome),
 * `replayed` (a redelivery of one answered recently: the same reply again), `expired` (a
 * redelivery older than vCD's timeout: 504).
 */
export type Shortcut = "busy" | "duplicate" | "replayed" | "expired";

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

/** Options of {@linkcode endpoint}. */
export interface EndpointOptions extends DecodeLimits {
  /** Handler time limit (504 past it); keep it below vCD's timeout. Default: none. */
  readonly timeoutMs?: number;
  /** Handlers running at once before new requests are answered 429 at once. Default: none. */
  readonly maxInFlight?: number;
  /** vCD's own timeout: a redelivered request older than this is answered 504 unhandled. Default 10,000. */
  readonly vcdTimeoutMs?: number;
  /** Completed replies remembered by request id, replayed to a redelivery. Default 1,024. */
  readonly recentReplies?: number;
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
  const maxRecent = options.recentReplies ?? 1_024;
  /** Requests being handled, by id: a redelivery of one waits for the same outcome. */
  const handling = new Map<string, Promise<Outcome>>();
  /** Recently answered requests, by id; the rings hold the last `maxRecent` of them in order. */
  const recent = new Map<string, Outcome>();
  const ringIds: (string | undefined)[] = [];
  const ringOutcomes: (Outcome | undefined)[] = [];
  let slot = 0;

  /** Keeps an outcome for replays; the oldest one goes (no iterator, no reordering). */
  function remember(id: string, outcome: Outcome): void {
    if (maxRecent <= 0) return;
    const evicted = ringIds[slot];
    // Only when the entry is still that one: an id answered again since keeps its newer one.
    if (evicted !== undefined && recent.get(evicted) === ringOutcomes[slot]) {
      recent.delete(evicted);
    }
    ringIds[slot] = id;
    ringOutcomes[slot] = outcome;
    slot = slot + 1 === maxRecent ? 0 : slot + 1;
    recent.set(id, outcome);
  }
  let running = 0;

  /** Dispatch options per outer signal (the adapter passes the same one every time). */
  let lastSignal: AbortSignal | undefined;
  let lastOptions: DispatchOptions = dispatchOptions(undefined);
  function dispatchOptions(signal: AbortSignal | undefined): DispatchOptions {
    return {
      ...(signal ? { signal } : {}),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    };
  }

  /** Runs the handler for a request not seen before, or shortcuts a repeated one. */
  async function run(
    request: VcdRequest,
    redelivered: boolean,
    signal: AbortSignal | undefined,
    answer: (outcome: Outcome, shortcut?: Shortcut) => ReplyDecision,
  ): Promise<ReplyDecision> {
    const pending = handling.get(request.id);
    if (pending) return answer(await pending, "duplicate");
    if (redelivered) {
      const done = recent.get(request.id);
      if (done) return answer(done, "replayed");
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
    handling.set(request.id, dispatched);
    let outcome: Outcome;
    try {
      outcome = await dispatched;
      remember(request.id, outcome);
    } finally {
      running--;
      handling.delete(request.id);
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
      return await run(request, delivery.redelivered === true, signal, answer);
    },
  };
}
