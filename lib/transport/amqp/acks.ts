/**
 * @module Acks of one consuming channel, batched per event-loop turn (see
 * {@linkcode AckBatcher}).
 */

import type { Channel, Message } from "amqplib";
import { errorFields, type Logger } from "../../observability/log.ts";

/**
 * Acks of one consuming channel, batched per event-loop turn: the contiguous run of finished
 * deliveries (in delivery order) is acked with one `multiple` ack; finished deliveries behind
 * one still running are acked singly, so a slow request never holds the prefetch window. An
 * ack never covers a delivery that is still unfinished.
 */
export class AckBatcher {
  /** Delivery tags not yet acked, in delivery order, from `#head` on. */
  #order: number[] = [];
  #head = 0;
  /** Finished (to ack) or otherwise settled (nacked) tags among them. */
  readonly #done = new Set<number>();
  readonly #settled = new Set<number>();
  #scheduled = false;

  /** `isClosed`: the channel is gone (nothing to ack on; the broker requeues). */
  constructor(readonly channel: Channel, readonly isClosed: () => boolean, readonly log: Logger) {}

  /** Records a delivery as it arrives, so acks keep delivery order. */
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

  /** Sends the acks due now (and is called at the end of the turn an ack was asked in). */
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
