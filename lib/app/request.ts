/**
 * @module `vcdext request`: play a vCD cell for one request. Builds the request from the flags
 * (body from `--data` or `--data-file`, headers, security context) and, on AMQP, publishes the
 * envelope with a {@linkcode CellClient} on the routing key of the extension that owns the
 * path; with `--transport mqtt`, publishes an `API_REQUEST` on that extension's monitor topic
 * with an {@linkcode MqttCellClient} (as its own MQTT user, never the extension's triplet: see
 * lib/transport/mqtt/cell_client.ts) and waits for the `API_RESPONSE` on the respond topic;
 * `both` sends it on each bus in turn. Describes each exchange alike. On AMQP the request
 * expires with `--timeout` (a request nobody took is dropped, not run by the next `serve`), and
 * a timeout on a queue nobody consumes says so. Also the flag parsers of `--header` and
 * `--right`.
 */

import { compile } from "../core/dispatch.ts";
import { type Extension, tripletOf } from "../core/extension.ts";
import { buildRequest, type CellRequest, decodeReply, describeExchange } from "../sim/cell.ts";
import { exchangeOverMqtt } from "../sim/mqtt_cell.ts";
import { BrokerAdmin, CellClient } from "../transport/amqp/mod.ts";
import type { MqttTls } from "../transport/mqtt/connection.ts";
import { monitorTopic, parseTriplet, respondTopic } from "../transport/mqtt/topics.ts";
import { UsageError } from "./config.ts";
import { mqttBroker } from "./mqtt_config.ts";

/** The flags of `vcdext request` besides method and path. */
export interface RequestOptions {
  amqpUrl: readonly string[];
  exchange: string;
  routingKey?: string | undefined;
  accept: string;
  contentType: string;
  data?: string | undefined;
  dataFile?: string | undefined;
  header?: Record<string, string> | undefined;
  org: string;
  user: string;
  right?: string[] | undefined;
  timeout: number;
  /** Which bus; default `amqp`. */
  transport?: "amqp" | "mqtt" | "both" | undefined;
  mqttUrl?: string | undefined;
  mqttCa?: string | undefined;
  mqttInsecure?: true | undefined;
  /** The extension's `vendor/name/version` (default: the one owning the path). */
  triplet?: string | undefined;
  /** The cell's MQTT user; default `vcdext-cell`. */
  mqttCellUser?: string | undefined;
}

/** The cell's MQTT connection from the flags: URL, TLS, user and password (env). */
export interface CellMqtt {
  readonly url: string;
  readonly tls?: MqttTls;
  readonly username: string;
  readonly password?: string;
}

/**
 * The MQTT connection a simulated cell uses: `--mqtt-url` (checked as `serve` checks it), the
 * TLS flags, `--mqtt-cell-user` and the password in `VCDEXT_MQTT_CELL_PASSWORD`. No extension
 * token: the cell is not the extension.
 */
export async function cellMqtt(flags: {
  mqttUrl?: string | undefined;
  mqttCa?: string | undefined;
  mqttInsecure?: boolean | undefined;
  mqttCellUser?: string | undefined;
}): Promise<CellMqtt> {
  const { url, tls } = await mqttBroker(flags);
  const password = Deno.env.get("VCDEXT_MQTT_CELL_PASSWORD");
  return {
    url,
    username: flags.mqttCellUser ?? "vcdext-cell",
    ...(tls ? { tls } : {}),
    ...(password ? { password } : {}),
  };
}

/**
 * Parses one `--header "Name: value"` into the headers so far.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHeader } from "./request.ts";
 * assert.deepEqual(parseHeader("X-A: 1", { "X-B": "2" }), { "X-B": "2", "X-A": "1" });
 * assert.throws(() => parseHeader("no colon"));
 * ```
 */
export function parseHeader(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const colon = value.indexOf(":");
  if (colon <= 0) {
    throw new UsageError(`--header takes "Name: value", got ${JSON.stringify(value)}`);
  }
  return { ...previous, [value.slice(0, colon).trim()]: value.slice(colon + 1).trim() };
}

/** Collects a repeatable flag's values in order. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The extension whose routes match the path, or the only one loaded; `flag` names the override. */
function ownerOf(registry: readonly Extension[], path: string, flag: string): Extension {
  const pathOnly = path.split("?")[0] ?? path;
  // Any method will do: a path that exists answers "found" or "method", never "none".
  const owner = registry.find((ext) => compile(ext).router.match("GET", pathOnly).kind !== "none");
  if (owner) return owner;
  if (registry.length === 1) return registry[0]!;
  throw new UsageError(`no loaded extension has a route for ${path}; pass ${flag}`);
}

/** The routing key of the extension whose routes match the path, or of the only one loaded. */
export function routingKeyFor(registry: readonly Extension[], path: string): string {
  return ownerOf(registry, path, "--routing-key").routingKey;
}

/** The triplet of the extension whose routes match the path, or of the only one loaded. */
export function tripletFor(registry: readonly Extension[], path: string): string {
  return tripletOf(ownerOf(registry, path, "--triplet"));
}

/** Sends one request as a cell would and resolves with the exchange described for a terminal. */
export async function sendRequest(
  registry: readonly Extension[],
  method: string,
  path: string,
  options: RequestOptions,
): Promise<string> {
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
  const transport = options.transport ?? "amqp";
  if (transport === "amqp") return await overAmqp(registry, request, options);
  if (transport === "mqtt") return await overMqtt(registry, request, options);
  return `[amqp]\n${await overAmqp(registry, request, options)}\n[mqtt]\n${await overMqtt(
    registry,
    request,
    options,
  )}`;
}

/** The request as an AMQP envelope, on the owner's routing key. */
async function overAmqp(
  registry: readonly Extension[],
  request: CellRequest,
  options: RequestOptions,
): Promise<string> {
  const routingKey = options.routingKey ?? routingKeyFor(registry, request.path);
  const cell = await CellClient.connect(options.amqpUrl);
  try {
    const started = performance.now();
    // Expires with the timeout: a request nobody answered is not run by the next `serve`.
    const raw = await cell.send(options.exchange, routingKey, buildRequest(request), {
      timeoutMs: options.timeout,
      expirationMs: options.timeout,
    }).catch(async (e) => {
      throw (await idleQueue(options.amqpUrl, routingKey)) ?? e;
    });
    return describeExchange(request, decodeReply(raw), performance.now() - started);
  } finally {
    await cell.close();
  }
}

/**
 * After a timeout: an error naming the queue (the routing key, `serve`'s default queue name)
 * when it exists and nobody consumes it; `undefined` otherwise (keep the timeout's error).
 */
async function idleQueue(url: readonly string[], queue: string): Promise<Error | undefined> {
  const admin = await BrokerAdmin.connect(url).catch(() => undefined);
  if (!admin) return undefined;
  try {
    const info = await admin.queueInfo(queue).catch(() => undefined);
    return info?.consumers === 0
      ? new Error(`queue ${queue} has 0 consumers: is serve running?`)
      : undefined;
  } finally {
    await admin.close();
  }
}

/** The request as an `API_REQUEST`, on the owner's monitor topic. */
async function overMqtt(
  registry: readonly Extension[],
  request: CellRequest,
  options: RequestOptions,
): Promise<string> {
  let t;
  try {
    t = parseTriplet(options.triplet ?? tripletFor(registry, request.path));
  } catch (e) {
    throw e instanceof TypeError ? new UsageError(`--triplet: ${e.message}`) : e;
  }
  const settings = await cellMqtt(options);
  // Loaded on use: `mqtt` reads the whole environment when imported (see the report on
  // permissions), and the AMQP paths need none of it.
  const { MqttCellClient } = await import("../transport/mqtt/cell_client.ts");
  const cell = await MqttCellClient.connect(settings.url, settings);
  try {
    const topics = { monitor: monitorTopic(t), respond: respondTopic(t) };
    const { reply, ms } = await exchangeOverMqtt(cell, topics, request, options.timeout);
    return describeExchange(request, reply, ms);
  } finally {
    await cell.close();
  }
}
