/**
 * @module vcdext's only entrypoint: parses flags once, wires the pure core to the AMQP adapter,
 * owns the process (signals, exit codes, where logs go).
 *
 * Logs are JSON lines on stderr; stdout is kept for command output (`request`, `demo`).
 */

import { Command, Option } from "@commander-js/extra-typings";
import process from "node:process";
import {
  type AmqpTls,
  BrokerAdmin,
  CellClient,
  type ConsumerSpec,
  safeUrl,
  startService,
} from "./lib/transport/amqp/mod.ts";
import {
  buildRequest,
  type CellRequest,
  decodeReply,
  demoRequests,
  describeExchange,
  SAMPLE,
} from "./lib/sim/cell.ts";
import { compile } from "./lib/core/dispatch.ts";
import type { Extension } from "./lib/core/extension.ts";
import {
  accessLine,
  createLogger,
  errorFields,
  LOG_LEVELS,
  type Logger,
  type LogLevel,
  type LogSink,
} from "./lib/observability/log.ts";
import { scrub } from "./lib/core/redact.ts";
import { eventProcessor } from "./lib/core/events.ts";
import { describeExtensions, inventoryJson } from "./lib/app/inventory.ts";
import { renderCheckTable, runCheck } from "./lib/app/check.ts";
import { renderServiceDocument } from "./lib/core/register.ts";
import { describeResult, register } from "./lib/vcd/registrar.ts";
import { startHttp } from "./lib/observability/http.ts";
import { type VcdextMetrics, vcdextMetrics } from "./lib/observability/metrics.ts";
import { FAKE_USER, startFakeVcd } from "./lib/sim/fake_vcd.ts";
import { jsonNotificationExample } from "./lib/sim/notifications.ts";
import { endpoint } from "./lib/core/service.ts";
import type { RejectCode } from "./lib/core/seam.ts";
import { systemClock } from "./lib/transport/clock.ts";
import { blockingTaskGateway, VcdClient } from "./lib/vcd/client.ts";
import { extensions } from "./handlers/mod.ts";

const VERSION = "0.1.0";

/** The rejected-messages metric's `reason` label per reject code (labels predate the codes). */
const REJECT_LABEL: Readonly<Record<RejectCode, string>> = {
  "no-reply-address": "no-reply-coordinates",
  undecodable: "undecodable",
  "handler-failed": "handler-failed",
};
const encoder = new TextEncoder();

/**
 * Log sink: whole lines to stderr, gathered per event-loop turn (or 64 KiB) into one write, so
 * an access line per request costs no syscall of its own. `flush()` runs before every exit.
 */
const stderrSink = (() => {
  let lines: string[] = [];
  let size = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (lines.length === 0) return;
    const bytes = encoder.encode(lines.join(""));
    lines = [];
    size = 0;
    let off = 0;
    while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
  };
  return {
    write(line: string): void {
      lines.push(line);
      size += line.length;
      if (size >= 65_536) flush();
      else if (!scheduled) {
        scheduled = true;
        setTimeout(flush, 0);
      }
    },
    flush,
  };
})();

/** Flushes the logs, then exits. */
function exit(code: number): never {
  stderrSink.flush();
  Deno.exit(code);
}

class UsageError extends Error {}

function positiveInt(name: string, min = 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new UsageError(
        `${name} must be a whole number of at least ${min}, got ${JSON.stringify(value)}`,
      );
    }
    return n;
  };
}

function amqpUrlOption() {
  return new Option(
    "--amqp-url <url>",
    "broker URL (amqp:// or amqps://); keep the password in the env var",
  )
    .env("VCDEXT_AMQP_URL")
    .default("amqp://guest:guest@127.0.0.1:5672");
}

function exchangeOption() {
  return new Option(
    "--exchange <name>",
    "direct exchange vCD publishes requests to (declared durable)",
  )
    .default("vcdext");
}

function logLevelOption() {
  return new Option("--log-level <level>", "log level").choices(LOG_LEVELS).default(
    "info" as LogLevel,
  );
}

/** The broker TLS options, shared by `serve` and `check`. */
const amqpTlsOption = {
  ca: () =>
    new Option("--amqp-ca <file>", "PEM CA bundle that signed the broker's certificate (amqps://)"),
  cert: () =>
    new Option("--amqp-cert <file>", "PEM client certificate, for brokers that require one"),
  key: () => new Option("--amqp-key <file>", "PEM key of --amqp-cert"),
  insecure: () =>
    new Option(
      "--amqp-insecure",
      "do not verify the broker's certificate (explicit; for labs only)",
    ),
};

/** The vCD REST API options, shared by `serve` and `register`. */
const vcdOption = {
  url: () => new Option("--vcd-url <url>", "cell URL, e.g. https://vcd.example.com"),
  user: () =>
    new Option(
      "--vcd-user <user>",
      "system administrator, e.g. administrator@System; password in VCDEXT_VCD_PASSWORD",
    ).env("VCDEXT_VCD_USER"),
  token: () =>
    new Option(
      "--vcd-token <token>",
      "a session/bearer token instead of user and password (prefer the env var)",
    ).env("VCDEXT_VCD_TOKEN"),
  ca: () => new Option("--vcd-ca <file>", "PEM CA bundle that signed the cell's certificate"),
  insecure: () =>
    new Option("--vcd-insecure", "do not verify the cell's certificate (explicit; for labs only)"),
  allowHttp: () =>
    new Option(
      "--vcd-allow-http",
      "accept an http:// --vcd-url, which sends the password and tokens in clear (labs only)",
    ),
  apiVersion: () =>
    new Option("--vcd-api-version <v>", "vCloud API version to ask for").default("36.0"),
};

/** Picks the extensions to serve; `--queue` may rename the queue only when one is served. */
function selectExtensions(names: readonly string[] | undefined): Extension[] {
  if (!names || names.length === 0) return [...extensions];
  return names.map((name) => {
    const ext = extensions.find((e) => e.name === name);
    if (!ext) {
      throw new UsageError(
        `no extension named ${name}; loaded: ${extensions.map((e) => e.name).join(", ")}`,
      );
    }
    return ext;
  });
}

interface ServeOptions {
  amqpUrl: string;
  exchange: string;
  queue?: string | undefined;
  extension?: string[] | undefined;
  prefetch: number;
  drainMs: number;
  maxEnvelopeBytes: number;
  maxBodyBytes: number;
  handlerTimeoutMs: number;
  vcdTimeoutMs: number;
  maxInFlight: number;
  deadLetterExchange?: string | undefined;
  queueType: "classic" | "quorum";
  deliveryLimit?: number | undefined;
  notificationsExchange: string;
  legacyNotificationsExchange?: string | undefined;
  notificationsQueue: string;
  vcdUrl?: string | undefined;
  vcdUser?: string | undefined;
  vcdToken?: string | undefined;
  /**
   * Not a flag (passwords never come from the command line): the demo hands its fake vCD's
   * random password over here; `serve` reads `VCDEXT_VCD_PASSWORD`.
   */
  vcdPassword?: string | undefined;
  vcdCa?: string | undefined;
  vcdInsecure?: boolean | undefined;
  vcdAllowHttp?: boolean | undefined;
  vcdApiVersion: string;
  amqpCa?: string | undefined;
  amqpCert?: string | undefined;
  amqpKey?: string | undefined;
  amqpInsecure?: boolean | undefined;
  httpPort?: number | undefined;
  httpHost?: string | undefined;
}

/** TLS settings for the broker from the file flags (read here: lib/ reads no files). */
async function amqpTls(
  options: Pick<ServeOptions, "amqpCa" | "amqpCert" | "amqpKey" | "amqpInsecure">,
): Promise<AmqpTls | undefined> {
  const read = (f: string | undefined) => (f === undefined ? undefined : Deno.readTextFile(f));
  if (!options.amqpCa && !options.amqpCert && !options.amqpKey && !options.amqpInsecure) {
    return undefined;
  }
  if (!!options.amqpCert !== !!options.amqpKey) {
    throw new UsageError("--amqp-cert and --amqp-key go together");
  }
  const [ca, cert, key] = await Promise.all([
    read(options.amqpCa),
    read(options.amqpCert),
    read(options.amqpKey),
  ]);
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(options.amqpInsecure ? { insecure: true } : {}),
  };
}

/** The `x-…` arguments the queue is declared with. */
function queueArguments(
  options: Pick<ServeOptions, "deadLetterExchange" | "queueType" | "deliveryLimit">,
): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  if (options.deadLetterExchange) args["x-dead-letter-exchange"] = options.deadLetterExchange;
  if (options.queueType === "quorum") {
    args["x-queue-type"] = "quorum";
    if (options.deliveryLimit !== undefined) args["x-delivery-limit"] = options.deliveryLimit;
  } else if (options.deliveryLimit !== undefined) {
    throw new UsageError(
      "--delivery-limit needs --queue-type quorum (classic queues do not count deliveries)",
    );
  }
  return args;
}

/** The vCD REST client from flags and env (password and token never from the command line). */
async function vcdClientFrom(
  options: Pick<
    ServeOptions,
    | "vcdUrl"
    | "vcdUser"
    | "vcdToken"
    | "vcdPassword"
    | "vcdCa"
    | "vcdInsecure"
    | "vcdAllowHttp"
    | "vcdApiVersion"
  >,
  log: Logger,
): Promise<VcdClient | undefined> {
  if (!options.vcdUrl) return undefined;
  if (/^http:/i.test(options.vcdUrl) && !options.vcdAllowHttp) {
    throw new UsageError(
      "--vcd-url is http://, which would send the vCD password and session tokens in clear; " +
        "use https://, or pass --vcd-allow-http to accept that (labs only)",
    );
  }
  const password = options.vcdPassword ?? Deno.env.get("VCDEXT_VCD_PASSWORD");
  if (!options.vcdToken && (!options.vcdUser || !password)) {
    throw new UsageError(
      "--vcd-url needs --vcd-user with VCDEXT_VCD_PASSWORD in the environment, or VCDEXT_VCD_TOKEN",
    );
  }
  return new VcdClient({
    baseUrl: options.vcdUrl,
    apiVersion: options.vcdApiVersion,
    ...(options.vcdToken ? { token: options.vcdToken } : {}),
    ...(options.vcdUser && password ? { credentials: { user: options.vcdUser, password } } : {}),
    ...(options.vcdCa ? { caCertPem: await Deno.readTextFile(options.vcdCa) } : {}),
    ...(options.vcdInsecure ? { insecure: true } : {}),
    ...(options.vcdAllowHttp ? { allowHttp: true } : {}),
    log: log.child({ component: "vcd" }),
  });
}

function consumersFor(
  options: ServeOptions,
  log: Logger,
  vcd: VcdClient | undefined,
  metrics: VcdextMetrics,
): ConsumerSpec[] {
  const selected = selectExtensions(options.extension);
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
      bindings: [{
        exchange: options.exchange,
        type: "direct",
        keys: [extension.routingKey],
        declare: true,
      }],
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

/** Starts the service (and the HTTP listener when asked); resolves once consuming. */
async function serve(
  options: ServeOptions,
  log: Logger,
  sink: LogSink,
  extra: Partial<ConsumerSpec> = {},
) {
  const metrics = vcdextMetrics();
  const vcd = await vcdClientFrom(options, log);
  const consumers = consumersFor(options, log, vcd, metrics).map((c) => ({ ...c, ...extra }));
  const tls = await amqpTls(options);
  let connects = 0;
  const accessLog = log.isLevelEnabled("info");
  const service = await startService({
    url: options.amqpUrl,
    ...(tls ? { tls } : {}),
    prefetch: options.prefetch,
    consumers,
    log,
    onReply(decision, disposition, ms) {
      const { extension, outcome } = decision;
      const status = outcome.reply.status;
      metrics.requests.inc({ extension, route: outcome.route ?? "unmatched", status });
      metrics.requestDuration.observe({ extension }, ms / 1000);
      if (disposition !== "acked") metrics.repliesFailed.inc({ extension, reason: disposition });
      // The access line (info); a handler failure behind a 500 is logged at error level always.
      if (!accessLog && outcome.error === undefined) return;
      const fields = {
        extension,
        correlationId: decision.to.correlationId,
        requestId: decision.requestId,
        method: decision.method,
        route: outcome.route,
        status,
        ...(decision.shortcut ? { shortcut: decision.shortcut } : {}),
        disposition,
        ms: Math.round(ms * 100) / 100,
      };
      if (outcome.error !== undefined) {
        log.error({ ...fields, err: errorFields(outcome.error) }, "request");
      } else if (accessLog) sink.write(accessLine(fields, Date.now()));
    },
    onReject: (consumer, code) =>
      metrics.messagesRejected.inc({ extension: consumer, reason: REJECT_LABEL[code] }),
    onState(state) {
      if (state === "consuming" && connects++ > 0) metrics.reconnects.inc();
    },
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

/**
 * Every setting `serve` runs with, defaults filled in, for one line at start-up: what an operator
 * (and the entrypoint tests) can read back. Logged before connecting, so it is there when the
 * broker refuses too. No secrets: URL passwords are scrubbed and a vCD token shows only as set.
 */
function settingsForLog(options: ServeOptions & { logLevel: LogLevel }): Record<string, unknown> {
  const { amqpUrl, vcdToken, vcdUrl, vcdPassword: _password, ...rest } = options;
  return {
    amqpUrl: safeUrl(amqpUrl),
    ...rest,
    ...(vcdUrl === undefined ? {} : { vcdUrl: safeUrl(vcdUrl) }),
    ...(vcdToken === undefined ? {} : { vcdToken: "[set]" }),
  };
}

function onSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    stop().then(() => exit(0), () => exit(1));
  };
  Deno.addSignalListener("SIGTERM", handler);
  Deno.addSignalListener("SIGINT", handler);
}

function parseHeader(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const colon = value.indexOf(":");
  if (colon <= 0) {
    throw new UsageError(`--header takes "Name: value", got ${JSON.stringify(value)}`);
  }
  return { ...previous, [value.slice(0, colon).trim()]: value.slice(colon + 1).trim() };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The routing key of the extension whose routes match the path, or of the only one loaded. */
function routingKeyFor(path: string): string {
  const pathOnly = path.split("?")[0] ?? path;
  // Any method will do: a path that exists answers "found" or "method", never "none".
  const owner = extensions.find((ext) =>
    compile(ext).router.match("GET", pathOnly).kind !== "none"
  );
  if (owner) return owner.routingKey;
  if (extensions.length === 1) return extensions[0]!.routingKey;
  throw new UsageError(`no loaded extension has a route for ${path}; pass --routing-key`);
}

const program = new Command()
  .name("vcdext")
  .version(VERSION)
  .description(
    "Hosts VMware Cloud Director API extensions on RabbitMQ. A vCD cell publishes each matching " +
      "REST call to the extension's queue; vcdext routes it to a handler module, renders the " +
      "answer as XML or JSON per Accept, and replies to the cell.",
  )
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: false, showGlobalOptions: true, helpWidth: 100 });

program
  .command("serve", { isDefault: true })
  .description("consume the extensions' queues and answer requests until SIGTERM/SIGINT")
  .optionsGroup("Broker:")
  .addOption(amqpUrlOption())
  .addOption(exchangeOption())
  .addOption(
    new Option(
      "--queue <name>",
      "queue name (default: the extension's routing key); one extension only",
    ),
  )
  .addOption(
    new Option("--prefetch <n>", "unacked deliveries per instance").argParser(
      positiveInt("--prefetch"),
    ).default(128),
  )
  .addOption(
    new Option(
      "--dead-letter-exchange <name>",
      "where unanswerable messages go (queue argument x-dead-letter-exchange; default: none, they are dropped)",
    ),
  )
  .addOption(
    new Option("--queue-type <type>", "classic, or quorum for replicated queues on a cluster")
      .choices(["classic", "quorum"] as const).default("classic" as const),
  )
  .addOption(
    new Option(
      "--delivery-limit <n>",
      "quorum only: deliveries before a message that keeps failing is dead-lettered",
    ).argParser(positiveInt("--delivery-limit")),
  )
  .addOption(amqpTlsOption.ca())
  .addOption(amqpTlsOption.cert())
  .addOption(amqpTlsOption.key())
  .addOption(amqpTlsOption.insecure())
  .optionsGroup("Notifications:")
  .addOption(
    new Option(
      "--notifications-exchange <name>",
      "vCD's JSON notification exchange (topic); empty to disable",
    ).default("vcd.notifications20"),
  )
  .addOption(
    new Option(
      "--legacy-notifications-exchange <name>",
      "vCD's legacy XML notification exchange (AmqpExchange setting, e.g. systemExchange); default: off",
    ),
  )
  .addOption(
    new Option(
      "--notifications-queue <name>",
      "the service's own queue for notifications (shared by its instances)",
    ).default("vcdext.notifications"),
  )
  .optionsGroup("vCD REST API (blocking tasks; without --vcd-url they are not decided):")
  .addOption(vcdOption.url())
  .addOption(vcdOption.user())
  .addOption(vcdOption.token())
  .addOption(vcdOption.ca())
  .addOption(vcdOption.insecure())
  .addOption(vcdOption.allowHttp())
  .addOption(vcdOption.apiVersion())
  .optionsGroup("Extensions:")
  .addOption(
    new Option("--extension <name...>", "serve only these extensions (default: all loaded)"),
  )
  .optionsGroup("Limits:")
  .addOption(
    new Option("--handler-timeout-ms <ms>", "a handler still running after this gets a 504 reply")
      .argParser(positiveInt("--handler-timeout-ms")).default(8000),
  )
  .addOption(
    new Option(
      "--vcd-timeout-ms <ms>",
      "vCD's extensibility.timeout; redeliveries older than this are answered 504 unhandled",
    ).argParser(positiveInt("--vcd-timeout-ms")).default(10_000),
  )
  .addOption(
    new Option(
      "--max-in-flight <n>",
      "handlers running at once before new requests get 429 at once",
    ).argParser(positiveInt("--max-in-flight")).default(100),
  )
  .addOption(
    new Option("--drain-ms <ms>", "on shutdown, how long in-flight requests may finish").argParser(
      positiveInt("--drain-ms", 0),
    ).default(5000),
  )
  .addOption(
    new Option("--max-envelope-bytes <n>", "largest request message accepted (413 beyond)")
      .argParser(positiveInt("--max-envelope-bytes")).default(1_048_576),
  )
  .addOption(
    new Option("--max-body-bytes <n>", "largest decoded request entity accepted (413 beyond)")
      .argParser(positiveInt("--max-body-bytes")).default(524_288),
  )
  .optionsGroup("Observability:")
  .addOption(
    new Option(
      "--http-port <port>",
      "serve /healthz, /readyz and /metrics on this port (default: off)",
    ).argParser(positiveInt("--http-port", 0)),
  )
  .addOption(new Option("--http-host <host>", "address of the HTTP listener").default("127.0.0.1"))
  .optionsGroup("Logging:")
  .addOption(logLevelOption())
  .action(async (options) => {
    const log = createLogger(options.logLevel, stderrSink);
    log.info({ settings: settingsForLog(options) }, "serve settings");
    const service = await serve(options, log, stderrSink);
    onSignals(() => service.stop(options.drainMs));
  });

program
  .command("request")
  .description("play a vCD cell: publish one request envelope and print the reply")
  .argument("<method>", "HTTP method, e.g. GET")
  .argument("<path>", "request path with optional ?query, e.g. /api/org/<uuid>/ticketing")
  .optionsGroup("Broker:")
  .addOption(amqpUrlOption())
  .addOption(exchangeOption())
  .addOption(
    new Option(
      "--routing-key <key>",
      "routing key (default: the extension whose routes match the path)",
    ),
  )
  .optionsGroup("Request:")
  .addOption(
    new Option("--accept <type>", "Accept header").default("application/*+json;version=36.0"),
  )
  .addOption(
    new Option("--content-type <type>", "Content-Type of the body").default("application/json"),
  )
  .addOption(new Option("-d, --data <text>", "request body"))
  .addOption(
    new Option("--data-file <file>", "read the request body from a file").conflicts("data"),
  )
  .addOption(
    new Option("-H, --header <header>", 'extra header "Name: value" (repeatable)').argParser(
      parseHeader,
    ),
  )
  .addOption(new Option("--org <urn>", "caller's org in the security context").default(SAMPLE.org))
  .addOption(new Option("--user <urn>", "caller in the security context").default(SAMPLE.user))
  .addOption(
    new Option("--right <urn>", "a right the caller holds (repeatable)").argParser(collect),
  )
  .addOption(
    new Option("--timeout <ms>", "how long to wait for the reply").argParser(
      positiveInt("--timeout"),
    ).default(10_000),
  )
  .action(async (method, path, options) => {
    const body = options.dataFile !== undefined
      ? await Deno.readFile(options.dataFile)
      : options.data;
    const headers: Record<string, string> = { Accept: options.accept, ...(options.header ?? {}) };
    if (body !== undefined) headers["Content-Type"] = options.contentType;
    const request: CellRequest = {
      method,
      path,
      headers,
      ...(body === undefined ? {} : { body }),
      org: options.org,
      user: options.user,
      rights: options.right ?? [],
    };
    const cell = await CellClient.connect(options.amqpUrl);
    try {
      const started = performance.now();
      const raw = await cell.send(
        options.exchange,
        options.routingKey ?? routingKeyFor(path),
        buildRequest(request),
        {
          timeoutMs: options.timeout,
        },
      );
      console.log(describeExchange(request, decodeReply(raw), performance.now() - started));
    } finally {
      await cell.close();
    }
  });

program
  .command("routes")
  .description(
    "list the loaded extensions: routes, media types, derived vCD URL filters, subscriptions, blocking-task rules",
  )
  .addOption(exchangeOption())
  .addOption(
    new Option("--notifications-exchange <name>", "as given to serve").default(
      "vcd.notifications20",
    ),
  )
  .addOption(
    new Option("--notifications-queue <name>", "as given to serve").default("vcdext.notifications"),
  )
  .addOption(new Option("--json", "print JSON instead of text"))
  .action((options) => {
    const inventory = {
      exchange: options.exchange,
      notificationsExchange: options.notificationsExchange,
      notificationsQueue: options.notificationsQueue,
    };
    console.log(
      options.json
        ? JSON.stringify(inventoryJson(extensions, inventory), null, 2)
        : describeExtensions(extensions, inventory),
    );
  });

program
  .command("register")
  .description(
    "register the API extensions in vCD (vmext:Service with ApiFilters derived from the route " +
      "templates): --print writes the documents; with --vcd-url creates or updates them",
  )
  .addOption(exchangeOption())
  .addOption(
    new Option("--extension <name...>", "only these extensions (default: all with routes)"),
  )
  .addOption(
    new Option("--routing-key <key>", "routing key (default: the extension's); one extension only"),
  )
  .addOption(
    new Option("--priority <n>", "priority among services matching the same path").argParser(
      positiveInt("--priority", 0),
    ).default(50),
  )
  .addOption(
    new Option("--authorization-enabled", "let vCD check the service's rights before forwarding"),
  )
  .addOption(new Option("--print", "write the registration documents to stdout; change nothing"))
  .addOption(
    new Option("--disable", "set Enabled=false on the registered services").conflicts([
      "unregister",
      "print",
    ]),
  )
  .addOption(
    new Option("--unregister", "disable, then delete the registered services").conflicts(["print"]),
  )
  .optionsGroup("vCD REST API:")
  .addOption(vcdOption.url())
  .addOption(vcdOption.user())
  .addOption(vcdOption.token())
  .addOption(vcdOption.ca())
  .addOption(vcdOption.insecure())
  .addOption(vcdOption.allowHttp())
  .addOption(vcdOption.apiVersion())
  .action(async (options) => {
    const selected = selectExtensions(options.extension).filter((e) => e.routes.length > 0);
    if (options.routingKey !== undefined && selected.length !== 1) {
      throw new UsageError("--routing-key applies to one extension; add --extension NAME");
    }
    const common = {
      exchange: options.exchange,
      priority: options.priority,
      authorizationEnabled: options.authorizationEnabled === true,
      ...(options.routingKey === undefined ? {} : { routingKey: options.routingKey }),
    };
    if (options.print) {
      for (const ext of selected) console.log(renderServiceDocument(ext, common));
      return;
    }
    if (!options.vcdUrl) throw new UsageError("pass --print, or --vcd-url to register");
    const log = createLogger("warn", stderrSink);
    const vcd = await vcdClientFrom(options, log);
    try {
      const action = options.unregister ? "unregister" : options.disable ? "disable" : "register";
      for (const ext of selected) {
        console.log(describeResult(await register(vcd!, ext, { ...common, action })));
      }
    } finally {
      vcd?.close();
    }
  });

program
  .command("check")
  .description(
    "check the broker side: connection and credentials, exchange type, queue declaration and " +
      "binding, and a full round trip through the broker (an in-process dispatcher, or the " +
      "running instances with --live); prints a table, exits 1 on any failure",
  )
  .optionsGroup("Broker:")
  .addOption(amqpUrlOption())
  .addOption(exchangeOption())
  .addOption(amqpTlsOption.ca())
  .addOption(amqpTlsOption.cert())
  .addOption(amqpTlsOption.key())
  .addOption(amqpTlsOption.insecure())
  .addOption(new Option("--dead-letter-exchange <name>", "as given to serve"))
  .addOption(
    new Option("--queue-type <type>", "as given to serve").choices(["classic", "quorum"] as const)
      .default("classic" as const),
  )
  .addOption(
    new Option("--delivery-limit <n>", "as given to serve").argParser(
      positiveInt("--delivery-limit"),
    ),
  )
  .optionsGroup("Check:")
  .addOption(
    new Option("--extension <name...>", "check only these extensions (default: all with routes)"),
  )
  .addOption(new Option("--queue <name>", "queue name, as given to serve; one extension only"))
  .addOption(
    new Option("--live", "round trip through the running instances on the real routing key"),
  )
  .addOption(
    new Option("--timeout <ms>", "how long to wait for each reply").argParser(
      positiveInt("--timeout"),
    ).default(5000),
  )
  .action(async (options) => {
    const tls = await amqpTls(options);
    const args = queueArguments(options);
    const extensions = selectExtensions(options.extension).filter((e) => e.routes.length > 0);
    if (options.queue !== undefined && extensions.length !== 1) {
      throw new UsageError("--queue names the queue of one extension; add --extension NAME");
    }
    const rows = await runCheck(options, { extensions, queueArguments: args, tls });
    console.log(renderCheckTable(rows));
    if (rows.some((r) => !r.ok)) exit(1);
  });

program
  .command("demo")
  .description(
    "start the service and a fake vCD REST API, play a cell: requests in XML and JSON, a " +
      "notification and a blocking task; print each exchange, stop",
  )
  .addOption(amqpUrlOption())
  .action(async (options) => {
    // Names of this run only, all deleted at the end: two demos on one broker do not meet, and
    // the demo leaves nothing behind on it.
    const id = crypto.randomUUID().slice(0, 8);
    const exchange = `vcdext.demo.${id}`;
    const queue = `${exchange}.q`;
    const notifications = `${exchange}.notifications`;
    // Warnings go to stderr; the audit line the vApp policy logs is shown as part of the demo.
    const audit: string[] = [];
    const demoSink = {
      write(line: string) {
        if (line.includes('"audit":"vapp"')) audit.push(line.trim());
        else if (/"level":"(warn|error)"/.test(line)) stderrSink.write(line);
      },
    };
    const log = createLogger("info", demoSink);
    // A password made up per run and handed to both sides: nothing secret-looking is built
    // into the binary, and the service logs in as it would to a real cell.
    const vcd = await startFakeVcd({ password: crypto.randomUUID() });
    const cell = await CellClient.connect(options.amqpUrl);
    await cell.declareNotificationExchange(notifications); // vCD creates it, not vcdext
    const service = await serve(
      {
        amqpUrl: options.amqpUrl,
        exchange,
        queue,
        extension: ["gcp-ticketing", "vapp-policy"],
        prefetch: 16,
        drainMs: 2000,
        maxEnvelopeBytes: 1_048_576,
        maxBodyBytes: 524_288,
        handlerTimeoutMs: 8000,
        vcdTimeoutMs: 10_000,
        maxInFlight: 100,
        queueType: "classic",
        notificationsExchange: notifications,
        notificationsQueue: `${queue}.notifications`,
        vcdUrl: vcd.url,
        vcdUser: FAKE_USER,
        vcdPassword: vcd.password,
        // The fake listens on loopback over plain HTTP.
        vcdAllowHttp: true,
        vcdApiVersion: "36.0",
      },
      log,
      demoSink,
      { queueArguments: { "x-expires": 60_000 } },
    );
    try {
      console.log(`vcdext demo: gcp-ticketing on exchange ${exchange}, queue ${queue}\n`);
      for (const step of demoRequests()) {
        const started = performance.now();
        const raw = await cell.send(exchange, "gcp-ticketing", buildRequest(step), {
          timeoutMs: 5000,
        });
        console.log(describeExchange(step, decodeReply(raw), performance.now() - started) + "\n");
      }

      console.log(
        `vapp-policy on ${notifications}, queue ${queue}.notifications, vCD at ${vcd.url}\n`,
      );
      const vappCreated = jsonNotificationExample({
        eventId: `demo-${id}-1`,
        type: "com/vmware/vcloud/event/vapp/create",
        entity: "urn:vcloud:vapp:3f2e0000-0000-4000-8000-000000000001",
        task: undefined,
        taskOwner: undefined,
        taskName: undefined,
      });
      await cell.publishNotification(notifications, vappCreated);
      console.log(`→ notification ${vappCreated.routingKey}`);
      await waitUntil(() => audit.length > 0, 5000);
      console.log(`← audit line: ${audit[0]}\n`);

      for (const [task, name] of [["bt-1", "prod-billing-api"], ["bt-2", "My Test vApp"]]) {
        vcd.addBlockingTask(task!, {
          operation: "vdcComposeVapp",
          target: { name: name!, href: `${vcd.url}/api/vApp/vapp-${task}` },
        });
        const blocked = jsonNotificationExample({
          eventId: `demo-${id}-${task}`,
          entity: `urn:vcloud:blockingTask:${task}`,
        });
        await cell.publishNotification(notifications, blocked);
        console.log(`→ notification ${blocked.routingKey}  (vApp "${name}" is being composed)`);
        await waitUntil(() => vcd.taskActions.some((a) => a.id === task), 5000);
        const action = vcd.taskActions.find((a) => a.id === task)!;
        console.log(
          `← vCD received POST /api/admin/extension/blockingTask/${task}/action/${action.action}: ` +
            `"${action.message}"\n`,
        );
      }
      console.log("demo done: every exchange above went through the broker and back.");
    } finally {
      await cell.close();
      await service.stop(2000);
      await vcd.close();
      const admin = await BrokerAdmin.connect(options.amqpUrl);
      await admin.delete({
        queues: [queue, `${queue}.notifications`],
        exchanges: [exchange, notifications],
      });
      await admin.close();
    }
  });

/** Polls `predicate` every 20 ms; throws after `ms`. */
async function waitUntil(predicate: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`the demo waited ${ms} ms in vain`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // Connection errors come from lib/transport/amqp/amqp.ts with the broker URL's password already left out.
  const message = scrub(e instanceof Error ? e.message : String(e));
  stderrSink.flush();
  console.error(`vcdext: ${message}`);
  exit(e instanceof UsageError ? 2 : 1);
}
