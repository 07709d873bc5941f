/**
 * @module The composition root of `serve`: from {@linkcode ServeOptions} and the extension
 * registry to a running service on the buses of `--transport`. On AMQP (`amqp`, `both`): one
 * consumer per extension with routes (its endpoint on its queue, bound to the request exchange)
 * plus one for notifications when an extension subscribes, and the vCD client for blocking tasks.
 * On MQTT (`mqtt`, `both`): one connection per extension with routes (lib/app/serve_mqtt.ts,
 * loaded only then). Each bus has its own per-request observer (metrics and access lines with a
 * `transport` label); with both, they run as one {@linkcode allTransports}: ready when both are,
 * stopped together. Then the HTTP listener when asked. `main.ts` owns the process around it
 * (signals, exit).
 */

import { eventProcessor } from "../core/events.ts";
import type { Extension } from "../core/extension.ts";
import { endpoint, type EndpointOptions } from "../core/service.ts";
import { type HttpListener, startHttp } from "../observability/http.ts";
import type { Logger, LogSink } from "../observability/log.ts";
import { type VcdextMetrics, vcdextMetrics } from "../observability/metrics.ts";
import { requestObserver } from "../observability/observer.ts";
import { buildInfo, processMetrics } from "../observability/process_metrics.ts";
import type { AmqpAddress } from "../transport/amqp/delivery.ts";
import { type ConsumerSpec, extensionBinding, startService } from "../transport/amqp/mod.ts";
import type { RunningTransport } from "../transport/transport.ts";
import { blockingTaskGateway, type VcdClient } from "../vcd/client.ts";
import {
  amqpTls,
  endpointOptions,
  notificationQueueArguments,
  queueArguments,
  selectExtensions,
  type ServeOptions,
  UsageError,
  vcdClientFrom,
} from "./config.ts";
import { type MqttSettings, mqttSettings } from "./mqtt_config.ts";
import { configureExtensions } from "./ext_config.ts";
import { registryWithRightIds } from "./rights.ts";

/** What {@linkcode serve} wires in besides its options. */
export interface ServeDeps {
  /** The extensions that may be served (`--extension` picks among them). */
  readonly registry: readonly Extension[];
  readonly log: Logger;
  /** Where access lines go, bypassing the logger (the logger's own sink, normally). */
  readonly sink: LogSink;
  /** The vcdext version, for `vcdext_build_info`. */
  readonly version?: string;
}

/** A started `serve`. */
export interface Served {
  /** Requests being handled now. */
  inFlight(): number;
  /** Every bus connected and consuming (AMQP: every queue; MQTT: every extension subscribed). */
  ready(): boolean;
  /** The HTTP listener's port (the one picked when `--http-port 0`), if it runs. */
  readonly httpPort: number | undefined;
  /**
   * Ordered shutdown: drain every bus at once for up to `drainMs` and disconnect, then close the
   * listener and the vCD client.
   */
  stop(drainMs: number): Promise<void>;
}

/**
 * The endpoint settings of every bus, checked: the handler timeout must stay below vCD's, or vCD
 * answers 504 before the handler's own 504 can.
 */
export function checkedLimits(options: ServeOptions): EndpointOptions {
  if (options.handlerTimeoutMs >= options.vcdTimeoutMs) {
    throw new UsageError(
      `--handler-timeout-ms (${options.handlerTimeoutMs}) must stay below --vcd-timeout-ms (${options.vcdTimeoutMs}), or vCD answers 504 first`,
    );
  }
  return endpointOptions(options);
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
  const limits = checkedLimits(options);
  const args = queueArguments(options);
  const consumers: ConsumerSpec[] = withRoutes.map((extension) => {
    const ep = endpoint(extension, limits);
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
    handlerTiming: {
      now: () => performance.now(),
      observe: (extension, ms) => metrics.notificationHandler.observe({ extension }, ms / 1000),
    },
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
      queueArguments: notificationQueueArguments(options),
      handle: events.handle,
    });
  }
  return consumers;
}

/**
 * The running transports as one: ready when every one is, the sum of their requests in flight,
 * and stopped all at once (each drains for up to `drainMs`, in parallel, so `both` takes no
 * longer to stop than one bus).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allTransports } from "./serve.ts";
 * const stopped: number[] = [];
 * const bus = (n: number, ready: boolean) => ({
 *   inFlight: () => n,
 *   ready: () => ready,
 *   stop: async (ms: number) => void stopped.push(ms),
 * });
 * const both = allTransports([bus(2, true), bus(3, false)]);
 * assert.equal(both.inFlight(), 5);
 * assert.equal(both.ready(), false);
 * await both.stop(100);
 * assert.deepEqual(stopped, [100, 100]);
 * ```
 */
export function allTransports(transports: readonly RunningTransport[]): RunningTransport {
  // Plain functions even for one: callers hand them around detached (`ready: service.ready`).
  return {
    inFlight: () => transports.reduce((n, t) => n + t.inFlight(), 0),
    ready: () => transports.every((t) => t.ready()),
    stop: async (drainMs) => {
      await Promise.all(transports.map((t) => t.stop(drainMs)));
    },
  };
}

/**
 * Starts every bus at once; when one fails, stops the ones that started (no drain: nothing was
 * served yet to speak of) and rethrows the first failure.
 */
async function startAll(
  starts: readonly (() => Promise<RunningTransport>)[],
): Promise<RunningTransport> {
  const results = await Promise.allSettled(starts.map((start) => start()));
  const failed = results.find((r) => r.status === "rejected");
  const running = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  if (failed) {
    await Promise.all(running.map((t) => t.stop(0)));
    throw failed.reason;
  }
  return allTransports(running);
}

/** The MQTT side's settings, or `undefined` with `--transport amqp` (read before connecting). */
async function mqttPlan(
  options: ServeOptions,
  registry: readonly Extension[],
  log: Logger,
): Promise<{ extensions: Extension[]; settings: MqttSettings } | undefined> {
  const transport = options.transport ?? "amqp";
  if (transport === "amqp") {
    if (options.mqttHa) throw new UsageError("--mqtt-ha goes with --transport mqtt or both");
    return undefined;
  }
  const selected = selectExtensions(registry, options.extension);
  const withRoutes = selected.filter((e) => e.routes.length > 0);
  const eventsOnly = selected
    .filter((e) => (e.notifications?.length ?? 0) > 0 || (e.blockingTasks?.length ?? 0) > 0)
    .map((e) => e.name);
  if (transport === "mqtt" && eventsOnly.length > 0) {
    log.warn(
      { extensions: eventsOnly },
      "--transport mqtt serves API requests only: notifications and blocking tasks come over AMQP (use --transport both)",
    );
  }
  if (withRoutes.length === 0) {
    if (transport === "mqtt") {
      throw new UsageError("--transport mqtt serves API routes, and no extension served has any");
    }
    log.warn({}, "no extension served has routes: nothing to serve over MQTT");
    return undefined;
  }
  return { extensions: withRoutes, settings: await mqttSettings(options, withRoutes) };
}

/**
 * Starts the service on the buses of `--transport` (and the HTTP listener when asked); resolves
 * once every bus is consuming. `extra` is spread over every AMQP consumer (the demo's
 * `x-expires`).
 */
export async function serve(
  options: ServeOptions,
  deps: ServeDeps,
  extra: Partial<ConsumerSpec> = {},
): Promise<Served> {
  const { log } = deps;
  const metrics = vcdextMetrics();
  buildInfo(metrics, deps.version ?? "unknown");
  processMetrics(metrics.registry);
  const limits = checkedLimits(options);
  // Every setting is read and checked before the first connection: the extensions' configuration,
  // then rights declared by name become ids.
  const configured = await configureExtensions(
    deps.registry,
    selectExtensions(deps.registry, options.extension),
    options.configDir,
    log,
  );
  const registry = await registryWithRightIds(options, configured, log);
  deps = { ...deps, registry };
  const mqtt = await mqttPlan(options, registry, log);
  const amqp = options.transport !== "mqtt";
  const vcd = amqp ? await vcdClientFrom(options, log) : undefined;
  const consumers = amqp
    ? consumersFor(options, registry, log, vcd, metrics).map((c) => ({ ...c, ...extra }))
    : [];
  // The broker TLS files, read once: for the AMQP transport and for `--mqtt-ha`'s leases.
  const tls = amqp || options.mqttHa ? await amqpTls(options) : undefined;
  const starts: (() => Promise<RunningTransport>)[] = [];
  if (amqp) {
    starts.push(() =>
      startService({
        urls: options.amqpUrl,
        ...(options.heartbeat === undefined ? {} : { heartbeatSec: options.heartbeat }),
        ...(options.connectTimeoutMs === undefined
          ? {}
          : { connectTimeoutMs: options.connectTimeoutMs }),
        ...(tls ? { tls } : {}),
        prefetch: options.prefetch,
        consumers,
        log,
        ...requestObserver<AmqpAddress>(metrics, log, deps.sink),
      })
    );
  }
  if (mqtt) {
    const plan = mqtt;
    starts.push(async () => {
      // Loaded only now: an AMQP-only service never loads the mqtt client.
      const { startMqtt } = await import("./serve_mqtt.ts");
      const ha = options.mqttHa
        ? { amqpUrl: options.amqpUrl, ...(tls ? { amqpTls: tls } : {}) }
        : undefined;
      return startMqtt(plan.extensions, plan.settings, limits, { ...deps, metrics }, ha);
    });
  }
  // The listener first: `/healthz` answers from the start (`/readyz` is 503 until consuming),
  // and a port in use fails before anything consumes.
  const current: { service?: RunningTransport } = {};
  let http: HttpListener | undefined;
  let service: RunningTransport;
  try {
    http = options.httpPort === undefined ? undefined : await startHttp({
      hostname: options.httpHost ?? "127.0.0.1",
      port: options.httpPort,
      ready: () => current.service?.ready() ?? false,
      metrics: () => {
        const service = current.service;
        if (service) metrics.inFlight.set({}, service.inFlight());
        return metrics.registry.render();
      },
      log,
    });
    service = await startAll(starts);
  } catch (e) {
    await http?.close();
    vcd?.close();
    throw e;
  }
  current.service = service;
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
