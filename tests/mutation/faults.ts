/**
 * @module The planted faults of the mutation check (`deno task mutation`, see run.ts). Each one
 * is a single exact text replacement in one product file, and names the test files expected to
 * catch it; the check runs only those (with `--fail-fast`), which keeps a run to a few minutes
 * instead of a whole suite per fault. A fault whose search text is not found exactly once
 * "did not apply": the product moved on, and the fault must be updated, not dropped.
 *
 * The file is not named `*_test.ts`, so `deno test tests/` never picks it up.
 */

/** One planted fault. */
export interface Fault {
  /** Short unique name, for `--only` and the table. */
  readonly id: string;
  /** Product file, relative to the repository root. */
  readonly file: string;
  /** Exact text to replace; must occur exactly once in the file. */
  readonly search: string;
  readonly replace: string;
  /** Test files (relative to the repository root) expected to catch it, the likeliest first. */
  readonly tests: readonly string[];
}

const DEFAULTS = "tests/serve_defaults_test.ts";
const REPLIES = "tests/serve_replies_test.ts";
const METRICS = "tests/serve_metrics_test.ts";
const DRAIN = "tests/serve_drain_test.ts";
const MQTT = "tests/serve_mqtt_test.ts";
const FAILOVER = "tests/failover_test.ts";
const CLUSTER = "tests/cluster_test.ts";

/** A fault that deletes `search` (a whole statement or option). */
function drop(id: string, file: string, search: string, tests: readonly string[]): Fault {
  return { id, file, search, replace: "", tests };
}

/** The faults the issue names, then ten and more of our own. */
export const FAULTS: readonly Fault[] = [
  // --- serve: shutdown and queue arguments (lib/app/) --------------------------------------------
  {
    id: "stop-without-drain",
    file: "lib/app/serve.ts",
    search: "await service.stop(drainMs);",
    replace: "await service.stop(0);",
    tests: [DRAIN],
  },
  drop(
    "no-dlx-argument",
    "lib/app/config.ts",
    'if (options.deadLetterExchange) args["x-dead-letter-exchange"] = options.deadLetterExchange;',
    [REPLIES],
  ),
  drop("no-quorum-argument", "lib/app/config.ts", 'args["x-queue-type"] = "quorum";', [REPLIES]),
  drop(
    "no-delivery-limit-argument",
    "lib/app/config.ts",
    'if (options.deliveryLimit !== undefined) args["x-delivery-limit"] = options.deliveryLimit;',
    [REPLIES],
  ),
  // --- the eight metric wirings (observer, serve) ------------------------------------------------
  drop(
    "metric-requests",
    "lib/observability/observer.ts",
    "metrics.requests.inc({ extension, transport, route, status });",
    [METRICS],
  ),
  drop(
    "metric-duration",
    "lib/observability/observer.ts",
    "metrics.requestDuration.observe({ extension, transport, route }, ms / 1000);",
    [METRICS],
  ),
  drop(
    "metric-replies-failed",
    "lib/observability/observer.ts",
    "metrics.repliesFailed.inc({ extension, transport, reason: disposition });",
    [METRICS, REPLIES],
  ),
  {
    id: "metric-rejected",
    file: "lib/observability/observer.ts",
    search:
      "metrics.messagesRejected.inc({ extension: consumer, transport, reason: REJECT_LABEL[code] }),",
    replace: "void [consumer, code],",
    tests: [METRICS],
  },
  drop(
    "metric-reconnects",
    "lib/observability/observer.ts",
    'if (state === "consuming" && connects++ > 0) metrics.reconnects.inc();',
    [METRICS],
  ),
  drop("metric-in-flight", "lib/app/serve.ts", "metrics.inFlight.set({}, service.inFlight());", [
    METRICS,
    DRAIN,
  ]),
  {
    id: "metric-notifications",
    file: "lib/app/serve.ts",
    search:
      'onEvent: (type, outcome) => metrics.notifications.inc({ type: type || "unknown", outcome }),',
    replace: "onEvent: () => {},",
    tests: [METRICS],
  },
  {
    id: "metric-decisions",
    file: "lib/app/serve.ts",
    search: "onDecision: (action) => metrics.blockingTaskDecisions.inc({ action }),",
    replace: "onDecision: () => {},",
    tests: [METRICS],
  },
  // --- serve: every default (lib/app/flags.ts) ---------------------------------------------------
  {
    id: "default-drain-0",
    file: "lib/app/flags.ts",
    search: '.argParser(positiveInt("--drain-ms", 0)).default(5000)',
    replace: '.argParser(positiveInt("--drain-ms", 0)).default(0)',
    tests: [DEFAULTS, DRAIN],
  },
  {
    id: "default-http-host-any",
    file: "lib/app/flags.ts",
    search: '"address of the HTTP listener").default("127.0.0.1")',
    replace: '"address of the HTTP listener").default("0.0.0.0")',
    tests: [DEFAULTS],
  },
  {
    id: "default-prefetch-64",
    file: "lib/app/flags.ts",
    search: 'positiveInt("--prefetch"),\n      ).default(128)',
    replace: 'positiveInt("--prefetch"),\n      ).default(64)',
    tests: [DEFAULTS],
  },
  {
    id: "default-max-in-flight-1000",
    file: "lib/app/flags.ts",
    search: 'positiveInt("--max-in-flight")).default(100)',
    replace: 'positiveInt("--max-in-flight")).default(1000)',
    tests: [DEFAULTS, DRAIN],
  },
  {
    id: "default-handler-timeout-9000",
    file: "lib/app/flags.ts",
    search: 'positiveInt("--handler-timeout-ms")).default(8000)',
    replace: 'positiveInt("--handler-timeout-ms")).default(9000)',
    tests: [DEFAULTS],
  },
  {
    id: "default-vcd-timeout-12000",
    file: "lib/app/flags.ts",
    search: 'positiveInt("--vcd-timeout-ms")).default(10_000)',
    replace: 'positiveInt("--vcd-timeout-ms")).default(12_000)',
    tests: [DEFAULTS],
  },
  {
    id: "default-max-envelope-2MiB",
    file: "lib/app/flags.ts",
    search: 'positiveInt("--max-envelope-bytes")).default(1_048_576)',
    replace: 'positiveInt("--max-envelope-bytes")).default(2_097_152)',
    tests: [DEFAULTS],
  },
  {
    id: "default-max-body-1MiB",
    file: "lib/app/flags.ts",
    search: 'positiveInt("--max-body-bytes")).default(524_288)',
    replace: 'positiveInt("--max-body-bytes")).default(1_048_576)',
    tests: [DEFAULTS],
  },
  {
    id: "default-log-level-warn",
    file: "lib/app/flags.ts",
    search: '"info" as LogLevel,',
    replace: '"warn" as LogLevel,',
    tests: [DEFAULTS],
  },
  {
    id: "default-queue-type-quorum",
    file: "lib/app/flags.ts",
    search: '.choices(["classic", "quorum"] as const).default("classic" as const),',
    replace: '.choices(["classic", "quorum"] as const).default("quorum" as const),',
    tests: [DEFAULTS, REPLIES],
  },
  {
    id: "default-exchange",
    file: "lib/app/flags.ts",
    search: ".default(DEFAULT_EXCHANGE);",
    replace: '.default("vcdext.other");',
    tests: [DEFAULTS],
  },
  {
    id: "default-amqp-url",
    file: "lib/app/config.ts",
    search: 'export const LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672";',
    replace: 'export const LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5673";',
    tests: [DEFAULTS],
  },
  {
    id: "default-notifications-exchange",
    file: "lib/app/flags.ts",
    search:
      '"vCD\'s JSON notification exchange (topic); empty to disable",\n      ).default(DEFAULT_NOTIFICATIONS_EXCHANGE)',
    replace:
      '"vCD\'s JSON notification exchange (topic); empty to disable",\n      ).default("vcd.notifications")',
    tests: [DEFAULTS],
  },
  {
    id: "default-notifications-queue",
    file: "lib/app/flags.ts",
    search:
      '"the service\'s own queue for notifications (shared by its instances)",\n      ).default(DEFAULT_NOTIFICATIONS_QUEUE)',
    replace:
      '"the service\'s own queue for notifications (shared by its instances)",\n      ).default("vcdext.events")',
    tests: [DEFAULTS],
  },
  {
    id: "default-vcd-api-version",
    file: "lib/app/flags.ts",
    search: '"vCloud API version to ask for").default(\n      DEFAULT_API_VERSION,\n    ),',
    replace: '"vCloud API version to ask for").default("37.0"),',
    tests: [DEFAULTS],
  },
  // --- replies on the wire -----------------------------------------------------------------------
  {
    id: "unconfirmed-reply-acked",
    file: "lib/transport/amqp/consumer.ts",
    search: '} else this.settle(s, msg, "requeue");',
    replace: '} else this.settle(s, msg, "ack");',
    tests: [REPLIES],
  },
  {
    id: "reply-message-type",
    file: "lib/transport/amqp/replies.ts",
    search: 'messageType: "ProcessHttpResponse",',
    replace: 'messageType: "ProcessHttpRequest",',
    tests: [REPLIES],
  },
  {
    id: "reply-ttl-1ms",
    file: "lib/transport/amqp/replies.ts",
    search: "String(config.replyExpirationMs ?? 15_000)",
    replace: "String(config.replyExpirationMs ?? 1)",
    tests: [REPLIES],
  },
  {
    id: "no-body-sniffing",
    file: "lib/core/request_body.ts",
    search: 'return first === "<" ? "xml" : first === "{" || first === "[" ? "json" : undefined;',
    replace: "return undefined;",
    tests: [REPLIES, "tests/dispatch_test.ts"],
  },
  {
    id: "help-exits-1",
    file: "main.ts",
    search: "exit(e.exitCode === 0 ? 0 : 2);",
    replace: "exit(e.exitCode === 0 ? 1 : 2);",
    tests: ["tests/cli_test.ts", "tests/bundle_test.ts"],
  },
  {
    id: "usage-error-exits-1",
    file: "main.ts",
    search: "exit(e.exitCode === 0 ? 0 : 2);",
    replace: "exit(e.exitCode);",
    tests: ["tests/cli_usage_test.ts"],
  },
  {
    id: "mistyped-command-runs-serve",
    file: "main.ts",
    search: "if (unknown !== undefined) throw new UsageError(unknown);",
    replace: "",
    tests: ["tests/cli_usage_test.ts"],
  },
  {
    id: "colon-parameter-accepted",
    file: "lib/core/extension.ts",
    search: "const colon = /\\/:([A-Za-z_][A-Za-z0-9_]*)/.exec(path);",
    replace: "const colon = /(?!)(x)/.exec(path);",
    tests: ["tests/extension_checks_test.ts"],
  },
  // --- our own: lib/transport/amqp/, the consumer and reply side -------------------------------
  drop(
    "reply-without-correlation-id",
    "lib/transport/amqp/replies.ts",
    "correlationId: to.correlationId,\n",
    [
      REPLIES,
    ],
  ),
  {
    id: "queue-not-durable",
    file: "lib/transport/amqp/topology.ts",
    search: "const options: Options.AssertQueue = { durable: true };",
    replace: "const options: Options.AssertQueue = { durable: false };",
    tests: [REPLIES],
  },
  {
    id: "prefetch-ignored",
    file: "lib/transport/amqp/service.ts",
    search: "await consume.prefetch(config.prefetch);",
    replace: "await consume.prefetch(1);",
    tests: [DEFAULTS],
  },
  {
    id: "confirm-timeout-counted-acked",
    file: "lib/transport/amqp/replies.ts",
    search: 'expired: "requeued",\n      keepAlive: true,',
    replace: 'expired: "acked",\n      keepAlive: true,',
    tests: [REPLIES, METRICS],
  },
  {
    id: "missing-reply-exchange-requeued",
    file: "lib/transport/amqp/consumer.ts",
    search:
      '"reply exchange does not exist; message rejected without requeue",\n      );\n      this.settle(s, msg, "reject");',
    replace:
      '"reply exchange does not exist; message rejected without requeue",\n      );\n      this.settle(s, msg, "requeue");',
    tests: [METRICS, "tests/amqp_integration_test.ts"],
  },
  // --- our own: the observer, serve, main.ts -----------------------------------------------------
  {
    id: "reject-reason-lost",
    file: "lib/observability/observer.ts",
    search: '"no-reply-address": "no-reply-coordinates",',
    replace: '"no-reply-address": "no-reply-address",',
    tests: [METRICS],
  },
  {
    id: "reconnect-counted-at-start",
    file: "lib/observability/observer.ts",
    search: 'state === "consuming" && connects++ > 0',
    replace: 'state === "consuming" && connects++ >= 0',
    tests: [METRICS],
  },
  drop("sigint-ignored", "main.ts", 'Deno.addSignalListener("SIGINT", handler);', [DRAIN]),
  {
    id: "timeout-order-unchecked",
    file: "lib/app/serve.ts",
    search: "if (options.handlerTimeoutMs >= options.vcdTimeoutMs) {",
    replace: "if (options.handlerTimeoutMs > options.vcdTimeoutMs) {",
    tests: [DEFAULTS],
  },
  // --- our own: lib/ -----------------------------------------------------------------------------
  {
    id: "readyz-always-ready",
    file: "lib/observability/http.ts",
    search: "return options.ready()\n",
    replace: "return true\n",
    tests: [METRICS],
  },
  {
    id: "deadline-fires-late",
    file: "lib/core/deadlines.ts",
    search: "if (d.at <= now) {",
    replace: "if (d.at <= now - 1000) {",
    tests: ["tests/deadlines_test.ts", REPLIES],
  },
  drop(
    "deadline-sweeper-never-stops",
    "lib/core/deadlines.ts",
    "if (this.#queue.empty) this.#halt();",
    [
      "tests/deadlines_test.ts",
      "tests/reliability_test.ts",
    ],
  ),
  {
    id: "envelope-limit-off-by-one",
    file: "lib/core/envelope.ts",
    search: "bytes.byteLength > limits.maxEnvelopeBytes",
    replace: "bytes.byteLength >= limits.maxEnvelopeBytes",
    tests: ["tests/envelope_test.ts", DEFAULTS],
  },
  drop("router-trailing-slash", "lib/core/router.ts", 'if (n > 1 && parts[n] === "") n--;', [
    "tests/router_test.ts",
  ]),
  {
    id: "notification-false-header",
    file: "lib/core/notification_fields.ts",
    search: 'return s === "true" ? true : s === "false" ? false : undefined;',
    replace: 'return s === "true" ? true : undefined;',
    tests: ["tests/notification_test.ts"],
  },
  drop(
    "binding-key-no-tail",
    "lib/core/notification_types.ts",
    'if (segments.at(-1) !== "**") words.push("#");',
    [
      "tests/notification_test.ts",
      "tests/events_test.ts",
    ],
  ),
  {
    id: "event-retry-no-backoff",
    file: "lib/core/events.ts",
    search: "if (!last) await this.#options.sleep(backoffDelay(n, EVENT_RETRY));",
    replace: "if (!last) await this.#options.sleep(100);",
    tests: ["tests/events_test.ts"],
  },
  // --- extension configuration (issue 15, item 4) ------------------------------------------------
  {
    id: "config-file-wins-over-env",
    file: "lib/core/config_schema.ts",
    search: "if (raw !== undefined) {",
    replace: "if (raw !== undefined && !Object.hasOwn(fromFile, key)) {",
    tests: ["tests/ext_config_test.ts"],
  },
  {
    id: "config-secret-in-error-reply",
    file: "lib/core/dispatch.ts",
    search: "const safe = forCaller(e, req, app.secrets);",
    replace: "const safe = forCaller(e, req);",
    tests: ["tests/ext_config_test.ts"],
  },
  {
    id: "config-secret-logged",
    file: "lib/core/config_schema.ts",
    search: 'out[key] = schema?.[key]?.secret ? "[redacted]" : v;',
    replace: "out[key] = v;",
    tests: ["tests/ext_config_test.ts"],
  },
  {
    id: "histogram-bound-in-next-bucket",
    file: "lib/observability/prometheus_families.ts",
    search: "while (i < b.length && v > (b[i] as number)) i++;",
    replace: "while (i < b.length && v >= (b[i] as number)) i++;",
    tests: ["tests/metrics_test.ts"],
  },
  {
    id: "histogram-not-cumulative",
    file: "lib/observability/prometheus_families.ts",
    search: "cumulative += s.counts[i] ?? 0;",
    replace: "cumulative = s.counts[i] ?? 0;",
    tests: ["tests/metrics_test.ts"],
  },
  {
    id: "err-serialized-twice",
    file: "lib/core/logger.ts",
    search: 'typeof (value as { message?: unknown }).message === "string");',
    replace: "false);",
    tests: ["tests/error_log_test.ts"],
  },
  {
    id: "log-messages-not-scrubbed",
    file: "lib/observability/log.ts",
    search: 'const scrubbed = args.map((a) => (typeof a === "string" ? scrub(a) : a));',
    replace: "const scrubbed = args;",
    tests: ["tests/log_test.ts"],
  },
  drop(
    "log-authorization-not-redacted",
    "lib/observability/log.ts",
    '  "headers.Authorization",\n',
    [
      "tests/log_test.ts",
    ],
  ),
  {
    id: "registrar-priority-dropped",
    file: "lib/vcd/registrar.ts",
    search: "...(options.priority === undefined ? {} : { priority: options.priority }),",
    replace: "...{},",
    tests: ["tests/registrar_test.ts"],
  },
  {
    id: "right-name-missing-ignored",
    file: "lib/core/rights.ts",
    search: "const id = ids.get(name);",
    replace: "const id = ids.get(name) ?? declared;",
    tests: ["tests/rights_test.ts"],
  },
  // --- serve on MQTT (lib/app/serve.ts, the observer) -------------------------------------------
  {
    id: "mqtt-requests-labelled-amqp",
    file: "lib/observability/observer.ts",
    search: '...replyObserver<A>(metrics, log, sink, "mqtt"),',
    replace: '...replyObserver<A>(metrics, log, sink, "amqp"),',
    tests: [MQTT],
  },
  {
    id: "transport-mqtt-connects-amqp",
    file: "lib/app/serve.ts",
    search: 'const amqp = options.transport !== "mqtt";',
    replace: "const amqp = true;",
    tests: [MQTT],
  },
  {
    id: "transports-stop-without-drain",
    file: "lib/app/serve.ts",
    search: "await Promise.all(transports.map((t) => t.stop(drainMs)));",
    replace: "await Promise.all(transports.map((t) => t.stop(0)));",
    tests: [MQTT, DRAIN],
  },
  // --- a RabbitMQ cluster (issue 14) -------------------------------------------------------------
  {
    id: "default-heartbeat-60",
    file: "lib/app/flags.ts",
    search: '.argParser(positiveInt("--heartbeat", 0)).default(5),',
    replace: '.argParser(positiveInt("--heartbeat", 0)).default(60),',
    tests: [DEFAULTS],
  },
  {
    id: "default-connect-timeout-30s",
    file: "lib/app/flags.ts",
    search: '.argParser(positiveInt("--connect-timeout-ms")).default(5_000),',
    replace: '.argParser(positiveInt("--connect-timeout-ms")).default(30_000),',
    tests: [DEFAULTS],
  },
  {
    id: "failover-same-url-again",
    file: "lib/transport/amqp/failover.ts",
    search: "this.#o.onLost?.();\n      this.#schedule(nextIndex(index, this.#o.urls.length));",
    replace: "this.#o.onLost?.();\n      this.#schedule(index);",
    tests: [FAILOVER, CLUSTER],
  },
  {
    id: "heartbeat-not-asked",
    file: "lib/transport/amqp/failover.ts",
    search: "amqp.connect(withHeartbeat(url, o.heartbeatSec), {",
    replace: "amqp.connect(url, {",
    tests: [FAILOVER],
  },
  drop(
    "connect-timeout-dropped",
    "lib/transport/amqp/failover.ts",
    "timeout: o.connectTimeoutMs,",
    [FAILOVER],
  ),
  {
    id: "no-message-ttl",
    file: "lib/app/config.ts",
    search: '"x-message-ttl": options.vcdTimeoutMs };',
    replace: "};",
    tests: [REPLIES, "tests/stale_requests_test.ts"],
  },
  {
    id: "first-receipts-ignored",
    file: "lib/core/service.ts",
    search:
      "const first = this.#receipts.note(request.id, request.security, delivery.content.length, at);",
    replace: "const first = at;",
    tests: ["tests/stale_core_test.ts"],
  },
];
