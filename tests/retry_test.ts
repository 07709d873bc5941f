import assert from "node:assert/strict";
import {
  backoffDelay,
  type BackoffPolicy,
  BROKER_RECONNECT,
  EVENT_RETRY,
  VCD_RETRY,
} from "../lib/core/retry.ts";

/** amqplib 2.3's built-in recovery delay (lib/recovery.js), attempt counted from 1. */
function amqplibDelay(
  options: { initialDelay: number; maxDelay: number; factor: number; jitter: number },
  attempt: number,
  random: number,
): number {
  const cappedBase = options.maxDelay / (1 + options.jitter);
  const base = Math.min(cappedBase, options.initialDelay * options.factor ** (attempt - 1));
  const jitterPart = base * options.jitter;
  const offset = jitterPart > 0 ? random * jitterPart * 2 - jitterPart : 0;
  return Math.max(0, Math.round(base + offset));
}

Deno.test("backoffDelay() grows by the factor from the initial delay and stops at the cap", () => {
  const policy: BackoffPolicy = { initialMs: 100, maxMs: 1_000, factor: 3, jitter: 0 };
  assert.deepEqual(
    [0, 1, 2, 3, 10].map((n) => backoffDelay(n, policy)),
    [100, 300, 900, 1000, 1000],
  );
  assert.equal(backoffDelay(-1, policy), 100, "a negative attempt is the first");
});

Deno.test("backoffDelay() spreads by ± jitter and never exceeds the cap, jitter included", () => {
  const policy: BackoffPolicy = { initialMs: 400, maxMs: 3_000, factor: 2, jitter: 0.25 };
  assert.equal(backoffDelay(0, policy, () => 0), 300);
  assert.equal(backoffDelay(0, policy, () => 0.5), 400);
  assert.equal(backoffDelay(0, policy, () => 1), 500);
  for (let attempt = 0; attempt < 30; attempt++) {
    for (const r of [0, 0.1, 0.5, 0.9, 1]) {
      const d = backoffDelay(attempt, policy, () => r);
      assert.ok(d >= 0 && d <= 3_000, `attempt ${attempt}, draw ${r}: ${d}`);
    }
  }
  assert.equal(backoffDelay(30, policy, () => 1), 3_000, "the largest spread lands on the cap");
  const spread = new Set(Array.from({ length: 20 }, () => backoffDelay(3, policy)));
  assert.ok(spread.size > 1, "Math.random jitters it by default");
});

Deno.test("backoffDelay() clamps a draw or a jitter out of range", () => {
  const policy: BackoffPolicy = { initialMs: 100, maxMs: 10_000, factor: 2, jitter: 2 };
  assert.equal(backoffDelay(0, policy, () => -5), 0, "jitter 1 at most, draw 0 at least");
  assert.equal(backoffDelay(0, policy, () => 7), 200);
});

Deno.test("BROKER_RECONNECT is the delay amqplib computed from 200 ms, 2 s, ×2, ±50 %", () => {
  const amqplib = { initialDelay: 200, maxDelay: 2_000, factor: 2, jitter: 0.5 };
  for (let attempt = 1; attempt <= 12; attempt++) {
    for (const r of [0, 0.25, 0.5, 0.75, 0.999]) {
      assert.equal(
        backoffDelay(attempt - 1, BROKER_RECONNECT, () => r),
        amqplibDelay(amqplib, attempt, r),
        `attempt ${attempt}, draw ${r}`,
      );
    }
  }
});

Deno.test("VCD_RETRY is equal jitter: between half and the whole of 200 ms · 2ⁿ, capped at 5 s", () => {
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(5000, 200 * 2 ** attempt);
    assert.equal(backoffDelay(attempt, VCD_RETRY, () => 0), ceiling / 2);
    assert.equal(backoffDelay(attempt, VCD_RETRY, () => 0.5), (ceiling * 3) / 4);
    assert.equal(backoffDelay(attempt, VCD_RETRY, () => 1), ceiling);
  }
});

Deno.test("EVENT_RETRY waits 100 ms, 200 ms, 400 ms, … whatever the draw", () => {
  for (let attempt = 0; attempt < 8; attempt++) {
    assert.equal(backoffDelay(attempt, EVENT_RETRY, () => 0.9), 100 * 2 ** attempt);
  }
});
