/**
 * @module The one declaration of what a consumer's queue needs on the broker, shared by `serve`
 * (the service declares it on every connect) and `check` (which declares the queue serve would
 * and reports the broker's objection): the queue (durable, with its `x-…` arguments), the
 * exchanges it is bound to (durable; the service declares those it owns) and the bindings.
 * vCD's notification exchanges are vCD's to create: one found missing is not bound but returned,
 * and the service looks for it again every 30 s ({@linkcode watchMissingExchanges}).
 */

import type { Channel, Options } from "amqplib";
import { errorFields, type Logger } from "../../observability/log.ts";
import type { Session } from "./session.ts";

/** An exchange a consumer's queue is bound to. */
export interface Binding {
  /** The exchange's name. */
  readonly exchange: string;
  /** Direct for the extension exchange, topic for vCD's notifications. */
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

/** One queue and where its messages come from. */
export interface QueueTopology {
  /** Queue to declare (durable). */
  readonly queue: string;
  /** Where the queue's messages come from. */
  readonly bindings: readonly Binding[];
  /** Extra `x-…` queue arguments (dead-lettering, queue type). */
  readonly queueArguments?: Readonly<Record<string, unknown>>;
}

/** How every exchange is declared: durable, never auto-deleted. */
export const EXCHANGE_OPTIONS: Readonly<Options.AssertExchange> = Object.freeze({
  durable: true,
  autoDelete: false,
});

/**
 * How a consumer's queue is declared: durable, with its `x-…` arguments.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { queueOptions } from "./topology.ts";
 * assert.deepEqual(queueOptions(undefined), { durable: true });
 * assert.deepEqual(queueOptions({ "x-queue-type": "quorum" }), {
 *   durable: true,
 *   arguments: { "x-queue-type": "quorum" },
 * });
 * ```
 */
export function queueOptions(
  args: Readonly<Record<string, unknown>> | undefined,
): Options.AssertQueue {
  const options: Options.AssertQueue = { durable: true };
  if (args) options.arguments = { ...args };
  return options;
}

/** The extension exchange: direct, and declared by the service, which owns it. */
export function extensionExchange(exchange: string): Omit<Binding, "keys"> {
  return { exchange, type: "direct", declare: true };
}

/**
 * An extension's queue binding: its routing key on the extension exchange.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { extensionBinding } from "./topology.ts";
 * assert.deepEqual(extensionBinding("vcdext", "gcp-ticketing"), {
 *   exchange: "vcdext",
 *   type: "direct",
 *   declare: true,
 *   keys: ["gcp-ticketing"],
 * });
 * ```
 */
export function extensionBinding(exchange: string, routingKey: string): Binding {
  return { ...extensionExchange(exchange), keys: [routingKey] };
}

/** How {@linkcode declareTopology} treats exchanges. */
export interface DeclareHow {
  /**
   * Declare the exchanges the topology owns (`declare: true`) before binding to them: `serve`.
   * `false` binds to them as they are, so a missing one is the broker's objection: `check`,
   * which reports the exchange on a row of its own and leaves creating it to `serve`.
   */
  readonly declareOwned: boolean;
  /** Whether an exchange the topology does not own exists (`undefined`: could not ask). */
  readonly exists: (exchange: string) => Promise<boolean | undefined>;
}

/** Binds `queue` to the binding's exchange with each of its keys. */
export async function bindKeys(channel: Channel, queue: string, binding: Binding): Promise<void> {
  for (const key of binding.keys) await channel.bindQueue(queue, binding.exchange, key);
}

/**
 * Declares the queue, the exchanges it owns and every binding, on `channel`; throws the
 * broker's objection (which closes the channel). Returns the bindings whose exchange (not
 * owned: vCD's) does not exist yet, which were not bound.
 */
export async function declareTopology(
  channel: Channel,
  topology: QueueTopology,
  how: DeclareHow,
): Promise<Binding[]> {
  await channel.assertQueue(topology.queue, queueOptions(topology.queueArguments));
  const missing: Binding[] = [];
  for (const b of topology.bindings) {
    if (b.declare) {
      if (how.declareOwned) await channel.assertExchange(b.exchange, b.type, EXCHANGE_OPTIONS);
    } else if (!(await how.exists(b.exchange))) {
      missing.push(b);
      continue;
    }
    await bindKeys(channel, topology.queue, b);
  }
  return missing;
}

/** A binding left out because its exchange was missing. */
export interface MissingBinding {
  /** The queue to bind. */
  readonly queue: string;
  /** The binding whose exchange was missing. */
  readonly binding: Binding;
}

/** Settings of {@linkcode watchMissingExchanges}. */
export interface WatchOptions {
  /** How often to look. */
  readonly everyMs: number;
  /** Where a binding found late is logged. */
  readonly log: Logger;
  /** The service is stopping: stop looking. */
  readonly stopping: () => boolean;
}

/**
 * vCD creates its notification exchanges when notifications are enabled, possibly after
 * vcdext started: poll for them (every 30 s, one log line when found) and bind then, until
 * every one is bound or the session closes.
 */
export function watchMissingExchanges(
  s: Session,
  missing: MissingBinding[],
  options: WatchOptions,
): void {
  const { log } = options;
  const timer = setInterval(async () => {
    if (s.closed || options.stopping()) return clearInterval(timer);
    for (const m of [...missing]) {
      if (!(await s.exchangeExists(m.binding.exchange, true))) continue;
      try {
        await bindKeys(s.consume, m.queue, m.binding);
        missing.splice(missing.indexOf(m), 1);
        log.info({ queue: m.queue, exchange: m.binding.exchange }, "exchange appeared; bound");
      } catch (e) {
        log.warn({ err: errorFields(e), exchange: m.binding.exchange }, "could not bind");
      }
    }
    if (missing.length === 0) clearInterval(timer);
  }, options.everyMs);
  s.onClose(() => clearInterval(timer));
}
