/**
 * @module The handler call: what a handler receives (`ctx`), and running it bounded by a time
 * limit. Deadlines are kept by one {@linkcode DeadlineTimer} per clock, swept every 50 ms while
 * any is pending rather than a timer per request: a 504 may come up to 50 ms after the limit,
 * which is far inside vCD's margin, and the hot path arms no timer of its own.
 */

import type { VcdRequest } from "./envelope.ts";
import { HttpError } from "./errors.ts";
import type { AnyRoute, HandlerResult } from "./extension.ts";
import { type Clock, DeadlineTimer } from "./deadlines.ts";
import type { ExtensionConfig } from "./config_schema.ts";

type Context = Parameters<AnyRoute["handle"]>[0];

const NEVER = new AbortController().signal;

/** How often pending handler deadlines are swept. */
const SWEEP_MS = 50;

/** One deadline timer per clock, made on first use: every call on a clock shares its sweeper. */
const timers = new WeakMap<Clock, DeadlineTimer<void>>();

function timerOf(clock: Clock): DeadlineTimer<void> {
  const known = timers.get(clock);
  if (known) return known;
  const timer = new DeadlineTimer<void>(clock, { sweepMs: SWEEP_MS, expired: undefined });
  timers.set(clock, timer);
  return timer;
}

/** A handler's time limit and the clock that measures it. */
export interface TimeLimit {
  /** How long the handler may take, in ms. */
  readonly timeoutMs: number;
  /** What measures it (`systemClock` of lib/transport/clock.ts, or a fake). */
  readonly clock: Clock;
}

/**
 * What a handler receives. A class rather than an object literal with getters: a literal's
 * getters are fresh closures, V8 then gives every such object its own hidden class, and that
 * kept several KB per request alive across garbage collections.
 */
export class RequestContext implements Context {
  /** Aborts from outside (shutdown). */
  readonly #outer: AbortSignal | undefined;
  /** Whether a deadline applies, so `signal` needs a controller of its own. */
  readonly #bounded: boolean;
  #query: URLSearchParams | undefined;
  #controller: AbortController | undefined;
  #expired: HttpError | undefined;
  #forward: (() => void) | undefined;

  constructor(
    readonly params: Readonly<Record<string, string>>,
    readonly body: unknown,
    readonly request: VcdRequest,
    outer: AbortSignal | undefined,
    bounded: boolean,
    readonly config: ExtensionConfig,
  ) {
    this.#outer = outer;
    this.#bounded = bounded;
  }

  get security(): VcdRequest["security"] {
    return this.request.security;
  }

  get query(): URLSearchParams {
    return (this.#query ??= new URLSearchParams(this.request.queryString));
  }

  /** The AbortController is made only when the handler looks at `signal`. */
  get signal(): AbortSignal {
    const outer = this.#outer;
    if (!this.#bounded) return outer ?? NEVER;
    if (!this.#controller) {
      const controller = (this.#controller = new AbortController());
      if (this.#expired) controller.abort(this.#expired);
      else if (outer?.aborted) controller.abort(outer.reason);
      else if (outer) {
        this.#forward = () => controller.abort(outer.reason);
        outer.addEventListener("abort", this.#forward, { once: true });
      }
    }
    return this.#controller.signal;
  }

  /** The deadline passed: abort the handler's signal with the 504. */
  expire(error: HttpError): void {
    this.#expired = error;
    this.#controller?.abort(error);
  }

  /** The handler settled: stop listening to the outer signal. */
  release(): void {
    if (this.#forward) this.#outer?.removeEventListener("abort", this.#forward);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

/**
 * Runs the handler, bounded by `limit` when given. A handler that answers synchronously (or
 * throws) needs no deadline; a pending one is raced against it. Past the limit the promise
 * rejects with a 504 `HttpError`, the handler's `ctx.signal` is aborted and its late result is
 * dropped.
 */
export function callHandler(
  def: AnyRoute,
  limit: TimeLimit | undefined,
  ctx: RequestContext,
): Promise<HandlerResult<unknown>> {
  let result: HandlerResult<unknown> | PromiseLike<HandlerResult<unknown>>;
  try {
    result = def.handle(ctx);
  } catch (e) {
    return Promise.reject(e);
  }
  if (limit === undefined || !isThenable(result)) return Promise.resolve(result);
  const { timeoutMs } = limit;
  const timer = timerOf(limit.clock);
  const pending = result;
  return new Promise<HandlerResult<unknown>>((resolve, reject) => {
    const deadline = timer.add(timeoutMs, () => {
      const expired = new HttpError(504, `The extension did not answer within ${timeoutMs} ms`);
      ctx.expire(expired);
      reject(expired);
    });
    // The handler's own promise may settle after the deadline: that late result is dropped.
    pending.then((value) => {
      timer.cancel(deadline);
      ctx.release();
      resolve(value);
    }, (e) => {
      timer.cancel(deadline);
      ctx.release();
      reject(e);
    });
  });
}
