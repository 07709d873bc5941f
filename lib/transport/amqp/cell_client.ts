/**
 * @module The simulated vCD cell's side of the bus (`vcdext request`, the demo, `vcdext check`,
 * tests and benchmarks): publishes requests as a cell does and waits for the replies on an
 * exclusive queue of its own, publishes notifications, and raw messages for hostile-input
 * tests. It lives here because only lib/transport/amqp/ imports amqplib; it takes bytes, not
 * lib/sim/'s types, so the transport does not depend on the simulator.
 */

import type { Channel, ChannelModel, Message, Options } from "amqplib";
import { type AmqpTls, connectPlain } from "./connection.ts";
import { toBuffer, within } from "./util.ts";

/**
 * A request ready to publish: its bytes, and its id for the caller (lib/sim/cell.ts's
 * `buildRequest()` makes one).
 */
export interface RequestEnvelope {
  /** The request id, for the caller; not published. */
  readonly id?: string;
  /** The message body as published. */
  readonly body: Uint8Array;
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
  /** How long to wait for the reply; default 10,000 ms (vCD's own timeout). */
  readonly timeoutMs?: number;
  /** Override or drop (`null`) the reply coordinates. */
  readonly replyTo?: string | null;
  /** Override or drop (`null`) the `replyToExchange` header. */
  readonly replyToExchange?: string | null;
  /** The correlation id; default a random UUID. */
  readonly correlationId?: string;
  /**
   * The message's AMQP expiration, in ms: a request nobody took by then is dropped by the
   * broker rather than run later by the next consumer (`vcdext request` sets its timeout).
   */
  readonly expirationMs?: number;
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

  /**
   * Connects (to the first of several URLs that answers), declares the reply exchange and an
   * exclusive reply queue, and consumes it.
   */
  static async connect(
    url: string | readonly string[],
    options: CellOptions = {},
  ): Promise<CellClient> {
    const owned = options.replyExchange === undefined;
    const replyExchange = options.replyExchange ?? `vcdext.cell.${crypto.randomUUID().slice(0, 8)}`;
    const model = await connectPlain(url, options.tls, "vcdext-cell");
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
    envelope: RequestEnvelope,
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
      if (options.expirationMs !== undefined) props.expiration = String(options.expirationMs);
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
