/**
 * @module One retry backoff for the whole service: a capped exponential delay with jitter,
 * pure (the caller owns the clock and the randomness), and the named policies each retry loop
 * uses: {@linkcode BROKER_RECONNECT} (the AMQP and MQTT connections' recovery), {@linkcode VCD_RETRY}
 * (the vCD REST client) and {@linkcode EVENT_RETRY} (a notification handler that threw).
 *
 * The delay of retry `attempt` (0 for the first retry) grows from `initialMs` by `factor` each
 * time, then is spread uniformly by ± `jitter` of itself, so that the instances of a fleet do
 * not retry in step. The growing base is capped at `maxMs / (1 + jitter)`: the largest spread
 * lands exactly on `maxMs` and never beyond, and the spread stays uniform up to the cap (no pile
 * of delays on `maxMs` itself). This is the formula amqplib's connection recovery uses, so the
 * broker's reconnect delays are what they were when amqplib computed them.
 */

/** How a retry loop backs off. */
export interface BackoffPolicy {
  /** The first retry's delay before jitter, in ms. */
  readonly initialMs: number;
  /** No delay exceeds this, jitter included, in ms (`Infinity`: no cap). */
  readonly maxMs: number;
  /** Growth per retry (2 doubles). */
  readonly factor: number;
  /** The uniform spread around the delay, as a fraction of it, from 0 (none) to 1. */
  readonly jitter: number;
}

/**
 * A broker connection's recovery, AMQP's and MQTT's alike: from 200 ms ± 50 %, capped at 2 s
 * jitter included, so a restarted broker is used again within seconds; the jitter spreads the
 * instances apart.
 */
export const BROKER_RECONNECT: BackoffPolicy = Object.freeze({
  initialMs: 200,
  maxMs: 2_000,
  factor: 2,
  jitter: 0.5,
});

/**
 * The vCD REST client's retries: "equal jitter", between half and the whole of 200 ms · 2ⁿ,
 * capped at 5 s (100–200 ms, 200–400 ms, …). Expressed as a base of 150 ms · 2ⁿ ± one third.
 */
export const VCD_RETRY: BackoffPolicy = Object.freeze({
  initialMs: 150,
  maxMs: 5_000,
  factor: 2,
  jitter: 1 / 3,
});

/**
 * A notification handler that threw: 100 ms, 200 ms, 400 ms, … without jitter (one process's
 * own handler, nothing to spread apart) and without a cap (the retries are few: 2 by default).
 */
export const EVENT_RETRY: BackoffPolicy = Object.freeze({
  initialMs: 100,
  maxMs: Infinity,
  factor: 2,
  jitter: 0,
});

/**
 * The wait before retry number `attempt` (0 for the first retry), in whole ms. `random` returns
 * a number in [0, 1) (`Math.random` by default; pass a fixed one in tests): 0 gives the lowest
 * delay of the spread, 0.5 the middle, 1 the highest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay, BROKER_RECONNECT, EVENT_RETRY, VCD_RETRY } from "./retry.ts";
 * assert.equal(backoffDelay(0, EVENT_RETRY), 100);
 * assert.equal(backoffDelay(1, EVENT_RETRY), 200);
 * assert.equal(backoffDelay(0, BROKER_RECONNECT, () => 0), 100); // 200 ms - 50 %
 * assert.equal(backoffDelay(9, BROKER_RECONNECT, () => 1), 2000); // the cap, jitter included
 * assert.equal(backoffDelay(0, VCD_RETRY, () => 0), 100); // half of 200 ms
 * assert.equal(backoffDelay(20, VCD_RETRY, () => 1), 5000);
 * ```
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  const base = Math.min(
    policy.maxMs / (1 + jitter),
    policy.initialMs * policy.factor ** Math.max(0, attempt),
  );
  if (jitter === 0) return Math.max(0, Math.round(base));
  const draw = Math.min(1, Math.max(0, random()));
  return Math.max(0, Math.round(base * (1 + jitter * (2 * draw - 1))));
}
