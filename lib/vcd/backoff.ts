/**
 * @module The vCD client's one retry policy: the wait before each retry of a 5xx or a network
 * error (exponential, capped, jittered). `VcdClient` retries at most `retries` times.
 */

const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 5_000;

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
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (ceiling / 2) * Math.min(1, Math.max(0, random())));
}

/** Waits `ms` milliseconds (the default `sleep` of `VcdClient`). */
export function sleepFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
