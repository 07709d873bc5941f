/**
 * @module The vCD client's retry wait: the one backoff of lib/core/retry.ts with its
 * `VCD_RETRY` policy (between half and all of 200 ms × 2ⁿ, capped at 5 s). `VcdClient` retries
 * at most `retries` times.
 */

import { backoffDelay as delayFor, VCD_RETRY } from "../core/retry.ts";

/**
 * The wait before retry number `attempt` (0 for the first retry): exponential from 200 ms,
 * capped at 5 s, with "equal jitter" (half fixed, half random) so that clients spread out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay } from "./backoff.ts";
 * assert.equal(backoffDelay(0, () => 0), 100);
 * assert.equal(backoffDelay(2, () => 0.5), 600);
 * assert.equal(backoffDelay(20, () => 1), 5000);
 * ```
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  return delayFor(attempt, VCD_RETRY, random);
}

/** Waits `ms` milliseconds (the default `sleep` of `VcdClient`). */
export function sleepFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
