/**
 * @module The AMQP adapter, the only module that imports amqplib: the service's consumer
 * loop (declare, consume, publish the reply with publisher confirms, then ack) and the
 * simulated cell's client. Everything it decides comes from the pure `service.ts`.
 */

import amqp from "amqplib";
import type {
  Channel,
  ChannelModel,
  ConfirmChannel,
  ConsumeMessage,
  Message,
  Options,
  RecoveringChannelModel,
} from "amqplib";
import { Buffer } from "node:buffer";
import type { CellEnvelope } from "../../sim/cell.ts";
import { type Deadline, DeadlineQueue } from "../../core/deadlines.ts";
import { ExchangeMemory } from "./exchanges.ts";
import { errorFields, type Logger } from "../../observability/log.ts";
import { parsesAsWritten, passwordsOf, redactUrl, scrub } from "../../core/redact.ts";
import type { Decision, Delivery, RejectCode, ReplyDecision } from "../../core/seam.ts";
import { type AmqpAddress, amqpDelivery } from "./delivery.ts";

/** An exchange a consumer's queue is bound to. */
export interface Binding {
  readonly exchange: string;
  readonly type: "direct" | "topic";
  /** Routing keys (direct) or patterns (topic). */
  readonly keys: readonly string[];
  /**
   * Declare the exchange (durable) when missing: true for the extension exchange, which the
   * extension owns; false for vCD's notification exchanges, which vCD creates. A missing
   * undeclared exchange is logged, looked for every 30 s and bound once it appears.
   */
  readonly declare: boolean;
}

/** One queue the service consumes. */
export interface ConsumerSpec {
  /** For logs: the extension's name, or `notifications`. */
  readonly label: string;
  /** Queue to declare (durable) and consume. */
  readonly queue: string;
  /** Where the queue's messages come from. */
  readonly bindings: readonly Binding[];
  /** Extra `x-…` queue arguments (dead-lettering, queue type). */
  readonly queueArguments?: Readonly<Record<string, unknown>>;
  /** Turns a delivery into a decision; must not throw. */
  readonly handle: (
    delivery: Delivery<AmqpAddress>,
    signal: AbortSignal,
  ) => Promise<Decision<AmqpAddress>>;
}

/** How a delivery ended, for the access log and metrics. */
export type Disposition =
  | "acked"
  | "rejected"
  | "requeued"
  | "no-reply-exchange"
  | "channel-lost";

/**
 * TLS settings for `amqps://` URLs. The caller reads the files; this module only passes the
 * bytes on. `insecure` skips verification of the broker's certificate: explicit, never implied.
 */
export interface AmqpTls {
  /** PEM of the CA(s) that signed the broker's certificate (default: the system's). */
  readonly ca?: string;
  /** PEM client certificate and key, for brokers that require one (EXTERNAL or mutual TLS). */
  readonly cert?: string;
  readonly key?: string;
  readonly insecure?: boolean;
}

/** Socket options for amqplib from {@linkcode AmqpTls}. */
function socketOptions(tls: AmqpTls | undefined): Record<string, unknown> {
  const options: Record<string, unknown> = { noDelay: true };
  if (!tls) return options;
  if (tls.ca !== undefined) options.ca = [tls.ca];
  if (tls.cert !== undefined) options.cert = tls.cert;
  if (tls.key !== undefined) options.key = tls.key;
  if (tls.insecure) options.rejectUnauthorized = false;
  return options;
}

/** Settings of {@linkcode startService}. */
export interface ServiceConfig {
  readonly url: string;
  /** TLS settings for `amqps://` URLs. */
  readonly tls?: AmqpTls;
  readonly prefetch: number;
  readonly consumers: readonly ConsumerSpec[];
  readonly log: Logger;
  /** How long to wait for the broker to confirm a reply before requeueing; default 5,000 ms. */
  readonly publishTimeoutMs?: number;
  /** Per-message TTL of replies, so stale ones die on the broker; default 15,000 ms. */
  readonly replyExpirationMs?: number;
  /** Connection attempts at start-up before giving up; default 5. */
  readonly startupRetries?: number;
  /** How often to look for a missing undeclared exchange (vCD's); default 30,000 ms. */
  readonly missingExchangeCheckMs?: number;
  /** Called once per reply decision after it was carried out. */
  readonly onReply?: (
    decision: ReplyDecision<AmqpAddress>,
    disposition: Disposition,
    ms: number,
  ) => void;
  /** Called once per message rejected without a reply, with the reason's code. */
  readonly onReject?: (consumer: string, code: RejectCode) => void;
  /** Called on every change: consuming after a (re)connect, or disconnected. */
  readonly onState?: (state: "consuming" | "disconnected") => void;
}

/** A running service. */
export interface RunningService {
  /** Requests being handled now. */
  inFlight(): number;
  /** Connected and consuming every queue. */
  ready(): boolean;
  /**
   * Ordered shutdown: stop consuming, let in-flight requests finish for up to `drainMs`,
   * requeue what is left, close the channels, then the connection.
   */
  stop(drainMs: number): Promise<void>;
}

/**
 * A URL with its password replaced, for logs and errors: by parsing ({@linkcode redactUrl}),
 * since a pattern missed passwords with a space, a raw `@` or `/`, which amqplib accepts; then
 * scrubbed by shape for what parsing does not see (`?password=` in the query).
 */
export function safeUrl(url: string): string {
  return scrub(redactUrl(url));
}

const CONNECT_ADVICE =
  "the URL does not parse as written; percent-encode / ? # @ % in the user name and password";

/**
 * Why connecting to `url` failed, for a message: amqplib's text scrubbed of the URL's
 * password in every form it may quote it, and of anything credential-shaped. When amqplib
 * reads the URL differently (a raw `/` in the password), its text may name a piece of the
 * password as the host: it is replaced by advice.
 */
export function connectError(url: string, e: unknown): Error {
  const reason = parsesAsWritten(url)
    ? scrub(String((e as Error)?.message ?? e), passwordsOf(url))
    : CONNECT_ADVICE;
  return new Error(`Cannot connect to ${safeUrl(url)}: ${reason}`);
}

/** A Buffer over the same bytes (no copy); a Buffer already is one. */
const toBuffer = (u: Uint8Array): Buffer =>
  Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function deliveryOf(msg: ConsumeMessage): Delivery<AmqpAddress> {
  const p = msg.properties;
  // AMQP timestamps are seconds; tolerate publishers that put milliseconds.
  const ts = typeof p.timestamp === "number" && p.timestamp > 0
    ? (p.timestamp < 1e11 ? p.timestamp * 1000 : p.timestamp)
    : undefined;
  return amqpDelivery({
    content: msg.content,
    routingKey: msg.fields.routingKey,
    correlationId: typeof p.correlationId === "string" ? p.correlationId : undefined,
    replyTo: typeof p.replyTo === "string" ? p.replyTo : undefined,
    headers: p.headers ?? {},
    redelivered: msg.fields.redelivered,
    timestamp: ts,
    // Only a redelivery's age matters (see core/service.ts): no clock read for first deliveries.
    receivedAt: msg.fields.redelivered ? Date.now() : undefined,
  });
}

function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === 404;
}

/** Resolves with the value, or with `fallback` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Coalesces socket writes: amqplib's multiplexer writes every frame with its own `write` call
 * (one syscall each); corking the socket around one multiplexer pass sends them as one
 * `writev`. This reaches into amqplib's internals (`connection.muxer`, `connection.stream`),
 * so it checks they exist and otherwise leaves the connection as it is.
 */
function coalesceWrites(model: ChannelModel): void {
  const conn = model.connection as unknown as {
    stream?: { cork?: () => void; uncork?: () => void };
    muxer?: { _readIncoming?: () => void };
  };
  const stream = conn.stream;
  const mux = conn.muxer;
  if (typeof stream?.cork !== "function" || typeof mux?._readIncoming !== "function") return;
  const pass = mux._readIncoming.bind(mux);
  mux._readIncoming = () => {
    stream.cork!();
    try {
      pass();
    } finally {
      stream.uncork!();
    }
  };
}

/** Per-connection state, made anew on every (re)connect. */
/**
 * Acks of one consuming channel, batched per event-loop turn: the contiguous run of finished
 * deliveries (in delivery order) is acked with one `multiple` ack; finished deliveries behind
 * one still running are acked singly, so a slow request never holds the prefetch window. An
 * ack never covers a delivery that is still unfinished.
 */
class AckBatcher {
  /** Delivery tags not yet acked, in delivery order, from `#head` on. */
  #order: number[] = [];
  #head = 0;
  /** Finished (to ack) or otherwise settled (nacked) tags among them. */
  readonly #done = new Set<number>();
  readonly #settled = new Set<number>();
  #scheduled = false;

  constructor(readonly channel: Channel, readonly isClosed: () => boolean, readonly log: Logger) {}

  received(tag: number): void {
    this.#order.push(tag);
  }

  /**
   * Marks a delivery finished; the ack goes out at the end of this turn, or at once when it is
   * the only delivery outstanding (nothing to batch it with, and no timer to wake up for).
   */
  ack(tag: number): void {
    this.#done.add(tag);
    if (this.#order.length - this.#head === 1) return this.flush();
    if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => this.flush(), 0);
    }
  }

  /** A delivery settled another way (nack, reject): it no longer blocks the run. */
  settled(tag: number): void {
    this.#settled.add(tag);
  }

  flush(): void {
    this.#scheduled = false;
    if (this.isClosed()) return; // the broker requeues what the lost channel had unacked
    let last = -1;
    while (this.#head < this.#order.length) {
      const tag = this.#order[this.#head]!;
      if (this.#done.delete(tag)) last = tag;
      else if (!this.#settled.delete(tag)) break;
      this.#head++;
    }
    try {
      if (last >= 0) this.#send(last, true);
      // Behind a delivery still running: ack singly, so the prefetch window keeps moving.
      for (const tag of this.#done) this.#send(tag, false);
    } catch (e) {
      this.log.debug({ err: errorFields(e) }, "could not ack; the channel is gone");
    }
    if (this.#done.size > 0) {
      const acked = this.#done;
      this.#order = this.#order.slice(this.#head).filter((t) => !acked.has(t));
      this.#head = 0;
      acked.clear();
    } else if (this.#head > 1024) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
  }

  #send(tag: number, multiple: boolean): void {
    this.channel.ack({ fields: { deliveryTag: tag } } as Message, multiple);
  }
}

class Session {
  readonly consumerTags: string[] = [];
  readonly acks: AckBatcher;
  #replies: Promise<ConfirmChannel> | undefined;
  /** The reply channel once open, for the no-wait path. */
  replyChannel: ConfirmChannel | undefined;
  /** Reply exchanges known to exist, and ones found missing (with when); bounded. */
  readonly #exchanges = new ExchangeMemory();
  readonly #probes = new Map<string, Promise<boolean | undefined>>();
  #closed = false;
  readonly #onClose: (() => void)[] = [];

  /** The consuming channel (or the connection) is gone. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Marks the session closed and runs the close hooks once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const hook of this.#onClose.splice(0)) hook();
  }

  /** Runs `hook` when the session closes. */
  onClose(hook: () => void): void {
    if (this.#closed) hook();
    else this.#onClose.push(hook);
  }

  constructor(readonly model: ChannelModel, readonly consume: Channel, readonly log: Logger) {
    this.acks = new AckBatcher(consume, () => this.closed, log);
  }

  /** `true` when the exchange is known to exist: no need to ask the broker. */
  exchangeKnown(name: string): boolean {
    return this.#exchanges.exists(name);
  }

  /** Closes the reply channel, then the consuming channel. */
  async closeChannels(): Promise<void> {
    this.acks.flush();
    const replies = this.#replies;
    this.#replies = undefined;
    this.replyChannel = undefined;
    if (replies) await replies.then((ch) => ch.close()).catch(() => {});
    await this.consume.close().catch(() => {});
  }

  replies(): Promise<ConfirmChannel> {
    if (this.#replies) return this.#replies;
    const created = this.model.createConfirmChannel().then((ch) => {
      ch.on("error", (err: unknown) => {
        this.log.warn({ err: errorFields(err) }, "reply channel closed by the broker");
        if (isNotFound(err)) this.#exchanges.clear();
      });
      ch.on("close", () => {
        if (this.#replies === created) this.#replies = undefined;
        if (this.replyChannel === ch) this.replyChannel = undefined;
      });
      this.replyChannel = ch;
      return ch;
    });
    created.catch(() => {
      if (this.#replies === created) this.#replies = undefined;
    });
    return (this.#replies = created);
  }

  /**
   * Whether a reply exchange exists. A publish to a missing exchange would close the reply
   * channel and fail every reply in flight on it, so an exchange not seen yet is checked on a
   * throw-away channel first. `undefined` when the broker could not be asked. A name no exchange
   * can have (over 255 bytes) is missing: asking would fail, and the reply would loop.
   */
  exchangeExists(name: string, fresh = false): Promise<boolean | undefined> {
    const known = this.#exchanges.lookup(name, fresh);
    if (known !== undefined) return Promise.resolve(known);
    const pending = this.#probes.get(name);
    if (pending) return pending;
    const probe = (async () => {
      let ch: Channel | undefined;
      try {
        ch = await this.model.createChannel();
        ch.on("error", () => {});
        await ch.checkExchange(name);
        this.#exchanges.found(name, true);
        await ch.close().catch(() => {});
        return true;
      } catch (e) {
        if (isNotFound(e)) {
          this.#exchanges.found(name, false);
          return false;
        }
        return undefined;
      } finally {
        this.#probes.delete(name);
      }
    })();
    this.#probes.set(name, probe);
    return probe;
  }
}

/** The application headers of every reply (wire-format doc, section 3); amqplib only reads them. */
const REPLY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  messageType: "ProcessHttpResponse",
});

/**
 * Connects (with automatic recovery: capped exponential backoff with jitter), declares every
 * consumer's exchange, queue and binding, and consumes with manual acks. For each delivery the
 * consumer's decision is carried out: a reply is published on a separate confirm channel and
 * the request is acked only once the broker confirmed the reply; a message that cannot be
 * answered is rejected without requeue (dead-lettered when the queue has a DLX).
 */
export async function startService(config: ServiceConfig): Promise<RunningService> {
  const { log } = config;
  const publishTimeoutMs = config.publishTimeoutMs ?? 5_000;
  const missingCheckMs = config.missingExchangeCheckMs ?? 30_000;
  const expiration = String(config.replyExpirationMs ?? 15_000);
  const shutdown = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let session: Session | undefined;
  let stopping = false;

  async function carryOut(s: Session, spec: ConsumerSpec, msg: ConsumeMessage): Promise<void> {
    const started = performance.now();
    const decision = await spec.handle(deliveryOf(msg), shutdown.signal);
    if (decision.kind === "ack") {
      settle(s, msg, "ack");
      return;
    }
    if (decision.kind === "reject") {
      log.warn(
        {
          extension: spec.label,
          correlationId: msg.properties.correlationId,
          code: decision.code,
          reason: decision.reason,
        },
        "message rejected without requeue",
      );
      settle(s, msg, "reject");
      config.onReject?.(spec.label, decision.code);
      return;
    }
    const disposition = await publishReply(s, decision);
    if (disposition === "acked") settle(s, msg, "ack");
    else if (disposition === "no-reply-exchange") {
      log.warn(
        { extension: spec.label, requestId: decision.requestId, exchange: decision.to.exchange },
        "reply exchange does not exist; message rejected without requeue",
      );
      settle(s, msg, "reject");
    } else settle(s, msg, "requeue");
    config.onReply?.(
      decision,
      s.closed ? "channel-lost" : disposition,
      performance.now() - started,
    );
  }

  function settle(s: Session, msg: Message, how: "ack" | "reject" | "requeue"): void {
    if (s.closed) return; // the broker requeues whatever the lost channel had unacked
    if (how === "ack") return s.acks.ack(msg.fields.deliveryTag);
    s.acks.settled(msg.fields.deliveryTag);
    try {
      s.consume.nack(msg, false, how === "requeue");
    } catch (e) {
      log.debug({ err: errorFields(e) }, "could not settle a delivery; the channel is gone");
    }
  }

  /** Replies waiting for their broker confirm, with their deadline; one sweeper times them out. */
  const unconfirmed = new DeadlineQueue<Disposition>();
  let sweeper: ReturnType<typeof setInterval> | undefined;

  function awaitConfirm(resolve: (d: Disposition) => void): Deadline<Disposition> {
    const w = unconfirmed.add(performance.now() + publishTimeoutMs, resolve);
    sweeper ??= setInterval(() => {
      unconfirmed.expire(performance.now(), "requeued");
      if (unconfirmed.empty) {
        clearInterval(sweeper);
        sweeper = undefined;
      }
    }, Math.min(1_000, publishTimeoutMs));
    return w;
  }

  async function publishReply(s: Session, d: ReplyDecision<AmqpAddress>): Promise<Disposition> {
    const to = d.to;
    // The common case, a known exchange on an open reply channel, starts no timer of its own.
    if (!s.exchangeKnown(to.exchange)) {
      const exists = await within(s.exchangeExists(to.exchange), publishTimeoutMs, undefined);
      if (exists === false) return "no-reply-exchange";
      if (exists === undefined) return "requeued";
    }
    let channel = s.replyChannel;
    if (!channel) {
      try {
        channel = await within(s.replies(), publishTimeoutMs, undefined);
      } catch {
        return "requeued";
      }
      if (!channel) return "requeued";
    }
    const ch = channel;
    return await new Promise<Disposition>((resolve) => {
      const w = awaitConfirm(resolve);
      const done = (disposition: Disposition) => unconfirmed.settle(w, disposition);
      try {
        ch.publish(
          to.exchange,
          to.routingKey,
          toBuffer(d.body),
          to.correlationId === undefined
            ? { contentType: "application/json", headers: REPLY_HEADERS, expiration }
            : {
              correlationId: to.correlationId,
              contentType: "application/json",
              headers: REPLY_HEADERS,
              expiration,
            },
          (err) => done(err ? "requeued" : "acked"),
        );
      } catch {
        done("requeued");
      }
    });
  }

  /**
   * vCD creates its notification exchanges when notifications are enabled, possibly after
   * vcdext started: poll for them (every 30 s, one log line when found) and bind then.
   */
  function watchMissing(s: Session, missing: { queue: string; binding: Binding }[]): void {
    const timer = setInterval(async () => {
      if (s.closed || stopping) return clearInterval(timer);
      for (const m of [...missing]) {
        if (!(await s.exchangeExists(m.binding.exchange, true))) continue;
        try {
          for (const key of m.binding.keys) {
            await s.consume.bindQueue(m.queue, m.binding.exchange, key);
          }
          missing.splice(missing.indexOf(m), 1);
          log.info({ queue: m.queue, exchange: m.binding.exchange }, "exchange appeared; bound");
        } catch (e) {
          log.warn({ err: errorFields(e), exchange: m.binding.exchange }, "could not bind");
        }
      }
      if (missing.length === 0) clearInterval(timer);
    }, missingCheckMs);
    s.onClose(() => clearInterval(timer));
  }

  async function setup(model: ChannelModel): Promise<void> {
    const missing: { queue: string; binding: Binding }[] = [];
    coalesceWrites(model);
    const consume = await model.createChannel();
    const s = new Session(model, consume, log);
    consume.on(
      "error",
      (err: unknown) => log.warn({ err: errorFields(err) }, "consume channel closed by the broker"),
    );
    consume.on("close", () => s.close());
    model.on("close", () => s.close());
    await consume.prefetch(config.prefetch);
    for (const spec of config.consumers) {
      await consume.assertQueue(spec.queue, {
        durable: true,
        ...(spec.queueArguments ? { arguments: { ...spec.queueArguments } } : {}),
      });
      for (const b of spec.bindings) {
        if (b.declare) {
          await consume.assertExchange(b.exchange, b.type, { durable: true, autoDelete: false });
        } else if (!(await s.exchangeExists(b.exchange))) {
          log.warn(
            { queue: spec.queue, exchange: b.exchange },
            "exchange does not exist (yet); checking again every 30 s",
          );
          missing.push({ queue: spec.queue, binding: b });
          continue;
        }
        for (const key of b.keys) await consume.bindQueue(spec.queue, b.exchange, key);
      }
    }
    if (missing.length > 0) watchMissing(s, missing);
    await s.replies();
    if (stopping) return;
    for (const spec of config.consumers) {
      const { consumerTag } = await consume.consume(spec.queue, (msg) => {
        if (msg === null) {
          log.warn({ queue: spec.queue }, "the broker cancelled the consumer (queue deleted?)");
          return;
        }
        s.acks.received(msg.fields.deliveryTag);
        const job = carryOut(s, spec, msg).catch((e) => {
          log.error({ err: errorFields(e) }, "delivery failed unexpectedly; requeued");
          settle(s, msg, "requeue");
        });
        inFlight.add(job);
        job.finally(() => inFlight.delete(job));
      }, { noAck: false });
      s.consumerTags.push(consumerTag);
    }
    session = s;
    config.onState?.("consuming");
    log.info(
      { queues: config.consumers.map((c) => c.queue), prefetch: config.prefetch },
      "consuming",
    );
  }

  const retries = config.startupRetries ?? 5;
  const model: RecoveringChannelModel = await amqp.connect(config.url, {
    ...socketOptions(config.tls),
    clientProperties: { connection_name: "vcdext" },
    recovery: {
      // Capped at 2 s, jitter included, so a restarted broker is used again within seconds;
      // the jitter spreads the instances of a fleet apart.
      initialDelay: 200,
      maxDelay: 2_000,
      factor: 2,
      jitter: 0.5,
      maxRetries: Infinity,
      initialMaxRetries: retries,
      waitForConnect: false,
      setup,
    },
  });
  // Connection errors may quote the URL: scrubbed of its password as well (see connectError).
  const passwords = passwordsOf(config.url);
  const brokerError = (err: unknown) => {
    const fields = errorFields(err);
    if (!parsesAsWritten(config.url)) return { name: fields.name, message: CONNECT_ADVICE };
    return {
      ...fields,
      message: scrub(fields.message, passwords),
      ...(fields.stack === undefined ? {} : { stack: scrub(fields.stack, passwords) }),
    };
  };
  model.on("error", (err: unknown) => log.warn({ err: brokerError(err) }, "connection error"));
  model.on("disconnect", (err: unknown) => {
    if (!stopping) {
      log.warn({ err: brokerError(err) }, "disconnected from the broker; reconnecting");
    }
  });
  model.on("connect", () => log.info({ url: safeUrl(config.url) }, "connected to the broker"));
  model.on(
    "reconnect-scheduled",
    (info: { attempt: number; delay: number }) =>
      log.debug({ attempt: info.attempt, delayMs: Math.round(info.delay) }, "reconnect scheduled"),
  );
  try {
    await model.waitForConnect();
  } catch (e) {
    await model.close().catch(() => {});
    throw connectError(config.url, e);
  }
  model.on(
    "handler-error",
    (err: unknown) => log.error({ err: errorFields(err) }, "handler error"),
  );

  return {
    inFlight: () => inFlight.size,
    ready: () => !stopping && session !== undefined && !session.closed,
    async stop(drainMs: number): Promise<void> {
      stopping = true;
      const s = session;
      if (s && !s.closed) {
        for (const tag of s.consumerTags) {
          await within(s.consume.cancel(tag).then(() => {}), 2_000, undefined);
        }
      }
      const drained = await within(
        Promise.allSettled([...inFlight]).then(() => true),
        drainMs,
        false,
      );
      if (!drained) {
        log.warn({ left: inFlight.size }, "drain time over; requeueing what is left");
        shutdown.abort();
        if (s && !s.closed) {
          try {
            s.acks.flush(); // what was answered is acked, not requeued with the rest
            s.consume.nackAll(true);
          } catch { /* channel already gone: the broker requeues */ }
        }
      }
      // Channels first: a channel's close waits for the broker's close-ok, so every ack queued
      // on it has been sent; closing the connection straight away can overtake them.
      if (s && !s.closed) await within(s.closeChannels(), 5_000, undefined);
      await within(model.close().catch(() => {}), 5_000, undefined);
      if (sweeper !== undefined) clearInterval(sweeper);
      unconfirmed.expire(Infinity, "requeued");
      log.info({ drained }, "stopped");
    },
  };
}

/** Options of {@linkcode CellClient.connect}. */
export interface CellOptions {
  /** TLS settings for `amqps://` URLs. */
  readonly tls?: AmqpTls;
  /**
   * The cell's reply exchange (direct; declared by the cell, never by the service). By default
   * the client declares one of its own, `vcdext.cell.<random>`, auto-deleted with its reply queue
   * and deleted by {@linkcode CellClient.close}: a simulated cell (`vcdext request`, the demo,
   * `vcdext check`, tests) leaves nothing on the broker. A named exchange is declared when missing
   * and left in place, since others may share it.
   */
  readonly replyExchange?: string;
}

/** What {@linkcode CellClient.send} publishes besides the envelope; for hostile-input tests. */
export interface SendOptions {
  readonly timeoutMs?: number;
  /** Override or drop (`null`) the reply coordinates. */
  readonly replyTo?: string | null;
  readonly replyToExchange?: string | null;
  readonly correlationId?: string;
}

interface Pending {
  resolve(reply: Uint8Array): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The vCD cell's side: publishes requests as a cell does and waits for the replies on its own
 * exclusive queue, bound to its own reply exchange.
 */
export class CellClient {
  readonly #pending = new Map<string, Pending>();
  /** Whether {@linkcode close} deletes the reply exchange (the client's own, not a named one). */
  readonly #ownsExchange: boolean;
  /** Replies that matched no request waiting for one: duplicates, late or stray replies. */
  unmatched = 0;

  private constructor(
    readonly model: ChannelModel,
    readonly channel: Channel,
    readonly replyExchange: string,
    readonly replyQueue: string,
    ownsExchange: boolean,
  ) {
    this.#ownsExchange = ownsExchange;
    channel.on("return", (msg: Message) => {
      const id = msg.properties.correlationId;
      this.#settle(
        typeof id === "string" ? id : "",
        undefined,
        new Error(
          `no queue is bound to exchange ${msg.fields.exchange} with routing key ${msg.fields.routingKey}: is vcdext serving?`,
        ),
      );
    });
    const fail = () => {
      for (const id of [...this.#pending.keys()]) {
        this.#settle(id, undefined, new Error("the cell's connection to the broker closed"));
      }
    };
    channel.on("close", fail);
    channel.on("error", () => {});
    model.on("error", () => {});
  }

  /** Connects, declares the reply exchange and an exclusive reply queue, and consumes it. */
  static async connect(url: string, options: CellOptions = {}): Promise<CellClient> {
    const owned = options.replyExchange === undefined;
    const replyExchange = options.replyExchange ?? `vcdext.cell.${crypto.randomUUID().slice(0, 8)}`;
    let model: ChannelModel;
    try {
      model = await amqp.connect(url, {
        ...socketOptions(options.tls),
        clientProperties: { connection_name: "vcdext-cell" },
      });
    } catch (e) {
      throw connectError(url, e);
    }
    const channel = await model.createChannel();
    await channel.assertExchange(replyExchange, "direct", { durable: false, autoDelete: owned });
    const { queue } = await channel.assertQueue("", {
      exclusive: true,
      autoDelete: true,
      durable: false,
    });
    await channel.bindQueue(queue, replyExchange, queue);
    const client = new CellClient(model, channel, replyExchange, queue, owned);
    await channel.consume(queue, (msg) => {
      if (!msg) return;
      const id = msg.properties.correlationId;
      client.#settle(typeof id === "string" ? id : "", msg.content);
    }, { noAck: true });
    return client;
  }

  #settle(id: string, reply: Uint8Array | undefined, error?: Error): void {
    const p = this.#pending.get(id);
    if (!p) {
      if (reply) this.unmatched++;
      return;
    }
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (error) p.reject(error);
    else p.resolve(reply!);
  }

  /** Requests waiting for a reply. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Publishes an envelope to `exchange` with `routingKey` and resolves with the raw reply
   * body, or rejects after `timeoutMs` (default 10,000, vCD's own timeout).
   */
  send(
    exchange: string,
    routingKey: string,
    envelope: CellEnvelope,
    options: SendOptions = {},
  ): Promise<Uint8Array> {
    const correlationId = options.correlationId ?? crypto.randomUUID();
    const timeoutMs = options.timeoutMs ?? 10_000;
    const headers: Record<string, string> = { messageType: "ProcessHttpRequest" };
    if (options.replyToExchange !== null) {
      headers.replyToExchange = options.replyToExchange ?? this.replyExchange;
    }
    const replyTo = options.replyTo === null ? undefined : options.replyTo ?? this.replyQueue;
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          this.#settle(
            correlationId,
            undefined,
            new Error(`no reply within ${timeoutMs} ms (vCD would answer 504)`),
          ),
        timeoutMs,
      );
      this.#pending.set(correlationId, { resolve, reject, timer });
      const props: Options.Publish = {
        correlationId,
        headers,
        mandatory: true,
        contentType: "application/json",
      };
      if (replyTo !== undefined) props.replyTo = replyTo;
      try {
        this.channel.publish(exchange, routingKey, toBuffer(envelope.body), props);
      } catch (e) {
        this.#settle(correlationId, undefined, e as Error);
      }
    });
  }

  /** Declares a notification exchange (topic, durable) as vCD does. */
  async declareNotificationExchange(exchange: string): Promise<void> {
    await this.channel.assertExchange(exchange, "topic", { durable: true, autoDelete: false });
  }

  /**
   * Publishes a notification as a cell does: to a topic exchange, which the cell declares
   * (durable) the way vCD creates `vcd.notifications20`.
   */
  async publishNotification(
    exchange: string,
    message: { routingKey: string; headers: Readonly<Record<string, string>>; body: Uint8Array },
  ): Promise<void> {
    await this.declareNotificationExchange(exchange);
    this.channel.publish(exchange, message.routingKey, toBuffer(message.body), {
      headers: { ...message.headers },
      contentType: message.body[0] === 0x3c ? "application/xml" : "application/json",
      persistent: true,
    });
  }

  /** Publishes raw bytes with the given properties, expecting no reply (hostile-input tests). */
  publishRaw(exchange: string, routingKey: string, body: Uint8Array, props: Options.Publish): void {
    this.channel.publish(exchange, routingKey, toBuffer(body), props);
  }

  /** Deletes the client's own reply exchange, then closes the connection; pending requests
   * fail. A broken connection is just closed: the broker auto-deletes the exchange with the
   * exclusive reply queue. */
  async close(): Promise<void> {
    if (this.#ownsExchange) {
      const deleted = Promise.resolve().then(() => this.channel.deleteExchange(this.replyExchange));
      await within(deleted.catch(() => {}), 5_000, undefined);
    }
    await this.model.close().catch(() => {});
  }
}

/**
 * Broker housekeeping for tests, demos and `vcdext check`: declare and delete exchanges and
 * queues, count and fetch messages. Each failed operation closes only its own channel.
 */
export class BrokerAdmin {
  private constructor(readonly model: ChannelModel) {
    model.on("error", () => {});
  }

  /** Connects without recovery. */
  static async connect(url: string, tls?: AmqpTls): Promise<BrokerAdmin> {
    try {
      return new BrokerAdmin(await amqp.connect(url, socketOptions(tls)));
    } catch (e) {
      throw connectError(url, e);
    }
  }

  async #with<T>(fn: (ch: Channel) => Promise<T>): Promise<T> {
    const ch = await this.model.createChannel();
    ch.on("error", () => {});
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => {});
    }
  }

  /** The broker's product and version, e.g. `RabbitMQ 3.10.8`. */
  serverVersion(): string {
    const p = this.model.connection.serverProperties as Record<string, unknown>;
    return `${String(p.product ?? "AMQP broker")} ${String(p.version ?? "")}`.trim();
  }

  /**
   * Checks an exchange: `missing`, `ok` when it exists and a declaration with this type and
   * `durable: true` matches it, or the broker's objection (e.g. another type).
   */
  async checkExchange(name: string, type: string): Promise<"ok" | "missing" | string> {
    try {
      await this.#with((ch) => ch.checkExchange(name));
    } catch (e) {
      if (isNotFound(e)) return "missing";
      return scrub((e as Error).message);
    }
    try {
      await this.#with((ch) => ch.assertExchange(name, type, { durable: true, autoDelete: false }));
      return "ok";
    } catch (e) {
      return scrub((e as Error).message);
    }
  }

  /** Declares a durable queue with arguments and binds it, as `serve` does; throws the broker's objection. */
  async declareDurableQueue(
    name: string,
    args: Readonly<Record<string, unknown>>,
    bind: { exchange: string; keys: readonly string[] },
  ): Promise<void> {
    await this.#with(async (ch) => {
      await ch.assertQueue(name, { durable: true, arguments: { ...args } });
      for (const key of bind.keys) await ch.bindQueue(name, bind.exchange, key);
    });
  }

  /** Declares an exchange. */
  declareExchange(name: string, type: string, durable = false): Promise<void> {
    return this.#with(async (ch) => void (await ch.assertExchange(name, type, { durable })));
  }

  /** Declares a queue, optionally bound to an exchange with keys. */
  declareQueue(name: string, bind?: { exchange: string; keys: readonly string[] }): Promise<void> {
    return this.#with(async (ch) => {
      await ch.assertQueue(name, { durable: false });
      for (const key of bind?.keys ?? []) await ch.bindQueue(name, bind!.exchange, key);
    });
  }

  /** Ready messages and consumers of a queue; `undefined` when it does not exist. */
  queueInfo(name: string): Promise<{ messages: number; consumers: number } | undefined> {
    return this.#with(async (ch) => {
      const q = await ch.checkQueue(name);
      return { messages: q.messageCount, consumers: q.consumerCount };
    }).catch((e) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
  }

  /** Takes (and acks) up to `max` messages from a queue. */
  take(name: string, max = 100): Promise<Message[]> {
    return this.#with(async (ch) => {
      const out: Message[] = [];
      while (out.length < max) {
        const m = await ch.get(name, { noAck: true });
        if (m === false) break;
        out.push(m);
      }
      return out;
    });
  }

  /** Deletes queues and exchanges; missing ones are ignored. */
  async delete(
    names: { queues?: readonly string[]; exchanges?: readonly string[] },
  ): Promise<void> {
    for (const q of names.queues ?? []) await this.#with((ch) => ch.deleteQueue(q)).catch(() => {});
    for (const x of names.exchanges ?? []) {
      await this.#with((ch) => ch.deleteExchange(x)).catch(() => {});
    }
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.model.close().catch(() => {});
  }
}
