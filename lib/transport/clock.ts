/**
 * @module The host's clock: the only code that reads `performance.now()` and starts interval
 * timers for the core's deadlines. Shared by the transports and handed to the core (e.g.
 * `endpoint(extension, { clock: systemClock, timeoutMs })`) by whoever builds it.
 */

import type { Cancel, Clock } from "../core/deadlines.ts";

/**
 * `performance.now()` and `setInterval`, looked up when called rather than when this module
 * loads, so timers faked by a test after import (e.g. `@sinonjs/fake-timers`) are the ones used.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "./clock.ts";
 * const ticked = await new Promise<number>((resolve) => {
 *   const stop = systemClock.every(1, () => {
 *     stop();
 *     resolve(systemClock.now());
 *   });
 * });
 * assert.ok(ticked > 0);
 * ```
 */
export const systemClock: Clock = {
  now(): number {
    return performance.now();
  },
  every(ms: number, tick: () => void, options: { readonly unref?: boolean } = {}): Cancel {
    // The clear that matches the set: a timer started under fake timers is cleared by them.
    const clear = globalThis.clearInterval;
    const id = setInterval(tick, ms);
    if (options.unref) {
      try {
        Deno.unrefTimer(id);
      } catch { /* a fake timer (tests) */ }
    }
    return () => clear(id);
  },
};
