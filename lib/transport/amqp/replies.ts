/**
 * @module Publishing a reply with a publisher confirm: to the exchange the request named
 * (checked first when not known to exist, since a publish to a missing exchange would close
 * the reply channel), on the session's confirm channel, waiting for the broker's confirm at
 * most `publishTimeoutMs`. The outcome is a {@linkcode Disposition}: the request is acked only
 * when the reply was confirmed.
 */

import { DeadlineTimer } from "../../core/deadlines.ts";
import type { ReplyDecision } from "../../core/seam.ts";
import type { AmqpAddress } from "./delivery.ts";
import type { Session } from "./session.ts";
import { systemClock } from "../clock.ts";
import { toBuffer, within } from "./util.ts";

/** How a delivery ended, for the access log and metrics. */
export type Disposition =
  | "acked"
  | "rejected"
  | "requeued"
  | "no-reply-exchange"
  | "channel-lost";

/** The application headers of every reply (wire-format doc, section 3); amqplib only reads them. */
const REPLY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  messageType: "ProcessHttpResponse",
});

/** Settings of {@linkcode ReplyPublisher}. */
export interface ReplySettings {
  /** How long to wait for the broker to confirm a reply before requeueing; default 5,000 ms. */
  readonly publishTimeoutMs?: number;
  /** Per-message TTL of replies, so stale ones die on the broker; default 15,000 ms. */
  readonly replyExpirationMs?: number;
}

/**
 * Publishes replies and waits for their confirms. Replies waiting for a confirm are kept with
 * their deadline in one {@linkcode DeadlineTimer}; its one sweeper, running only while some
 * wait, times them out.
 */
export class ReplyPublisher {
  readonly #timeoutMs: number;
  readonly #expiration: string;
  /** Replies waiting for their confirm; past the timeout they count as requeued. */
  readonly #unconfirmed: DeadlineTimer<Disposition>;

  /** A publisher with the service's timeout and reply TTL. */
  constructor(config: ReplySettings) {
    this.#timeoutMs = config.publishTimeoutMs ?? 5_000;
    this.#expiration = String(config.replyExpirationMs ?? 15_000);
    // Kept alive while replies wait: a confirm outstanding is work the process still has to do.
    this.#unconfirmed = new DeadlineTimer<Disposition>(systemClock, {
      sweepMs: Math.min(1_000, this.#timeoutMs),
      expired: "requeued",
      keepAlive: true,
    });
  }

  /**
   * Publishes the reply on the session's reply channel: `acked` once the broker confirmed it,
   * `no-reply-exchange` when the exchange does not exist, `requeued` when the broker could not
   * be asked, refused it or did not confirm in time.
   */
  async publish(s: Session, d: ReplyDecision<AmqpAddress>): Promise<Disposition> {
    const to = d.to;
    const publishTimeoutMs = this.#timeoutMs;
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
    const expiration = this.#expiration;
    const unconfirmed = this.#unconfirmed;
    return await new Promise<Disposition>((resolve) => {
      const w = unconfirmed.add(publishTimeoutMs, resolve);
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

  /** Stops the sweeper; replies still waiting for a confirm count as requeued. */
  close(): void {
    this.#unconfirmed.expireAll();
  }
}
