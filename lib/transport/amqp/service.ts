/**
 * @module The service's side of the bus: connects with recovery, and on every connect declares
 * each consumer's topology ({@linkcode declareTopology}), opens the reply channel and consumes
 * with manual acks; each delivery's decision is carried out by a {@linkcode DecisionRunner}.
 * Stops in order: stop consuming, drain, requeue what is left, close channels, then the
 * connection.
 */

import { detached, type RunningTransport } from "../transport.ts";
import type { ChannelModel, ConsumeMessage } from "amqplib";
import type { RejectCode, ReplyDecision } from "../../core/seam.ts";
import { errorFields, type Logger } from "../../observability/log.ts";
import { type AmqpTls, coalesceWrites } from "./connection.ts";
import { BrokerLink } from "./failover.ts";
import { type ConsumerSpec, DecisionRunner } from "./consumer.ts";
import type { AmqpAddress } from "./delivery.ts";
import { type Disposition, ReplyPublisher } from "./replies.ts";
import { Session } from "./session.ts";
import {
  declareTopology,
  type MissingBinding,
  type QueueState,
  watchMissingExchanges,
} from "./topology.ts";
import { ttlAdvice, ttlPolicyCommand, vhostOf } from "./ttl_policy.ts";
import { within } from "./util.ts";

/** Settings of {@linkcode startService}. */
export interface ServiceConfig {
  /** The broker URLs (`amqp://` or `amqps://`), one per cluster node, in order of preference. */
  readonly urls: readonly string[];
  /** TLS settings for `amqps://` URLs. */
  readonly tls?: AmqpTls;
  /** Heartbeat asked for, in seconds, where a URL names none; default 5. */
  readonly heartbeatSec?: number;
  /** How long one connection attempt may go unanswered, ms; default 5,000. */
  readonly connectTimeoutMs?: number;
  /** Deliveries unacked at most per channel (the consuming channel's prefetch). */
  readonly prefetch: number;
  /** The queues to consume. */
  readonly consumers: readonly ConsumerSpec[];
  /** Where the service logs. */
  readonly log: Logger;
  /** How long to wait for the broker to confirm a reply before requeueing; default 5,000 ms. */
  readonly publishTimeoutMs?: number;
  /** Per-message TTL of replies, so stale ones die on the broker; default 15,000 ms. */
  readonly replyExpirationMs?: number;
  /** Rounds over the URLs at start-up before giving up; default 5. */
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

/** A running service; its functions may be called detached from it. */
/**
 * A running AMQP service: {@linkcode RunningTransport}, where `ready()` means connected and
 * consuming every queue, and `stop()` cancels the consumers, drains, requeues what is left,
 * closes the channels, then the connection.
 */
export type RunningService = RunningTransport;

/**
 * Connects (with automatic recovery: capped exponential backoff with jitter), declares every
 * consumer's exchange, queue and binding, and consumes with manual acks. For each delivery the
 * consumer's decision is carried out: a reply is published on a separate confirm channel and
 * the request is acked only once the broker confirmed the reply; a message that cannot be
 * answered is rejected without requeue (dead-lettered when the queue has a DLX).
 */
export async function startService(config: ServiceConfig): Promise<RunningService> {
  const service = new AmqpService(config);
  await service.connect();
  return detached(service);
}

/** The state behind {@linkcode RunningService}. */
class AmqpService implements RunningService {
  readonly #config: ServiceConfig;
  readonly #log: Logger;
  readonly #shutdown = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #replies: ReplyPublisher;
  readonly #runner: DecisionRunner;
  #link: BrokerLink | undefined;
  #session: Session | undefined;
  #stopping = false;
  /** Request queues already warned about for their message TTL. */
  readonly #ttlWarned = new Set<string>();

  constructor(config: ServiceConfig) {
    this.#config = config;
    this.#log = config.log;
    this.#replies = new ReplyPublisher(config);
    this.#runner = new DecisionRunner({
      log: config.log,
      replies: this.#replies,
      signal: this.#shutdown.signal,
      onReply: config.onReply,
      onReject: config.onReject,
    });
  }

  /** Connects; resolves once consuming, throws when the broker cannot be reached. */
  async connect(): Promise<void> {
    this.#link = await BrokerLink.open({
      urls: this.#config.urls,
      tls: this.#config.tls,
      heartbeatSec: this.#config.heartbeatSec ?? 5,
      connectTimeoutMs: this.#config.connectTimeoutMs ?? 5_000,
      startupRetries: this.#config.startupRetries ?? 5,
      log: this.#log,
      setup: (model) => this.#setup(model),
      stopping: () => this.#stopping,
      onLost: () => this.#config.onState?.("disconnected"),
    });
  }

  /** On every (re)connect: a new session, the topology declared, consuming every queue. */
  async #setup(model: ChannelModel): Promise<void> {
    const config = this.#config;
    const log = this.#log;
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
    await this.#declare(s);
    await s.replies();
    if (this.#stopping) return;
    for (const spec of config.consumers) s.consumerTags.push(await this.#consume(s, spec));
    this.#session = s;
    config.onState?.("consuming");
    log.info(
      { queues: config.consumers.map((c) => c.queue), prefetch: config.prefetch },
      "consuming",
    );
  }

  /**
   * Declares every consumer's topology; watches for the vCD exchanges found missing. A request
   * queue found with another message TTL is used as it is, with one warning per process.
   */
  async #declare(s: Session): Promise<void> {
    const missing: MissingBinding[] = [];
    const differs: { spec: ConsumerSpec; state: QueueState & { kind: "ttl-differs" } }[] = [];
    const how = {
      declareOwned: true,
      exists: (x: string) => s.exchangeExists(x),
      open: () => s.model.createChannel(),
    };
    for (const spec of this.#config.consumers) {
      const declared = await declareTopology(s.consume, spec, how);
      if (declared.queue.kind === "ttl-differs") differs.push({ spec, state: declared.queue });
      for (const binding of declared.missing) {
        this.#log.warn(
          { queue: spec.queue, exchange: binding.exchange },
          "exchange does not exist (yet); checking again every 30 s",
        );
        missing.push({ queue: spec.queue, binding });
      }
    }
    this.#warnTtl(differs);
    if (missing.length === 0) return;
    watchMissingExchanges(s, missing, {
      everyMs: this.#config.missingExchangeCheckMs ?? 30_000,
      log: this.#log,
      stopping: () => this.#stopping,
    });
  }

  /**
   * One warning for the request queues used with another message TTL than vCD's timeout,
   * naming them and the policy command that fixes it in place; not repeated on a reconnect.
   */
  #warnTtl(differs: { spec: ConsumerSpec; state: QueueState & { kind: "ttl-differs" } }[]): void {
    const fresh = differs.filter((d) => !this.#ttlWarned.has(d.spec.queue));
    if (fresh.length === 0) return;
    for (const d of fresh) this.#ttlWarned.add(d.spec.queue);
    const { wanted, found } = fresh[0]!.state;
    const dlx = fresh[0]!.spec.queueArguments?.["x-dead-letter-exchange"];
    const command = ttlPolicyCommand({
      vhost: vhostOf(this.#config.urls[0] ?? ""),
      queues: fresh.map((d) => d.spec.queue),
      ttlMs: wanted,
      deadLetterExchange: typeof dlx === "string" ? dlx : undefined,
    });
    this.#log.warn(
      {
        queues: fresh.map((d) => d.spec.queue),
        messageTtl: Object.fromEntries(fresh.map((d) => [d.spec.queue, d.state.found ?? "none"])),
        vcdTimeoutMs: wanted,
        advice: ttlAdvice(found, wanted),
        command,
      },
      "request queue without vCD's timeout as its message TTL; using it as it is",
    );
  }

  /** Starts consuming one queue; resolves with the consumer tag. */
  async #consume(s: Session, spec: ConsumerSpec): Promise<string> {
    const { consumerTag } = await s.consume.consume(
      spec.queue,
      (msg) => this.#received(s, spec, msg),
      { noAck: false },
    );
    return consumerTag;
  }

  #received(s: Session, spec: ConsumerSpec, msg: ConsumeMessage | null): void {
    if (msg === null) {
      this.#log.warn({ queue: spec.queue }, "the broker cancelled the consumer (queue deleted?)");
      return;
    }
    s.acks.received(msg.fields.deliveryTag);
    const job = this.#runner.carryOut(s, spec, msg).catch((e) => {
      this.#log.error({ err: errorFields(e) }, "delivery failed unexpectedly; requeued");
      this.#runner.settle(s, msg, "requeue");
    });
    const inFlight = this.#inFlight;
    inFlight.add(job);
    job.finally(() => inFlight.delete(job));
  }

  inFlight(): number {
    return this.#inFlight.size;
  }

  ready(): boolean {
    return !this.#stopping && this.#session !== undefined && !this.#session.closed;
  }

  async stop(drainMs: number): Promise<void> {
    this.#stopping = true;
    const s = this.#session;
    if (s && !s.closed) {
      for (const tag of s.consumerTags) {
        await within(s.consume.cancel(tag).then(() => {}), 2_000, undefined);
      }
    }
    const drained = await within(
      Promise.allSettled([...this.#inFlight]).then(() => true),
      drainMs,
      false,
    );
    if (!drained) this.#abandon(s);
    // Channels first: a channel's close waits for the broker's close-ok, so every ack queued
    // on it has been sent; closing the connection straight away can overtake them.
    if (s && !s.closed) await within(s.closeChannels(), 5_000, undefined);
    await within(this.#link?.close().catch(() => {}) ?? Promise.resolve(), 5_000, undefined);
    this.#replies.close();
    this.#log.info({ drained }, "stopped");
  }

  /** The drain time is over: handlers are told to give up, and what is left is requeued. */
  #abandon(s: Session | undefined): void {
    this.#log.warn({ left: this.#inFlight.size }, "drain time over; requeueing what is left");
    this.#shutdown.abort();
    if (!s || s.closed) return;
    try {
      s.acks.flush(); // what was answered is acked, not requeued with the rest
      s.consume.nackAll(true);
    } catch { /* channel already gone: the broker requeues */ }
  }
}
