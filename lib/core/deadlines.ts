/**
 * @module Pending deadlines, swept by one timer instead of a timer per request: handler time
 * limits (`dispatch.ts`) and reply confirms (the AMQP adapter). {@linkcode DeadlineQueue} is
 * the bare queue (the caller passes the clock readings in); {@linkcode DeadlineTimer} owns a
 * queue and its sweeper, on a {@linkcode Clock} it is handed. Pure: the clock is a port; the
 * host's clock is `systemClock` in lib/transport/clock.ts, handed in by whoever builds the
 * core's parts.
 */

/** Stops a timer started by {@linkcode Clock.every}. */
export type Cancel = () => void;

/**
 * The clock port: what the core needs of time. The core never reads the host's clock itself;
 * `systemClock` (lib/transport/clock.ts) is the real one, tests may pass a fake.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (e.g. `performance.now()`). */
  now(): number;
  /**
   * Calls `tick` every `ms` milliseconds until the returned {@linkcode Cancel} is called. With
   * `unref`, the timer does not keep the process alive.
   */
  every(ms: number, tick: () => void, options?: { readonly unref?: boolean }): Cancel;
}

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

/** Options of {@linkcode DeadlineTimer}. */
export interface DeadlineTimerOptions<A> {
  /** How often the sweeper runs while a deadline is pending: a deadline fires up to this late. */
  readonly sweepMs: number;
  /** What an expired deadline's callback receives. */
  readonly expired: A;
  /** Whether the sweeper may keep the process alive. Default `false` (unref'd). */
  readonly keepAlive?: boolean;
}

/**
 * A {@linkcode DeadlineQueue} that owns its sweeper: one interval timer on the given
 * {@linkcode Clock}, armed while any deadline is pending and stopped by itself once none is,
 * so a deadline arms no timer of its own. Deadlines are given relative to now.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Clock, DeadlineTimer } from "./deadlines.ts";
 * let now = 0;
 * let tick: (() => void) | undefined;
 * const clock: Clock = {
 *   now: () => now,
 *   every: (_ms, t) => { tick = t; return () => (tick = undefined); },
 * };
 * const timer = new DeadlineTimer<string>(clock, { sweepMs: 50, expired: "late" });
 * const seen: string[] = [];
 * const a = timer.add(100, (why) => seen.push(`a ${why}`));
 * timer.add(100, (why) => seen.push(`b ${why}`));
 * timer.settle(a, "done");
 * now = 150;
 * tick?.();
 * assert.deepEqual(seen, ["a done", "b late"]);
 * assert.equal(tick, undefined, "the sweeper stopped itself");
 * ```
 */
export class DeadlineTimer<A> {
  readonly #queue = new DeadlineQueue<A>();
  readonly #clock: Clock;
  readonly #options: DeadlineTimerOptions<A>;
  #stop: Cancel | undefined;

  constructor(clock: Clock, options: DeadlineTimerOptions<A>) {
    this.#clock = clock;
    this.#options = options;
  }

  /** No deadline is pending (and so no sweeper runs). */
  get empty(): boolean {
    return this.#queue.empty;
  }

  /** Arms a deadline `ms` from now; settle or cancel it when what it guards is done. */
  add(ms: number, fire: (arg: A) => void): Deadline<A> {
    const deadline = this.#queue.add(this.#clock.now() + ms, fire);
    this.#stop ??= this.#clock.every(this.#options.sweepMs, () => this.#sweep(), {
      unref: !this.#options.keepAlive,
    });
    return deadline;
  }

  /** Calls the deadline's callback with `arg`, unless it is settled already. */
  settle(deadline: Deadline<A>, arg: A): void {
    this.#queue.settle(deadline, arg);
  }

  /** Forgets the deadline without calling it. */
  cancel(deadline: Deadline<A>): void {
    this.#queue.cancel(deadline);
  }

  /** Expires every pending deadline now, whatever its time (shutdown), and stops the sweeper. */
  expireAll(): void {
    this.#halt();
    this.#queue.expire(Infinity, this.#options.expired);
  }

  #sweep(): void {
    this.#queue.expire(this.#clock.now(), this.#options.expired);
    if (this.#queue.empty) this.#halt();
  }

  #halt(): void {
    const stop = this.#stop;
    this.#stop = undefined;
    stop?.();
  }
}
