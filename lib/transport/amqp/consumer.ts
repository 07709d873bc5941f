/**
 * @module One delivery, from the broker to its end: read into the core's
 * {@linkcode Delivery} ({@linkcode deliveryOf}), handed to the consumer's handler, and the
 * {@linkcode Decision} carried out ({@linkcode DecisionRunner}): a reply published with a confirm
 * and then the request acked, a reject without requeue, or a plain ack.
 */

import type { ConsumeMessage, Message } from "amqplib";
import type { Decision, Delivery, RejectCode, ReplyDecision } from "../../core/seam.ts";
import { errorFields, type Logger } from "../../observability/log.ts";
import { type AmqpAddress, amqpDelivery } from "./delivery.ts";
import type { Disposition, ReplyPublisher } from "./replies.ts";
import type { Session } from "./session.ts";
import type { QueueTopology } from "./topology.ts";

/** One queue the service consumes. */
export interface ConsumerSpec extends QueueTopology {
  /** For logs: the extension's name, or `notifications`. */
  readonly label: string;
  /** Turns a delivery into a decision; must not throw. */
  readonly handle: (
    delivery: Delivery<AmqpAddress>,
    signal: AbortSignal,
  ) => Promise<Decision<AmqpAddress>>;
}

/** The core's view of a consumed message (AMQP timestamps are seconds; the core's are ms). */
export function deliveryOf(msg: ConsumeMessage): Delivery<AmqpAddress> {
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
    // Every delivery: the endpoint notes first receipts to know a later redelivery's age.
    receivedAt: Date.now(),
  });
}

/** What {@linkcode DecisionRunner} needs. */
export interface RunnerOptions {
  /** Where rejects and failed settles are logged. */
  readonly log: Logger;
  /** Publishes the replies. */
  readonly replies: ReplyPublisher;
  /** Aborted when the drain time is over: handlers still running should give up. */
  readonly signal: AbortSignal;
  /** Called once per reply decision after it was carried out. */
  readonly onReply?:
    | ((decision: ReplyDecision<AmqpAddress>, disposition: Disposition, ms: number) => void)
    | undefined;
  /** Called once per message rejected without a reply, with the reason's code. */
  readonly onReject?: ((consumer: string, code: RejectCode) => void) | undefined;
}

/** Carries out the consumers' decisions on the session they were delivered on. */
export class DecisionRunner {
  /** A runner for one service's consumers. */
  constructor(readonly options: RunnerOptions) {}

  /** Hands the message to the consumer's handler and carries out its decision. */
  async carryOut(s: Session, spec: ConsumerSpec, msg: ConsumeMessage): Promise<void> {
    const { log } = this.options;
    const started = performance.now();
    const decision = await spec.handle(deliveryOf(msg), this.options.signal);
    if (decision.kind === "ack") {
      this.settle(s, msg, "ack");
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
      this.settle(s, msg, "reject");
      this.options.onReject?.(spec.label, decision.code);
      return;
    }
    const disposition = await this.options.replies.publish(s, decision);
    if (disposition === "acked") this.settle(s, msg, "ack");
    else if (disposition === "no-reply-exchange") {
      log.warn(
        { extension: spec.label, requestId: decision.requestId, exchange: decision.to.exchange },
        "reply exchange does not exist; message rejected without requeue",
      );
      this.settle(s, msg, "reject");
    } else this.settle(s, msg, "requeue");
    this.options.onReply?.(
      decision,
      s.closed ? "channel-lost" : disposition,
      performance.now() - started,
    );
  }

  /** Acks (batched), rejects or requeues a delivery, unless its channel is gone. */
  settle(s: Session, msg: Message, how: "ack" | "reject" | "requeue"): void {
    if (s.closed) return; // the broker requeues whatever the lost channel had unacked
    if (how === "ack") return s.acks.ack(msg.fields.deliveryTag);
    s.acks.settled(msg.fields.deliveryTag);
    try {
      s.consume.nack(msg, false, how === "requeue");
    } catch (e) {
      this.options.log.debug(
        { err: errorFields(e) },
        "could not settle a delivery; the channel is gone",
      );
    }
  }
}
