/**
 * @module From parsed flags to the service's configuration: the {@linkcode ServeOptions} every
 * command builds on, the checks that turn a bad combination into a {@linkcode UsageError}
 * (exit code 2), and the pieces read from files and the environment: broker TLS
 * ({@linkcode amqpTls}), the vCD client ({@linkcode vcdClientFrom}), the endpoint limits every
 * bus serves with ({@linkcode endpointOptions}). Also the one-line summary of the settings for the
 * log ({@linkcode settingsForLog}). The MQTT settings (URL, TLS, tokens) are lib/app/
 * mqtt_config.ts's.
 */

import type { Extension } from "../core/extension.ts";
import type { EndpointOptions } from "../core/service.ts";
import { systemClock } from "../transport/clock.ts";
import type { LogLevel } from "../observability/log.ts";
import type { Logger } from "../core/logger.ts";
import { type AmqpTls, safeUrl } from "../transport/amqp/mod.ts";
import { VcdClient } from "../vcd/client.ts";
import { PlainHttpRefused, refusePlainHttp } from "../vcd/plain_http.ts";

/** A wrong flag or combination of flags: `main.ts` prints it and exits 2. */
export class UsageError extends Error {}

/**
 * A flag parser for whole numbers of at least `min`, naming the flag when it refuses a value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { positiveInt, UsageError } from "./config.ts";
 * assert.equal(positiveInt("--prefetch")("128"), 128);
 * assert.throws(() => positiveInt("--prefetch")("0"), UsageError);
 * assert.equal(positiveInt("--drain-ms", 0)("0"), 0);
 * ```
 */
export function positiveInt(name: string, min = 1): (value: string) => number {
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

/** The local broker: `--amqp-url`'s default. */
export const LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672";

/** `--amqp-url`'s default list (compared by identity: the first value given replaces it). */
export const DEFAULT_AMQP_URLS: string[] = [LOCAL_AMQP_URL];

/**
 * `--amqp-url`'s parser: the flag may be given once per cluster node, and one value (or
 * `VCDEXT_AMQP_URL`) may hold a comma-separated list. A value is split only at a comma followed
 * by `amqp://` or `amqps://`, so a comma inside a password stays where it is. The first value
 * given replaces the default; the next ones are added in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { collectAmqpUrls, DEFAULT_AMQP_URLS } from "./config.ts";
 * const one = collectAmqpUrls("amqp://u:p@a/vh,amqps://u:p,w@b/vh", DEFAULT_AMQP_URLS);
 * assert.deepEqual(one, ["amqp://u:p@a/vh", "amqps://u:p,w@b/vh"]);
 * assert.deepEqual(collectAmqpUrls("amqp://c", one), [...one, "amqp://c"]);
 * ```
 */
export function collectAmqpUrls(value: string, previous: readonly string[]): string[] {
  const urls = value.split(/,(?=\s*amqps?:\/\/)/).map((u) => u.trim()).filter((u) => u !== "");
  if (urls.length === 0) throw new UsageError("--amqp-url must name a broker URL");
  return previous === DEFAULT_AMQP_URLS ? urls : [...previous, ...urls];
}

/**
 * The extensions of `registry` named by `--extension` (all of them when none is named); an
 * unknown name is a {@linkcode UsageError} listing the loaded ones. Reads `registry` when
 * called, so an extension appended to it before (tests' fixture entrypoint) counts.
 */
export function selectExtensions(
  registry: readonly Extension[],
  names: readonly string[] | undefined,
): Extension[] {
  if (!names || names.length === 0) return [...registry];
  return names.map((name) => {
    const ext = registry.find((e) => e.name === name);
    if (!ext) {
      throw new UsageError(
        `no extension named ${name}; loaded: ${registry.map((e) => e.name).join(", ")}`,
      );
    }
    return ext;
  });
}

/** The buses `serve` takes requests on: `--transport`. */
export type ServeTransport = "amqp" | "mqtt" | "both";

/** Everything `serve` runs with: its flags, parsed, defaults filled in. */
export interface ServeOptions {
  /**
   * `amqp` (the default when absent), `mqtt` (vCD 10.2+'s broker; no AMQP connection at all, so
   * no notifications or blocking tasks), or `both` at once (the migration).
   */
  transport?: ServeTransport | undefined;
  /** The broker URLs, one per cluster node, in order of preference (`--amqp-url`). */
  amqpUrl: readonly string[];
  /** AMQP heartbeat asked for, in seconds (`--heartbeat`; a URL's `?heartbeat=` wins). */
  heartbeat?: number | undefined;
  /** How long one broker connection attempt may go unanswered (`--connect-timeout-ms`). */
  connectTimeoutMs?: number | undefined;
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
  /** `--mqtt-url` (or env `VCDEXT_MQTT_URL`); the token comes from env or a file, never a flag. */
  mqttUrl?: string | undefined;
  mqttTokenFile?: string | undefined;
  mqttCa?: string | undefined;
  mqttInsecure?: boolean | undefined;
  /** `--mqtt-ha`: one active MQTT subscriber per extension, elected through `--amqp-url`. */
  mqttHa?: boolean | undefined;
  /** `--config-dir`: where `<extension>.json` configuration files are (default `/etc/vcdext`). */
  configDir?: string | undefined;
}

/**
 * The endpoint settings of every served extension, the same on every bus (each bus builds its
 * own endpoint with its codec): size limits, the handler time limit on the system clock, vCD's
 * timeout and the in-flight cap.
 */
export function endpointOptions(
  options: Pick<
    ServeOptions,
    "maxEnvelopeBytes" | "maxBodyBytes" | "handlerTimeoutMs" | "vcdTimeoutMs" | "maxInFlight"
  >,
): EndpointOptions {
  return {
    maxEnvelopeBytes: options.maxEnvelopeBytes,
    maxBodyBytes: options.maxBodyBytes,
    timeoutMs: options.handlerTimeoutMs,
    clock: systemClock,
    vcdTimeoutMs: options.vcdTimeoutMs,
    maxInFlight: options.maxInFlight,
  };
}

/**
 * TLS settings for the broker from the file flags, the files read here (the transport only
 * passes bytes on); `undefined` when no TLS flag is given.
 */
export async function amqpTls(
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

/**
 * The `x-…` arguments the request queues are declared with: the dead-letter exchange, the queue
 * type (and a quorum queue's delivery limit), and `x-message-ttl` set to vCD's timeout
 * (`--vcd-timeout-ms`). vCD answers 504 to its caller once the timeout is over, so a request
 * still queued by then (no instance consuming: an outage, a failover, a long pause) is expired
 * by the broker rather than run later for nobody, and dead-lettered (reason `expired`) when a
 * dead-letter exchange is set. A message held unacked by an instance does not expire; once
 * requeued (a lost connection, a stop past the drain time) it keeps its first enqueue time and
 * expires then, on classic and quorum queues alike (RabbitMQ 3.10). An instance refuses an old
 * redelivery itself as well (lib/core/service.ts). A queue that exists without this argument is
 * used as it is (lib/transport/amqp/topology.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { queueArguments } from "./config.ts";
 * assert.deepEqual(queueArguments({ queueType: "quorum", deliveryLimit: 5, vcdTimeoutMs: 10_000 }), {
 *   "x-queue-type": "quorum",
 *   "x-delivery-limit": 5,
 *   "x-message-ttl": 10_000,
 * });
 * assert.throws(() => queueArguments({ queueType: "classic", deliveryLimit: 5, vcdTimeoutMs: 1 }));
 * ```
 */
export function queueArguments(
  options: Pick<
    ServeOptions,
    "deadLetterExchange" | "queueType" | "deliveryLimit" | "vcdTimeoutMs"
  >,
): Record<string, unknown> {
  return { ...notificationQueueArguments(options), "x-message-ttl": options.vcdTimeoutMs };
}

/**
 * The `x-…` arguments of the notifications queue: those of {@linkcode queueArguments} but no
 * message TTL. A notification is not a request a caller waits for within vCD's timeout: an
 * event stays worth processing after an outage, and a blocking task has its own timeout in vCD
 * (which then applies the task's default action), while the processor fetches the task from vCD
 * before deciding it. Expiring notifications after vCD's request timeout would only lose events
 * an extension subscribed to.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notificationQueueArguments } from "./config.ts";
 * assert.deepEqual(notificationQueueArguments({ queueType: "classic", deadLetterExchange: "dlx" }), {
 *   "x-dead-letter-exchange": "dlx",
 * });
 * ```
 */
export function notificationQueueArguments(
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

/** The vCD flags {@linkcode vcdClientFrom} reads. */
export type VcdOptions = Pick<
  ServeOptions,
  | "vcdUrl"
  | "vcdUser"
  | "vcdToken"
  | "vcdPassword"
  | "vcdCa"
  | "vcdInsecure"
  | "vcdAllowHttp"
  | "vcdApiVersion"
>;

/**
 * The vCD REST client from flags and env (password and token never from the command line);
 * `undefined` without `--vcd-url`. Refuses an `http://` URL unless `--vcd-allow-http`.
 */
export async function vcdClientFrom(
  options: VcdOptions,
  log: Logger,
): Promise<VcdClient | undefined> {
  if (!options.vcdUrl) return undefined;
  try {
    refusePlainHttp(options.vcdUrl, options.vcdAllowHttp);
  } catch (e) {
    throw e instanceof PlainHttpRefused ? new UsageError(e.cliMessage) : e;
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

/** The settings only the AMQP side uses: left out of the settings line with `--transport mqtt`. */
const AMQP_ONLY = [
  "exchange",
  "queue",
  "prefetch",
  "deadLetterExchange",
  "queueType",
  "deliveryLimit",
  "notificationsExchange",
  "legacyNotificationsExchange",
  "notificationsQueue",
  "amqpCa",
  "amqpCert",
  "amqpKey",
  "amqpInsecure",
  "vcdUrl",
  "vcdUser",
  "vcdToken",
  "vcdCa",
  "vcdInsecure",
  "vcdAllowHttp",
  "vcdApiVersion",
] as const;

/** The MQTT settings: left out of the settings line with `--transport amqp`. */
const MQTT_ONLY = ["mqttUrl", "mqttTokenFile", "mqttCa", "mqttInsecure", "mqttHa"] as const;

/** What the settings line says in place of the AMQP settings with `--transport mqtt`. */
export const NO_AMQP =
  "none: --transport mqtt opens no AMQP connection, so notifications and blocking tasks are not served";

/** What the settings line says in place of the AMQP settings with `--transport mqtt --mqtt-ha`. */
export const NO_AMQP_BUT_LEASES =
  "leases only: --mqtt-ha elects the active instance through --amqp-url; notifications and blocking tasks are not served";

/**
 * Every setting `serve` runs with, defaults filled in, for one line at start-up: what an operator
 * (and the entrypoint tests) can read back. Logged before connecting, so it is there when the
 * broker refuses too. No secrets: URL passwords are scrubbed, a vCD token shows only as set, and
 * MQTT tokens (env or file) are never options. Only the settings of the buses in use are shown:
 * with `--transport mqtt` the AMQP ones give way to `amqp: "none: …"`, with `amqp` (the
 * default) the MQTT ones are left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { settingsForLog } from "./config.ts";
 * const line = settingsForLog({
 *   amqpUrl: ["amqp://u:secret@broker/"],
 *   vcdToken: "t0ken",
 *   vcdPassword: "pw",
 *   logLevel: "info",
 * });
 * assert.doesNotMatch(JSON.stringify(line), /secret|t0ken|pw/);
 * assert.equal(line.vcdToken, "[set]");
 * const mqtt = settingsForLog({
 *   transport: "mqtt",
 *   amqpUrl: ["amqp://u:secret@broker/"],
 *   mqttUrl: "wss://u:secret@cell/messaging/mqtt",
 *   exchange: "vcdext",
 *   logLevel: "info",
 * });
 * assert.equal(mqtt.mqttUrl, "wss://u:[redacted]@cell/messaging/mqtt");
 * assert.match(String(mqtt.amqp), /^none: --transport mqtt opens no AMQP connection/);
 * assert.equal(mqtt.amqpUrl, undefined);
 * assert.equal(mqtt.exchange, undefined);
 * ```
 */
export function settingsForLog(
  options: Partial<ServeOptions> & { amqpUrl: readonly string[]; logLevel: LogLevel },
): Record<string, unknown> {
  const { amqpUrl, vcdToken, vcdUrl, mqttUrl, vcdPassword: _password, ...rest } = options;
  const transport = options.transport ?? "amqp";
  const shown: Record<string, unknown> = {
    amqpUrl: amqpUrl.map(safeUrl),
    ...rest,
    ...(vcdUrl === undefined ? {} : { vcdUrl: safeUrl(vcdUrl) }),
    ...(vcdToken === undefined ? {} : { vcdToken: "[set]" }),
    ...(mqttUrl === undefined ? {} : { mqttUrl: safeUrl(mqttUrl) }),
  };
  if (transport === "mqtt") {
    // With --mqtt-ha the AMQP broker holds the leases, and only that.
    if (!options.mqttHa) delete shown.amqpUrl;
    for (const key of AMQP_ONLY) delete shown[key];
    return { transport, amqp: options.mqttHa ? NO_AMQP_BUT_LEASES : NO_AMQP, ...shown };
  }
  if (transport === "amqp") { for (const key of MQTT_ONLY) delete shown[key]; }
  return shown;
}
