/**
 * @module The one declaration of what a consumer's queue needs on the broker, shared by `serve`
 * (the service declares it on every connect) and `check` (which declares the queue serve would
 * and reports the broker's objection): the queue (durable, with its `x-…` arguments), the
 * exchanges it is bound to (durable; the service declares those it owns) and the bindings.
 *
 * **A queue that exists with another message TTL.** Request queues carry `x-message-ttl` (vCD's
 * timeout, lib/app/config.ts). Queue arguments cannot change in place: declaring a queue made
 * by an older vcdext (without the argument) is refused with 406 PRECONDITION_FAILED, which
 * closes the channel. So that an upgrade never stops a running deployment, the queue is
 * declared on a throw-away channel, and when the broker objects to the TTL alone it is declared
 * again with the TTL it has (none, or another value): every other argument is still checked,
 * and a queue of another type or dead-letter exchange is refused as before. The queue is then
 * used as it is ({@linkcode QueueState} `ttl-differs`); `serve` logs one warning and `check`
 * shows a row, both with the policy that applies the TTL in place ({@linkcode ttlPolicyCommand}).
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

/** The queue argument that expires requests vCD has given up on. */
export const MESSAGE_TTL = "x-message-ttl";

/** How the queue was declared. */
export type QueueState =
  /** With the arguments asked for. */
  | { readonly kind: "declared" }
  /**
   * It exists with another `x-message-ttl` (`undefined`: none) and every other argument as
   * asked: it is used as it is. `objection` is the broker's refusal of the asked TTL.
   */
  | {
    readonly kind: "ttl-differs";
    readonly found: number | undefined;
    readonly wanted: number;
    readonly objection: string;
  };

/** What {@linkcode declareTopology} did. */
export interface Declared {
  /** How the queue was declared. */
  readonly queue: QueueState;
  /** The bindings whose exchange (not owned: vCD's) does not exist yet, which were not bound. */
  readonly missing: Binding[];
}

/** Runs `fn` on a fresh channel, closed afterwards (a broker objection closes it anyway). */
async function onThrowAway<T>(
  open: () => Promise<Channel>,
  fn: (ch: Channel) => Promise<T>,
): Promise<T> {
  const ch = await open();
  ch.on("error", () => {});
  try {
    return await fn(ch);
  } finally {
    await ch.close().catch(() => {});
  }
}

/**
 * The TTL a queue has, read from the broker's 406 refusal of another `x-message-ttl`:
 * `undefined` for none, a number for its value; `null` when the refusal is about something else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ttlFound } from "./topology.ts";
 * const none = "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost " +
 *   "'/': received the value '10000' of type 'short' but current is none";
 * assert.equal(ttlFound({ code: 406, message: none }), undefined);
 * const other = "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost " +
 *   "'/': received '10000' but current is '30000'";
 * assert.equal(ttlFound({ code: 406, message: other }), 30_000);
 * const type = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q'";
 * assert.equal(ttlFound({ code: 406, message: type }), null);
 * ```
 */
export function ttlFound(error: unknown): number | undefined | null {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 406 || typeof message !== "string") return null;
  if (!message.includes(`inequivalent arg '${MESSAGE_TTL}'`)) return null;
  if (/but current is none/.test(message)) return undefined;
  const value = /but current is (?:the value )?'(\d{1,15})'/.exec(message)?.[1];
  return value === undefined ? null : Number(value);
}

/**
 * Declares the queue on throw-away channels (a refusal closes the channel it came on), falling
 * back to the queue as it is when only its message TTL differs (see the module doc).
 */
export async function declareQueue(
  open: () => Promise<Channel>,
  topology: QueueTopology,
): Promise<QueueState> {
  const args = topology.queueArguments;
  const declare = (a: Readonly<Record<string, unknown>> | undefined) =>
    onThrowAway(open, (ch) => ch.assertQueue(topology.queue, queueOptions(a)));
  try {
    await declare(args);
    return { kind: "declared" };
  } catch (e) {
    const wanted = args?.[MESSAGE_TTL];
    const found = ttlFound(e);
    if (typeof wanted !== "number" || found === null) throw e;
    const { [MESSAGE_TTL]: _, ...rest } = args!;
    await declare(found === undefined ? rest : { ...rest, [MESSAGE_TTL]: found });
    return { kind: "ttl-differs", found, wanted, objection: (e as Error).message };
  }
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
  /** Opens a throw-away channel on the same connection, to declare the queue on. */
  readonly open: () => Promise<Channel>;
}

/** Binds `queue` to the binding's exchange with each of its keys. */
export async function bindKeys(channel: Channel, queue: string, binding: Binding): Promise<void> {
  for (const key of binding.keys) await channel.bindQueue(queue, binding.exchange, key);
}

/**
 * Declares the queue ({@linkcode declareQueue}, on throw-away channels), then the exchanges it
 * owns and every binding on `channel`; throws the broker's objection (which closes the channel
 * it came on). Returns how the queue was declared and the bindings whose exchange (not owned:
 * vCD's) does not exist yet, which were not bound.
 */
export async function declareTopology(
  channel: Channel,
  topology: QueueTopology,
  how: DeclareHow,
): Promise<Declared> {
  const queue = await declareQueue(how.open, topology);
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
  return { queue, missing };
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
