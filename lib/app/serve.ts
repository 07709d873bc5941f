/**
 * @module The composition root of `serve`: from {@linkcode ServeOptions} and the extension
 * registry to a running service. One consumer per extension with routes (its endpoint on its
 * queue, bound to the request exchange) plus one for notifications when an extension subscribes;
 * the per-request observer (metrics, access log) on the transport; the vCD client for blocking
 * tasks; the HTTP listener when asked. `main.ts` owns the process around it (signals, exit).
 */

import { eventProcessor } from "../core/events.ts";
import type { Extension } from "../core/extension.ts";
import { endpoint } from "../core/service.ts";
import { startHttp } from "../observability/http.ts";
import type { Logger, LogSink } from "../observability/log.ts";
import { type VcdextMetrics, vcdextMetrics } from "../observability/metrics.ts";
import { requestObserver } from "../observability/observer.ts";
import type { AmqpAddress } from "../transport/amqp/delivery.ts";
import { type ConsumerSpec, extensionBinding, startService } from "../transport/amqp/mod.ts";
import { systemClock } from "../transport/clock.ts";
import { blockingTaskGateway, type VcdClient } from "../vcd/client.ts";
import {
  amqpTls,
  queueArguments,
  selectExtensions,
  type ServeOptions,
  UsageError,
  vcdClientFrom,
} from "./config.ts";

/** What {@linkcode serve} wires in besides its options. */
export interface ServeDeps {
  /** The extensions that may be served (`--extension` picks among them). */
  readonly registry: readonly Extension[];
  readonly log: Logger;
  /** Where access lines go, bypassing the logger (the logger's own sink, normally). */
  readonly sink: LogSink;
}

/** A started `serve`. */
export interface Served {
  /** Requests being handled now. */
  inFlight(): number;
  /** Connected and consuming every queue. */
  ready(): boolean;
  /** The HTTP listener's port (the one picked when `--http-port 0`), if it runs. */
  readonly httpPort: number | undefined;
  /** Ordered shutdown: drain for up to `drainMs`, close the broker, the listener, the vCD client. */
  stop(drainMs: number): Promise<void>;
}

/**
 * The consumers of `serve`: its options checked (one `--queue` for one extension, the handler
 * timeout below vCD's), each extension's endpoint on its queue, and the notification processor
 * on the notification exchanges when an extension subscribes or decides blocking tasks.
 */
export function consumersFor(
  options: ServeOptions,
  registry: readonly Extension[],
  log: Logger,
  vcd: VcdClient | undefined,
  metrics: VcdextMetrics,
): ConsumerSpec[] {
  const selected = selectExtensions(registry, options.extension);
  const withRoutes = selected.filter((e) => e.routes.length > 0);
  if (options.queue !== undefined && withRoutes.length !== 1) {
    throw new UsageError(
      `--queue renames the queue of one extension, but ${withRoutes.length} with routes are served; add --extension NAME`,
    );
  }
  if (options.handlerTimeoutMs >= options.vcdTimeoutMs) {
    throw new UsageError(
      `--handler-timeout-ms (${options.handlerTimeoutMs}) must stay below --vcd-timeout-ms (${options.vcdTimeoutMs}), or vCD answers 504 first`,
    );
  }
  const args = queueArguments(options);
  const consumers: ConsumerSpec[] = withRoutes.map((extension) => {
    const ep = endpoint(extension, {
      maxEnvelopeBytes: options.maxEnvelopeBytes,
      maxBodyBytes: options.maxBodyBytes,
      timeoutMs: options.handlerTimeoutMs,
      clock: systemClock,
      vcdTimeoutMs: options.vcdTimeoutMs,
      maxInFlight: options.maxInFlight,
    });
    return {
      label: extension.name,
      queue: options.queue ?? extension.routingKey,
      bindings: [extensionBinding(options.exchange, extension.routingKey)],
      queueArguments: args,
      handle: ep.handle,
    };
  });
  const events = eventProcessor(selected, {
    log: log.child({ component: "events" }),
    gateway: vcd && options.vcdUrl
      ? blockingTaskGateway(vcd, options.vcdUrl, log.child({ component: "vcd" }))
      : undefined,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    onEvent: (type, outcome) => metrics.notifications.inc({ type: type || "unknown", outcome }),
    onDecision: (action) => metrics.blockingTaskDecisions.inc({ action }),
  });
  const exchanges = [options.notificationsExchange, options.legacyNotificationsExchange]
    .filter((x): x is string => !!x);
  if (events.active && exchanges.length > 0) {
    consumers.push({
      label: "notifications",
      queue: options.notificationsQueue,
      bindings: exchanges.map((exchange) => ({
        exchange,
        type: "topic",
        keys: events.bindingKeys,
        declare: false,
      })),
      queueArguments: args,
      handle: events.handle,
    });
  }
  return consumers;
}

/**
 * Starts the service (and the HTTP listener when asked); resolves once consuming. `extra` is
 * spread over every consumer (the demo's `x-expires`).
 */
export async function serve(
  options: ServeOptions,
  deps: ServeDeps,
  extra: Partial<ConsumerSpec> = {},
): Promise<Served> {
  const { log } = deps;
  const metrics = vcdextMetrics();
  const vcd = await vcdClientFrom(options, log);
  const consumers = consumersFor(options, deps.registry, log, vcd, metrics)
    .map((c) => ({ ...c, ...extra }));
  const tls = await amqpTls(options);
  const service = await startService({
    url: options.amqpUrl,
    ...(tls ? { tls } : {}),
    prefetch: options.prefetch,
    consumers,
    log,
    ...requestObserver<AmqpAddress>(metrics, log, deps.sink),
  });
  const http = options.httpPort === undefined ? undefined : await startHttp({
    hostname: options.httpHost ?? "127.0.0.1",
    port: options.httpPort,
    ready: service.ready,
    metrics: () => {
      metrics.inFlight.set({}, service.inFlight());
      return metrics.registry.render();
    },
    log,
  });
  return {
    inFlight: service.inFlight,
    ready: service.ready,
    httpPort: http?.port,
    async stop(drainMs: number) {
      await service.stop(drainMs);
      await http?.close();
      vcd?.close();
    },
  };
}
