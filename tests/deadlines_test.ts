import assert from "node:assert/strict";
import { DeadlineQueue } from "../lib/core/deadlines.ts";

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
