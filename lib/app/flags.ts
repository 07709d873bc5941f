/**
 * @module The command line's surface: each command's flags, defaults, environment variables and
 * help text, declared on the program `main.ts` builds and parses; `main.ts` attaches the
 * actions. Why commander is imported here and not only in `main.ts`: the declarations are most
 * of the CLI's text (one `serve` flag per setting) and would keep `main.ts` far from "the process
 * only"; they are pure declarations (no parsing, no I/O), and only this module and `main.ts`
 * know commander. The builders take the parent program, so each command inherits its settings
 * (help after an error, help layout) exactly as `program.command()` gives them.
 */

import { type Command, Option, type OptionValues } from "@commander-js/extra-typings";
import {
  DEFAULT_API_VERSION,
  DEFAULT_EXCHANGE,
  DEFAULT_NOTIFICATIONS_EXCHANGE,
  DEFAULT_NOTIFICATIONS_QUEUE,
} from "../core/vcloud.ts";
import { LOG_LEVELS, type LogLevel } from "../observability/log.ts";
import { SAMPLE } from "../sim/cell.ts";
import { collectAmqpUrls, DEFAULT_AMQP_URLS, LOCAL_AMQP_URL, positiveInt } from "./config.ts";
import { collect, parseHeader } from "./request.ts";

/** `--amqp-url`, once per cluster node, from `VCDEXT_AMQP_URL` (a comma list) or the local broker. */
export function amqpUrlOption() {
  return new Option(
    "--amqp-url <url>",
    "broker URL (amqp:// or amqps://); once per cluster node, tried in order; keep the password in the env var (a comma list)",
  )
    .env("VCDEXT_AMQP_URL")
    .argParser(collectAmqpUrls)
    .default(DEFAULT_AMQP_URLS, LOCAL_AMQP_URL);
}

/** `--exchange`, the direct exchange of API requests. */
export function exchangeOption() {
  return new Option(
    "--exchange <name>",
    "direct exchange vCD publishes requests to (declared durable)",
  )
    .default(DEFAULT_EXCHANGE);
}

/** `--log-level`. */
export function logLevelOption() {
  return new Option("--log-level <level>", "log level").choices(LOG_LEVELS).default(
    "info" as LogLevel,
  );
}

/** The broker TLS options, shared by `serve` and `check`. */
export const amqpTlsOption = {
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

/**
 * The MQTT options (vCD 10.2+'s broker), shared by `serve`, `request`, `check` and `register`.
 * The token is never a flag value: env `VCDEXT_MQTT_TOKEN`, or a mode-0600 file (see
 * `mqttSettings` in config.ts for its format).
 */
export const mqttOption = {
  transport: () =>
    new Option("--transport <bus>", "amqp, mqtt (vCD 10.2+'s MQTT broker), or both at once")
      .choices(["amqp", "mqtt", "both"] as const).default("amqp" as const),
  url: () =>
    new Option(
      "--mqtt-url <url>",
      "the cells' MQTT broker: wss://<cell>/messaging/mqtt (production); ws://, mqtt://, mqtts:// for labs",
    ).env("VCDEXT_MQTT_URL"),
  tokenFile: () =>
    new Option(
      "--mqtt-token-file <file>",
      "extension tokens, mode 0600: one token, or lines 'vendor/name/version token' (default: env VCDEXT_MQTT_TOKEN)",
    ),
  ca: () =>
    new Option("--mqtt-ca <file>", "PEM CA bundle that signed the MQTT broker's certificate"),
  insecure: () =>
    new Option(
      "--mqtt-insecure",
      "do not verify the MQTT broker's certificate (explicit; for labs only)",
    ),
};

/** The vCD REST API options, shared by `serve` and `register`. */
export const vcdOption = {
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
    new Option("--vcd-api-version <v>", "vCloud API version to ask for").default(
      DEFAULT_API_VERSION,
    ),
};

/** The vCD REST API flags (`serve`, `register`). */
export function withVcdOptions<Args extends unknown[], Opts extends OptionValues>(
  command: Command<Args, Opts>,
) {
  return command
    .addOption(vcdOption.url())
    .addOption(vcdOption.user())
    .addOption(vcdOption.token())
    .addOption(vcdOption.ca())
    .addOption(vcdOption.insecure())
    .addOption(vcdOption.allowHttp())
    .addOption(vcdOption.apiVersion());
}

/** The MQTT broker flags (`serve`, `request`, `check`): URL and TLS. */
function withMqttBroker<Args extends unknown[], Opts extends OptionValues>(
  command: Command<Args, Opts>,
) {
  return command
    .addOption(mqttOption.url())
    .addOption(mqttOption.ca())
    .addOption(mqttOption.insecure());
}

/** `serve` (the default command): every flag of the service. */
export function serveCommand(program: Command) {
  const broker = program
    .command("serve", { isDefault: true })
    .description(
      "consume the extensions' queues (AMQP), or their MQTT topics (--transport mqtt), or both, " +
        "and answer requests until SIGTERM/SIGINT. Without --mqtt-ha, every instance on MQTT " +
        "gets every request: a second one would run each request twice",
    )
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
      new Option("--heartbeat <s>", "AMQP heartbeat; a silent link is dropped after 2-3 of them")
        .argParser(positiveInt("--heartbeat", 0)).default(5),
    )
    .addOption(
      new Option("--connect-timeout-ms <ms>", "give up a broker connection attempt after this")
        .argParser(positiveInt("--connect-timeout-ms")).default(5_000),
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
    .optionsGroup(
      "Transport (--transport mqtt opens no AMQP connection: no notifications, no blocking tasks):",
    )
    .addOption(mqttOption.transport())
    .optionsGroup(
      "MQTT (vCD 10.2+'s broker; token in env VCDEXT_MQTT_TOKEN or --mqtt-token-file):",
    );
  const notifications = withMqttBroker(broker)
    .addOption(mqttOption.tokenFile())
    .addOption(
      new Option(
        "--mqtt-ha",
        "one active MQTT subscriber per extension among the instances, elected through --amqp-url; the others take over within seconds",
      ),
    )
    .optionsGroup("Notifications (AMQP only):")
    .addOption(
      new Option(
        "--notifications-exchange <name>",
        "vCD's JSON notification exchange (topic); empty to disable",
      ).default(DEFAULT_NOTIFICATIONS_EXCHANGE),
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
      ).default(DEFAULT_NOTIFICATIONS_QUEUE),
    )
    .optionsGroup("vCD REST API (blocking tasks; without --vcd-url they are not decided):");
  const serve = withVcdOptions(notifications)
    .optionsGroup("Extensions:")
    .addOption(
      new Option("--extension <name...>", "serve only these extensions (default: all loaded)"),
    )
    .addOption(
      new Option(
        "--config-dir <dir>",
        "where each extension's <name>.json configuration is read (env VCDEXT_<NAME>_<KEY> wins)",
      ).default("/etc/vcdext"),
    );
  return serveLimitsAndLogging(serve);
}

/** `serve`'s limits, observability and logging flags. */
function serveLimitsAndLogging<Args extends unknown[], Opts extends OptionValues>(
  serve: Command<Args, Opts>,
) {
  return serve
    .optionsGroup("Limits:")
    .addOption(
      new Option("--handler-timeout-ms <ms>", "a handler still running after this gets a 504 reply")
        .argParser(positiveInt("--handler-timeout-ms")).default(8000),
    )
    .addOption(
      new Option(
        "--vcd-timeout-ms <ms>",
        "vCD's extensibility.timeout: the request queues' message TTL (x-message-ttl), and redeliveries older than this are answered 504 unhandled",
      ).argParser(positiveInt("--vcd-timeout-ms")).default(10_000),
    )
    .addOption(
      new Option(
        "--max-in-flight <n>",
        "handlers running at once per extension (and per bus with --transport both) before new requests get 429 at once",
      ).argParser(positiveInt("--max-in-flight")).default(100),
    )
    .addOption(
      new Option("--drain-ms <ms>", "on shutdown, how long in-flight requests may finish")
        .argParser(positiveInt("--drain-ms", 0)).default(5000),
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
    .addOption(
      new Option("--http-host <host>", "address of the HTTP listener").default("127.0.0.1"),
    )
    .optionsGroup("Logging:")
    .addOption(logLevelOption());
}

/** `request`: play a vCD cell for one request. */
export function requestCommand(program: Command) {
  const request = program
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
      new Option("--accept <type>", "Accept header").default(
        `application/*+json;version=${DEFAULT_API_VERSION}`,
      ),
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
    .addOption(
      new Option("--org <urn>", "caller's org in the security context").default(SAMPLE.org),
    )
    .addOption(new Option("--user <urn>", "caller in the security context").default(SAMPLE.user))
    .addOption(
      new Option("--right <urn>", "a right the caller holds (repeatable)").argParser(collect),
    )
    .addOption(timeoutOption("how long to wait for the reply", 10_000))
    .optionsGroup("MQTT (--transport mqtt: the cell publishes an API_REQUEST, labs only):")
    .addOption(mqttOption.transport());
  return withMqttBroker(request)
    .addOption(
      new Option(
        "--triplet <vendor/name/version>",
        "extension to address (default: the one whose routes match the path)",
      ),
    )
    .addOption(mqttCellUserOption());
}

/** `--mqtt-cell-user`: who a simulated cell logs in as (`request`, `check`); never the extension. */
function mqttCellUserOption() {
  return new Option(
    "--mqtt-cell-user <name>",
    "the simulated cell's MQTT user (password in VCDEXT_MQTT_CELL_PASSWORD); a local anonymous Mosquitto takes any",
  ).default("vcdext-cell");
}

/** `--timeout <ms>`: how long a simulated cell waits for a reply. */
function timeoutOption(description: string, ms: number) {
  return new Option("--timeout <ms>", description).argParser(positiveInt("--timeout")).default(ms);
}

/** `routes`: what the loaded extensions declare. */
export function routesCommand(program: Command) {
  return program
    .command("routes")
    .description(
      "list the loaded extensions: routes, media types, derived vCD URL filters, subscriptions, blocking-task rules",
    )
    .addOption(exchangeOption())
    .addOption(
      new Option("--notifications-exchange <name>", "as given to serve").default(
        DEFAULT_NOTIFICATIONS_EXCHANGE,
      ),
    )
    .addOption(
      new Option("--notifications-queue <name>", "as given to serve").default(
        DEFAULT_NOTIFICATIONS_QUEUE,
      ),
    )
    .addOption(new Option("--json", "print JSON instead of text"));
}

/** `check`: the broker side as `serve` would use it, and a round trip. */
export function checkCommand(program: Command) {
  const check = program
    .command("check")
    .description(
      "check the broker side: connection and credentials, exchange type, queue declaration and " +
        "binding, and a full round trip through the broker (an in-process dispatcher, or the " +
        "running instances with --live); with --transport mqtt|both the MQTT login as each " +
        "extension and a round trip too; prints a table, exits 1 on any failure",
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
    .addOption(
      new Option("--vcd-timeout-ms <ms>", "as given to serve (the queue's x-message-ttl)")
        .default(10_000).argParser(positiveInt("--vcd-timeout-ms")),
    )
    .optionsGroup("Check:")
    .addOption(
      new Option("--extension <name...>", "check only these extensions (default: all with routes)"),
    )
    .addOption(new Option("--queue <name>", "queue name, as given to serve; one extension only"))
    .addOption(
      new Option("--live", "round trip through the running instances on the real routing key"),
    )
    .addOption(timeoutOption("how long to wait for each reply", 5000))
    .optionsGroup("MQTT (--transport mqtt or both):")
    .addOption(mqttOption.transport());
  return withMqttBroker(check)
    .addOption(mqttOption.tokenFile())
    .addOption(mqttCellUserOption());
}

/** `demo`: the service, a fake vCD and a cell, in one process. */
export function demoCommand(program: Command) {
  return program
    .command("demo")
    .description(
      "start the service and a fake vCD REST API, play a cell: requests in XML and JSON, a " +
        "notification and a blocking task; print each exchange, stop",
    )
    .addOption(amqpUrlOption());
}
