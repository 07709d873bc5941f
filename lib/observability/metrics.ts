/**
 * @module The service's standard metrics: `vcdextMetrics()` declares them, one typed field per
 * metric, on a registry of prometheus.ts (re-exported here, so importers need only this
 * module).
 */

import { Counter, Gauge, Histogram, Metrics, type MetricsOptions } from "./prometheus.ts";

export {
  Counter,
  Gauge,
  Histogram,
  type Labels,
  Metrics,
  METRICS_CONTENT_TYPE,
  type MetricsOptions,
} from "./prometheus.ts";

/** Buckets of `vcdext_request_duration_seconds`, in seconds. */
export const DURATION_BUCKETS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/**
 * The bus a request came on: the `transport` label of the request metrics (`serve --transport
 * both` serves each extension on both).
 */
export type TransportLabel = "amqp" | "mqtt";

/** The service's standard metrics and the registry that renders them. */
export interface VcdextMetrics {
  readonly registry: Metrics;
  /** `vcdext_requests_total{extension,transport,route,status}`: API requests answered. */
  readonly requests: Counter<"extension" | "transport" | "route" | "status">;
  /**
   * `vcdext_request_duration_seconds{extension,transport,route}`: time from delivery to reply,
   * by route template (`unmatched` when none matched), never by concrete path.
   */
  readonly requestDuration: Histogram<"extension" | "transport" | "route">;
  /** `vcdext_in_flight`: requests being handled now. */
  readonly inFlight: Gauge;
  /**
   * `vcdext_replies_failed_total{extension,transport,reason}`: replies that could not be
   * published (AMQP: not confirmed, requeued…; MQTT: `lost`, not acknowledged in time).
   */
  readonly repliesFailed: Counter<"extension" | "transport" | "reason">;
  /** `vcdext_reconnects_total`: broker reconnections (AMQP's, and each MQTT link's). */
  readonly reconnects: Counter;
  /** `vcdext_notifications_total{type,outcome}`: notifications handled. */
  readonly notifications: Counter<"type" | "outcome">;
  /** `vcdext_blocking_task_decisions_total{action}`: blocking tasks resumed, aborted, failed. */
  readonly blockingTaskDecisions: Counter<"action">;
  /**
   * `vcdext_messages_rejected_total{extension,transport,reason}`: messages rejected without a
   * reply.
   */
  readonly messagesRejected: Counter<"extension" | "transport" | "reason">;
  /** `vcdext_broker_connected{transport}`: 1 while the bus is connected and consuming, else 0. */
  readonly brokerConnected: Gauge<"transport">;
  /**
   * `vcdext_notification_handler_seconds{extension}`: time one notification handler took (each
   * attempt, failed ones too).
   */
  readonly notificationHandler: Histogram<"extension">;
  /** `vcdext_build_info{version,deno}`: always 1; the labels say what runs. */
  readonly buildInfo: Gauge<"version" | "deno">;
}

/**
 * Creates a registry holding the service's standard metrics, one typed field per metric.
 * Label values should come from bounded sets: route templates (not paths), status codes,
 * reason codes; the cardinality cap is the safety net, not the plan.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vcdextMetrics } from "./metrics.ts";
 * const m = vcdextMetrics();
 * const labels = { extension: "gcp-ticketing", transport: "mqtt" };
 * m.requests.inc({ ...labels, route: "GET /api/org/{org}/ticketing", status: 200 });
 * m.requestDuration.observe({ ...labels, route: "GET /api/org/{org}/ticketing" }, 0.004);
 * const text = m.registry.render();
 * assert.match(text, /^vcdext_requests_total\{extension="gcp-ticketing",transport="mqtt",.*status="200"\} 1$/m);
 * assert.match(text, /^vcdext_request_duration_seconds_bucket\{extension="gcp-ticketing",transport="mqtt",route="GET \/api\/org\/\{org\}\/ticketing",le="0.005"\} 1$/m);
 * assert.match(text, /^vcdext_reconnects_total 0$/m);
 * ```
 */
export function vcdextMetrics(options: MetricsOptions = {}): VcdextMetrics {
  const registry = new Metrics(options);
  return {
    registry,
    requests: registry.counter(
      "vcdext_requests_total",
      "API extension requests answered, by extension, transport, route template and HTTP status.",
      ["extension", "transport", "route", "status"],
    ),
    requestDuration: registry.histogram(
      "vcdext_request_duration_seconds",
      "Time from receiving an API extension request to publishing its reply, by extension, transport and route template.",
      ["extension", "transport", "route"],
      DURATION_BUCKETS,
    ),
    inFlight: registry.gauge("vcdext_in_flight", "API extension requests being handled."),
    repliesFailed: registry.counter(
      "vcdext_replies_failed_total",
      "Replies that could not be published, by extension, transport and reason.",
      ["extension", "transport", "reason"],
    ),
    reconnects: registry.counter("vcdext_reconnects_total", "Reconnections to the broker."),
    notifications: registry.counter(
      "vcdext_notifications_total",
      "Notifications handled, by event type and outcome.",
      ["type", "outcome"],
    ),
    blockingTaskDecisions: registry.counter(
      "vcdext_blocking_task_decisions_total",
      "Blocking task decisions sent to vCD, by action.",
      ["action"],
    ),
    messagesRejected: registry.counter(
      "vcdext_messages_rejected_total",
      "Messages rejected without a reply, by extension, transport and reason.",
      ["extension", "transport", "reason"],
    ),
    brokerConnected: registry.gauge(
      "vcdext_broker_connected",
      "Whether the bus is connected to its broker and consuming (1) or not (0), by transport.",
      ["transport"],
    ),
    notificationHandler: registry.histogram(
      "vcdext_notification_handler_seconds",
      "Time one notification handler attempt took, by extension.",
      ["extension"],
      DURATION_BUCKETS,
    ),
    buildInfo: registry.gauge(
      "vcdext_build_info",
      "Always 1: the vcdext version and the Deno runtime it runs on.",
      ["version", "deno"],
    ),
  };
}
