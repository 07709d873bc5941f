import assert from "node:assert/strict";
import { type Clock, DeadlineQueue, DeadlineTimer } from "../lib/core/deadlines.ts";

Deno.test("DeadlineQueue settles each deadline once, whichever comes first", () => {
  const q = new DeadlineQueue<string>();
  const seen: string[] = [];
  const a = q.add(10, (why) => seen.push(`a ${why}`));
  const b = q.add(10, (why) => seen.push(`b ${why}`));
  q.expire(10, "expired");
  q.settle(a, "confirmed"); // too late: already expired
  q.settle(b, "confirmed");
  assert.deepEqual(seen, ["a expired", "b expired"]);
  assert.equal(q.empty, true);
});

Deno.test("DeadlineQueue.cancel() forgets a deadline without calling it", () => {
  const q = new DeadlineQueue<void>();
  let fired = 0;
  const d = q.add(1, () => fired++);
  q.cancel(d);
  q.expire(Infinity);
  assert.equal(fired, 0);
  assert.equal(d.fire, undefined, "the callback is let go at once");
  assert.equal(q.empty, true);
});

Deno.test("DeadlineQueue keeps a slow deadline at the head and the ones behind it", () => {
  const q = new DeadlineQueue<string>();
  const seen: string[] = [];
  const slow = q.add(100, (why) => seen.push(`slow ${why}`));
  const fast = Array.from({ length: 3_000 }, (_, i) => q.add(50 + i, () => {}));
  for (const d of fast) q.settle(d, "ok");
  assert.equal(q.empty, false);
  q.expire(99, "late");
  assert.deepEqual(seen, []);
  q.expire(100, "late");
  assert.deepEqual(seen, ["slow late"]);
  assert.equal(q.empty, true);
  assert.equal(slow.fire, undefined);
});

Deno.test("DeadlineQueue.expire() lets a callback add a deadline", () => {
  const q = new DeadlineQueue<void>();
  const seen: string[] = [];
  q.add(1, () => {
    seen.push("first");
    q.add(5, () => seen.push("second"));
  });
  q.expire(2);
  assert.deepEqual(seen, ["first"]);
  assert.equal(q.empty, false);
  q.expire(5);
  assert.deepEqual(seen, ["first", "second"]);
});

/** A hand-driven clock: `tick()` runs the armed interval, if any. */
function manualClock() {
  const state = {
    now: 0,
    armed: [] as { ms: number; unref: boolean | undefined }[],
    tick: undefined as (() => void) | undefined,
  };
  const clock: Clock = {
    now: () => state.now,
    every(ms, tick, options) {
      state.armed.push({ ms, unref: options?.unref });
      state.tick = tick;
      return () => (state.tick = undefined);
    },
  };
  return { clock, state };
}

Deno.test("DeadlineTimer arms one unref'd sweeper while deadlines are pending and stops it when none is", () => {
  const { clock, state } = manualClock();
  const timer = new DeadlineTimer<string>(clock, { sweepMs: 50, expired: "late" });
  const seen: string[] = [];
  const a = timer.add(100, (why) => seen.push(`a ${why}`));
  timer.add(200, (why) => seen.push(`b ${why}`));
  assert.deepEqual(state.armed, [{ ms: 50, unref: true }], "one sweeper for both");
  timer.settle(a, "done");
  state.now = 150;
  state.tick?.();
  assert.deepEqual(seen, ["a done"]);
  assert.notEqual(state.tick, undefined, "b is still pending");
  state.now = 200;
  state.tick?.();
  assert.deepEqual(seen, ["a done", "b late"]);
  assert.equal(state.tick, undefined, "the sweeper stopped itself");
  assert.equal(timer.empty, true);
  timer.add(10, () => {});
  assert.equal(state.armed.length, 2, "armed again for a new deadline");
});

Deno.test("DeadlineTimer.expireAll() expires every pending deadline and stops the sweeper", () => {
  const { clock, state } = manualClock();
  const timer = new DeadlineTimer<string>(clock, {
    sweepMs: 1000,
    expired: "requeued",
    keepAlive: true,
  });
  const seen: string[] = [];
  timer.add(60_000, (why) => seen.push(why));
  assert.deepEqual(state.armed, [{ ms: 1000, unref: false }]);
  timer.expireAll();
  assert.deepEqual(seen, ["requeued"]);
  assert.equal(state.tick, undefined);
  assert.equal(timer.empty, true);
});
