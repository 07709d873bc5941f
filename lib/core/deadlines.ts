/**
 * @module A queue of pending deadlines, swept by the caller's one timer instead of a timer per
 * request: handler time limits (`dispatch.ts`) and reply confirms (`amqp.ts`). Pure: the
 * caller passes the clock readings in.
 */

/** One pending deadline; `settle` or `cancel` it when what it guards is done. */
export interface Deadline<A> {
  /** When it expires, in the caller's clock (e.g. `performance.now()`). */
  readonly at: number;
  /** Cleared once settled, expired or cancelled. */
  fire: ((arg: A) => void) | undefined;
}

/**
 * Deadlines in the order they were added. Records, not a `Map` keyed by callback: a settled
 * record lets go of its callback at once, so what it guards is not kept reachable until the
 * next sweep (the `Map` versions had V8 copy and promote each request's objects in every
 * scavenge). Settled records leave from the head as soon as those before them have settled,
 * so the queue stays short without a sweep when deadlines settle roughly in order (replies are
 * confirmed in publish order; handlers finish roughly in the order they started, and one slow
 * one holds back at most what finishes within its time limit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeadlineQueue } from "./deadlines.ts";
 * const q = new DeadlineQueue<string>();
 * const seen: string[] = [];
 * const a = q.add(10, (why) => seen.push(`a ${why}`));
 * q.add(20, (why) => seen.push(`b ${why}`));
 * q.settle(a, "done");
 * q.expire(15, "late"); // b is not due yet
 * q.expire(25, "late");
 * assert.deepEqual(seen, ["a done", "b late"]);
 * assert.equal(q.empty, true);
 * ```
 */
export class DeadlineQueue<A> {
  #items: Deadline<A>[] = [];
  /** Records before this index are gone. */
  #head = 0;

  /** No deadline is pending. */
  get empty(): boolean {
    return this.#head === this.#items.length;
  }

  add(at: number, fire: (arg: A) => void): Deadline<A> {
    const deadline: Deadline<A> = { at, fire };
    this.#items.push(deadline);
    return deadline;
  }

  /** Calls the deadline's callback with `arg`, unless it is settled already. */
  settle(deadline: Deadline<A>, arg: A): void {
    const fire = deadline.fire;
    if (fire === undefined) return;
    this.cancel(deadline);
    fire(arg);
  }

  /** Forgets the deadline without calling it. */
  cancel(deadline: Deadline<A>): void {
    deadline.fire = undefined;
    const items = this.#items;
    while (this.#head < items.length && items[this.#head]!.fire === undefined) this.#head++;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * Settles with `arg` every pending deadline due at `now`, in order. The queue is updated
   * before any callback runs, so a callback may add deadlines.
   */
  expire(now: number, arg: A): void {
    const due: ((arg: A) => void)[] = [];
    const kept: Deadline<A>[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const d = this.#items[i]!;
      if (d.fire === undefined) continue;
      if (d.at <= now) {
        due.push(d.fire);
        d.fire = undefined;
      } else kept.push(d);
    }
    this.#items = kept;
    this.#head = 0;
    for (const fire of due) fire(arg);
  }
}
