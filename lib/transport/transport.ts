/**
 * @module What every transport gives the app, whatever its bus: a running service it can ask
 * whether it is ready and how much is in flight, and stop in order. Each transport lives in a
 * sibling folder (`amqp/` today) and is built from the core's seam (lib/core/seam.ts): it turns
 * what its broker delivers into a `Delivery`, calls a `Handler` (an extension's endpoint from
 * lib/core/service.ts, or the notification processor from lib/core/events.ts), and carries the
 * `Decision` out. A new bus is a new folder that implements this and that seam; lib/core/ does
 * not change.
 */

/** A transport that is consuming. */
export interface RunningTransport {
  /** Requests being handled now. */
  inFlight(): number;
  /** Connected and consuming everything it was asked to (for `/readyz`). */
  ready(): boolean;
  /**
   * Ordered shutdown: stop taking deliveries, let in-flight requests finish for up to `drainMs`,
   * give back (requeue) what is left where the bus can, then disconnect.
   */
  stop(drainMs: number): Promise<void>;
}

/**
 * A service's methods as plain functions, so callers may hand them around detached
 * (`ready: service.ready`, as the HTTP listener takes it).
 */
export function detached(service: RunningTransport): RunningTransport {
  return {
    inFlight: () => service.inFlight(),
    ready: () => service.ready(),
    stop: (drainMs) => service.stop(drainMs),
  };
}
