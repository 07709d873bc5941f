/**
 * @module Broker housekeeping for tests, demos and `vcdext check` (see {@linkcode BrokerAdmin}).
 */

import type { Channel, ChannelModel, Message } from "amqplib";
import { scrub } from "../../core/redact.ts";
import { type AmqpTls, connectPlain } from "./connection.ts";
import {
  type Binding,
  type Declared,
  declareTopology,
  EXCHANGE_OPTIONS,
  type QueueTopology,
} from "./topology.ts";
import { isNotFound } from "./util.ts";

/**
 * Broker housekeeping for tests, demos and `vcdext check`: declare and delete exchanges and
 * queues, count and fetch messages. Each failed operation closes only its own channel.
 */
export class BrokerAdmin {
  private constructor(readonly model: ChannelModel) {
    model.on("error", () => {});
  }

  /** Connects without recovery, to the first of several URLs that answers. */
  static async connect(url: string | readonly string[], tls?: AmqpTls): Promise<BrokerAdmin> {
    return new BrokerAdmin(await connectPlain(url, tls));
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
   * Checks an exchange: `missing`, `ok` when it exists and the service's declaration of it
   * (this type, {@linkcode EXCHANGE_OPTIONS}) matches it, or the broker's objection (e.g.
   * another type).
   */
  async checkExchange(
    exchange: Pick<Binding, "exchange" | "type">,
  ): Promise<"ok" | "missing" | string> {
    const { exchange: name, type } = exchange;
    try {
      await this.#with((ch) => ch.checkExchange(name));
    } catch (e) {
      if (isNotFound(e)) return "missing";
      return scrub((e as Error).message);
    }
    try {
      await this.#with((ch) => ch.assertExchange(name, type, EXCHANGE_OPTIONS));
      return "ok";
    } catch (e) {
      return scrub((e as Error).message);
    }
  }

  /** Whether an exchange exists. */
  exchangeExists(name: string): Promise<boolean> {
    return this.#with((ch) => ch.checkExchange(name)).then(
      () => true,
      (e) => {
        if (isNotFound(e)) return false;
        throw e;
      },
    );
  }

  /**
   * Declares a queue and binds it as `serve` does ({@linkcode declareTopology}), without
   * declaring the exchanges serve owns: a missing one is the broker's objection, thrown.
   * Returns how the queue was declared (as it is, when only its message TTL differs) and the
   * bindings left out because their (vCD's) exchange is missing.
   */
  declareTopology(topology: QueueTopology): Promise<Declared> {
    return this.#with((ch) =>
      declareTopology(ch, topology, {
        declareOwned: false,
        exists: (name) => this.exchangeExists(name),
        open: () => this.model.createChannel(),
      })
    );
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
