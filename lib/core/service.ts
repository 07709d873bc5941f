/**
 * @module What to do with one request delivery, whatever bus brought it: decode (with the bus's
 * codec), shortcut what must not run (no caller, expired, busy, a duplicate or a redelivery
 * already answered), dispatch, encode, and send the reply back to the delivery's reply address;
 * or reject a message that has none. Pure: the transport carries the decision out.
 */

import {
  type App,
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
  ENVELOPE_CODEC,
  EnvelopeError,
  type Reply,
  type VcdRequest,
} from "./envelope.ts";
import { HttpError } from "./errors.ts";
import type { Extension } from "./extension.ts";
import { FirstReceipts, type ReceiptLimits } from "./receipts.ts";
import { ReplayMemory } from "./replay.ts";
import type { Decision, Delivery, ReplyDecision, RequestCodec, Shortcut } from "./seam.ts";

export type { Decision, Delivery, ReplyDecision, Shortcut } from "./seam.ts";

/** An extension compiled for the service, with decoding limits. */
export interface Endpoint {
  readonly extension: Extension;
  readonly handle: <A>(delivery: Delivery<A>, signal?: AbortSignal) => Promise<Decision<A>>;
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
  /**
   * vCD's own timeout: a redelivered request older than this is answered 504 unhandled (see
   * {@linkcode endpoint} for how its age is known). Default 10,000.
   */
  readonly vcdTimeoutMs?: number;
  /** First receipts remembered, to know a redelivery's age (lib/core/receipts.ts). */
  readonly receipts?: ReceiptLimits;
  /**
   * Answered requests remembered for replay to a redelivery (see lib/core/replay.ts for which
   * request an entry answers): at most this many. Default 1,024.
   */
  readonly recentReplies?: number;
  /** Bytes the remembered replies may hold together. Default 4 MiB. */
  readonly recentReplyBytes?: number;
  /** Bytes one remembered reply may hold; a bigger one is not kept. Default 64 KiB. */
  readonly recentReplyEntryBytes?: number;
  /** How the bus writes requests and replies; default vCD's AMQP envelope. */
  readonly codec?: RequestCodec;
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

/**
 * Compiles an extension into the function that turns a delivery into a {@linkcode Decision}.
 * Never throws. A message without a reply address is rejected (`no-reply-address`); an
 * undecodable body with one is answered 400.
 *
 * **Stale requests.** A request older than vCD's timeout (`vcdTimeoutMs`) has been answered 504
 * by vCD already: running it would only repeat or add side effects nobody waits for. On AMQP the
 * broker expires what waited in a request queue that long, a requeued message too (the request
 * queues' message TTL, lib/app/config.ts). Not covered by it: a queue declared before vcdext set
 * the TTL and given no policy, and vCD's MQTT bus (no queue; a request id seen again counts as a
 * redelivery). So a *redelivery* is refused here too, answered 504 `expired`, when its age is
 * proven: this process first received the same request (id, caller, length) more than
 * `vcdTimeoutMs` ago (lib/core/receipts.ts; the transport's `receivedAt`), or the message's
 * timestamp is older than that. An AMQP timestamp has whole seconds, so one is taken to be up to
 * a second later than it reads: only what is older even so counts.
 *
 * A *first* delivery is not refused by its timestamp, whatever it says: the timestamp comes from
 * the vCD cell's clock and `receivedAt` from this host's, and a cell clock behind by more than
 * the timeout (a broken NTP) would have every request refused, an outage worse than the stale
 * request it prevents. What waited in the queue is the broker's to expire, on its one clock.
 * The same skew can make a redelivery look older than it is; a redelivery may have run already,
 * so refusing it errs on the side of not running a request twice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { endpoint } from "./service.ts";
 * import { defineExtension } from "./extension.ts";
 * const ep = endpoint(defineExtension({ name: "x", namespace: "x", routingKey: "x", routes: [] }));
 * const d = await ep.handle({ content: new TextEncoder().encode("[]"), headers: {} });
 * assert.equal(d.kind === "reject" && d.code, "no-reply-address");
 * assert.equal(d.kind, "reject");
 * ```
 */
export function endpoint(extension: Extension, options: EndpointOptions = {}): Endpoint {
  return new RequestEndpoint(extension, options);
}

/** What became of a request: its outcome, and why the handler did not run, if it did not. */
interface Settled {
  readonly outcome: Outcome;
  readonly shortcut?: Shortcut | undefined;
}

/** The error reply to a request answered without its handler. */
function refusal(request: VcdRequest, error: HttpError, shortcut: Shortcut): Settled {
  return {
    outcome: { reply: errorReply(request.id, request.headers.get("accept"), error) },
    shortcut,
  };
}

/** {@linkcode endpoint}'s state: requests in flight, recent replies, the running count. */
class RequestEndpoint implements Endpoint {
  readonly #app: App;
  readonly #options: EndpointOptions;
  readonly #vcdTimeoutMs: number;
  readonly #codec: RequestCodec;
  /**
   * Requests being handled, by id, with their message bytes: a delivery of the very same bytes
   * (a redelivery) waits for the same outcome. A different request that reuses the id is run on
   * its own and not entered here. Holds only references to requests in flight, so it is bounded
   * by what is in flight (the prefetch, or `maxInFlight`).
   */
  readonly #handling = new Map<string, InFlight>();
  readonly #recent: ReplayMemory;
  readonly #receipts: FirstReceipts;
  #running = 0;
  /** Dispatch options per outer signal (the adapter passes the same one every time). */
  #lastSignal: AbortSignal | undefined;
  #lastOptions: DispatchOptions;

  constructor(readonly extension: Extension, options: EndpointOptions) {
    this.#app = compile(extension);
    this.#options = options;
    this.#vcdTimeoutMs = options.vcdTimeoutMs ?? 10_000;
    this.#codec = options.codec ?? ENVELOPE_CODEC;
    this.#recent = new ReplayMemory({
      ...(options.recentReplies === undefined ? {} : { entries: options.recentReplies }),
      ...(options.recentReplyBytes === undefined ? {} : { bytes: options.recentReplyBytes }),
      ...(options.recentReplyEntryBytes === undefined
        ? {}
        : { entryBytes: options.recentReplyEntryBytes }),
    });
    this.#receipts = new FirstReceipts(options.receipts);
    this.#lastOptions = this.#dispatchOptions(undefined);
  }

  #dispatchOptions(signal: AbortSignal | undefined): DispatchOptions {
    const limit = this.#options;
    if (limit.timeoutMs === undefined) return signal ? { signal } : {};
    const { timeoutMs, clock } = limit;
    return signal ? { signal, timeoutMs, clock } : { timeoutMs, clock };
  }

  /** Turns a delivery into a decision; a property, so it can be handed on unbound. */
  readonly handle = async <A>(
    delivery: Delivery<A>,
    signal?: AbortSignal,
  ): Promise<Decision<A>> => {
    const reply = delivery.reply ?? { missing: "reply address" };
    if (!("to" in reply)) {
      return {
        kind: "reject",
        code: "no-reply-address",
        reason: `message has no ${reply.missing}, so no reply is possible`,
      };
    }
    let request: VcdRequest;
    try {
      request = this.#codec.decode(delivery.content, this.#options);
    } catch (e) {
      const error = e instanceof EnvelopeError ? e : new EnvelopeError(String(e));
      const undecodable = undecodableReply(error);
      return {
        kind: "reply",
        extension: this.extension.name,
        to: reply.to,
        body: this.#codec.encode(undecodable),
        requestId: error.requestId,
        outcome: { reply: undecodable },
      };
    }
    const settled = this.#refuse(request, delivery) ??
      await this.#run(request, delivery.content, delivery.redelivered === true, signal);
    return this.#decide(reply.to, request, settled);
  };

  /** A request that must not run at all: no caller (403), or a redelivery vCD gave up on (504). */
  #refuse<A>(request: VcdRequest, delivery: Delivery<A>): Settled | undefined {
    if (request.security.org === "" || request.security.user === "") {
      // Without a caller there is no tenant to serve: every handler would act for org "".
      const error = new HttpError(
        403,
        "The request carries no security context (user and organisation), so it is not served",
      );
      return refusal(request, error, "anonymous");
    }
    const age = this.#provenAge(request, delivery);
    if (age > this.#vcdTimeoutMs) {
      // vCD has answered 504 already; running the handler now would only repeat side effects.
      const error = new HttpError(
        504,
        `The request expired before it was handled (${Math.round(age)} ms old)`,
      );
      return refusal(request, error, "expired");
    }
    return undefined;
  }

  /**
   * How old a redelivery is known to be at least, ms (0 for a first delivery, or when unknown):
   * since this process first received it, or since its timestamp (a whole-second one taken a
   * second later). Notes the receipt of every delivery that says when it was received.
   */
  #provenAge<A>(request: VcdRequest, delivery: Delivery<A>): number {
    const at = delivery.receivedAt;
    if (at === undefined) return 0;
    const first = this.#receipts.note(request.id, request.security, delivery.content.length, at);
    if (!delivery.redelivered) return 0;
    const ts = delivery.timestamp;
    const stamped = ts === undefined ? 0 : at - ts - (ts % 1000 === 0 ? 1000 : 0);
    return Math.max(at - first, stamped);
  }

  /** The decision for an outcome: its reply encoded (a 500 when it cannot be). */
  #decide<A>(to: A, request: VcdRequest, settled: Settled): ReplyDecision<A> {
    let outcome = settled.outcome;
    let body: Uint8Array;
    try {
      body = this.#codec.encode(outcome.reply);
    } catch (e) {
      // Only a handler header that JSON cannot carry gets here; answer 500 all the same.
      const reply = { id: request.id, status: 500, headers: {}, body: "" };
      body = this.#codec.encode(reply);
      outcome = { reply, error: e };
    }
    const decision: ReplyDecision<A> = {
      kind: "reply",
      extension: this.extension.name,
      to,
      requestId: request.id,
      method: request.method,
      user: request.security.user,
      org: request.security.org,
      body,
      outcome,
    };
    return settled.shortcut ? { ...decision, shortcut: settled.shortcut } : decision;
  }

  /** Runs the handler for a request not seen before, or shortcuts a repeated one. */
  async #run(
    request: VcdRequest,
    content: Uint8Array,
    redelivered: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Settled> {
    const pending = this.#handling.get(request.id);
    if (pending && sameBytes(pending.content, content)) {
      return { outcome: await pending.outcome, shortcut: "duplicate" };
    }
    if (redelivered) {
      const done = this.#recent.recall(request.id, content, request.security);
      if (done) {
        const outcome = done.kind === "reply"
          ? done.outcome
          : { reply: notKeptReply(request, done.status) };
        return { outcome, shortcut: "replayed" };
      }
    }
    const max = this.#options.maxInFlight;
    if (max !== undefined && this.#running >= max) {
      const busy = new HttpError(429, "The extension is busy; try again shortly", {
        headers: { "Retry-After": "1" },
      });
      return refusal(request, busy, "busy");
    }
    if (signal !== this.#lastSignal) {
      this.#lastSignal = signal;
      this.#lastOptions = this.#dispatchOptions(signal);
    }
    this.#running++;
    const dispatched = dispatch(this.#app, request, this.#lastOptions);
    // An id in flight for other bytes keeps its entry; this request runs unlisted.
    const entry = pending ? undefined : { content, outcome: dispatched };
    if (entry) this.#handling.set(request.id, entry);
    let outcome: Outcome;
    try {
      outcome = await dispatched;
      this.#recent.remember(request.id, request.method, content, request.security, outcome);
    } finally {
      this.#running--;
      if (entry) this.#handling.delete(request.id);
    }
    return { outcome };
  }
}
