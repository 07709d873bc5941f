/**
 * @module `vcdext check`: the broker side, row by row. Connection and credentials; the
 * extension exchange (exists, and serve's declaration of it matches); each extension's queue,
 * declared and bound as `serve` declares it (the same {@linkcode QueueTopology}, so check cannot
 * drift from serve); and a round trip through the broker, to an in-process dispatcher on a
 * temporary queue, or with `live` to the running instances. With `transport` `mqtt` (only
 * those rows) or `both`, the MQTT rows of lib/app/check_mqtt.ts follow: the login as each
 * extension and a round trip. {@linkcode runCheck} gives the rows, {@linkcode renderCheckTable}
 * the table `vcdext check` prints.
 */

import type { Extension } from "../core/extension.ts";
import { scrub } from "../core/redact.ts";
import { endpoint } from "../core/service.ts";
import { silentLogger } from "../observability/log.ts";
import { buildRequest, type CellRequest, decodeReply, sampleRequest } from "../sim/cell.ts";
import {
  type AmqpTls,
  BrokerAdmin,
  CellClient,
  extensionBinding,
  extensionExchange,
  type QueueTopology,
  type RunningService,
  safeUrl,
  startService,
  ttlAdvice,
  ttlPolicyCommand,
  vhostOf,
} from "../transport/amqp/mod.ts";
import type { MqttCheckInputs } from "./check_mqtt.ts";
import { vcdAmqpRows, type VcdCheckInputs } from "./check_vcd.ts";

/** One row of the table. */
export interface CheckRow {
  /** What was checked, e.g. `queue gcp-ticketing declared and bound`. */
  readonly what: string;
  /** Passed. */
  readonly ok: boolean;
  /** The result or the broker's objection (scrubbed of credentials). */
  readonly detail: string;
}

/** The `check` command's flags that {@linkcode runCheck} reads. */
export interface CheckOptions {
  /** The broker URLs (`--amqp-url`, one per cluster node): the first that answers is used. */
  readonly amqpUrl: readonly string[];
  /** The extension exchange, as given to serve. */
  readonly exchange: string;
  /** The queue name given to serve (one extension only); default the routing key. */
  readonly queue?: string | undefined;
  /** Round trip through the running instances on the real routing key. */
  readonly live?: boolean | undefined;
  /** How long to wait for each reply, ms. */
  readonly timeout: number;
  /** Which bus's rows; default `amqp`. */
  readonly transport?: "amqp" | "mqtt" | "both" | undefined;
}

/** What `check` is given, computed from the flags as `serve` computes it. */
export interface CheckInputs {
  /** The extensions to check: those selected, with routes. */
  readonly extensions: readonly Extension[];
  /** The `x-…` arguments serve declares the queues with. */
  readonly queueArguments: Readonly<Record<string, unknown>>;
  /** TLS settings for `amqps://` URLs. */
  readonly tls: AmqpTls | undefined;
  /** The MQTT settings, for `transport` `mqtt` or `both`. */
  readonly mqtt?: MqttCheckInputs | undefined;
  /** vCD's side (`--vcd-url`): its AMQP settings compared and tested (lib/app/check_vcd.ts). */
  readonly vcd?: VcdCheckInputs | undefined;
}

/** Runs every check, in the table's order; never throws for what the brokers say. */
export async function runCheck(options: CheckOptions, inputs: CheckInputs): Promise<CheckRow[]> {
  const transport = options.transport ?? "amqp";
  const rows = transport === "mqtt" ? [] : await amqpRows(options, inputs);
  if (transport !== "amqp" && inputs.mqtt) {
    // Loaded on use: `mqtt` reads the whole environment when imported.
    const { mqttRows } = await import("./check_mqtt.ts");
    rows.push(...await mqttRows(inputs.extensions, inputs.mqtt));
  }
  if (inputs.vcd) rows.push(...await vcdAmqpRows(inputs.vcd, options.amqpUrl, options.exchange));
  return rows;
}

/** The AMQP rows: connection, exchange, and per extension its queue and a round trip. */
async function amqpRows(options: CheckOptions, inputs: CheckInputs): Promise<CheckRow[]> {
  const rows: CheckRow[] = [];
  const what = `connect ${options.amqpUrl.map(safeUrl).join(" or ")}`;
  let admin: BrokerAdmin;
  try {
    admin = await BrokerAdmin.connect(options.amqpUrl, inputs.tls);
  } catch (e) {
    // BrokerAdmin.connect's message leaves the URL's password out already (connectError).
    return [{ what, ok: false, detail: scrub((e as Error).message) }];
  }
  rows.push({ what, ok: true, detail: admin.serverVersion() });
  try {
    rows.push(await exchangeRow(admin, options.exchange));
    for (const ext of inputs.extensions) {
      const topology: QueueTopology = {
        queue: options.queue ?? ext.routingKey,
        bindings: [extensionBinding(options.exchange, ext.routingKey)],
        queueArguments: inputs.queueArguments,
      };
      rows.push(...await queueRows(admin, topology, vhostOf(options.amqpUrl[0] ?? "")));
      rows.push(await roundTrip(options, inputs.tls, ext, admin));
    }
  } finally {
    await admin.close();
  }
  return rows;
}

/** The extension exchange exists, and serve's declaration of it (direct, durable) matches. */
async function exchangeRow(admin: BrokerAdmin, exchange: string): Promise<CheckRow> {
  const x = await admin.checkExchange(extensionExchange(exchange));
  return {
    what: `exchange ${exchange} (direct, durable)`,
    ok: x === "ok",
    detail: x === "ok"
      ? ""
      : x === "missing"
      ? "missing: start `vcdext serve` once to declare it"
      : x,
  };
}

/**
 * The queue, declared and bound as serve does it, with its ready messages and consumers; then
 * its message TTL: vCD's timeout, or (a queue made before vcdext set one) what it has and the
 * policy that fixes it in place. Serve uses such a queue as it is, so that row passes too.
 */
async function queueRows(
  admin: BrokerAdmin,
  topology: QueueTopology,
  vhost: string,
): Promise<CheckRow[]> {
  const what = `queue ${topology.queue} declared and bound`;
  try {
    const state = (await admin.declareTopology(topology)).queue;
    const info = await admin.queueInfo(topology.queue);
    const detail = `${info?.messages ?? 0} ready, ${info?.consumers ?? 0} consumers`;
    if (state.kind === "ttl-differs") {
      const args = topology.queueArguments;
      const dlx = args?.["x-dead-letter-exchange"];
      const command = ttlPolicyCommand({
        vhost,
        queues: [topology.queue],
        ttlMs: state.wanted,
        deadLetterExchange: typeof dlx === "string" ? dlx : undefined,
      });
      const advice = `${ttlAdvice(state.found, state.wanted)}: ${command}`;
      return [{ what, ok: true, detail }, { what: ttlWhat(topology), ok: true, detail: advice }];
    }
    const rows = [{ what, ok: true, detail }];
    const ttl = topology.queueArguments?.["x-message-ttl"];
    if (ttl === undefined) return rows;
    const expire = `${ttl} ms (x-message-ttl): requests older than vCD's timeout expire unrun`;
    return [...rows, { what: ttlWhat(topology), ok: true, detail: expire }];
  } catch (e) {
    return [{ what, ok: false, detail: scrub((e as Error).message) }];
  }
}

/** The name of a queue's message TTL row. */
const ttlWhat = (topology: QueueTopology) => `queue ${topology.queue} message TTL`;

/**
 * One round trip through the broker: to the running instances on the real routing key (`live`),
 * or to an in-process dispatcher on a temporary queue and routing key, so that real vCD traffic
 * is never copied to it.
 */
async function roundTrip(
  options: CheckOptions,
  tls: AmqpTls | undefined,
  ext: Extension,
  admin: BrokerAdmin,
): Promise<CheckRow> {
  const what = `round trip ${ext.name} (${options.live ? "running instances" : "in-process"})`;
  const temp = `vcdext.check.${crypto.randomUUID().slice(0, 8)}`;
  let service: RunningService | undefined;
  let cell: CellClient | undefined;
  try {
    return await roundTripRow(what, sampleRequest(ext), async (request) => {
      if (!options.live) {
        service = await startService({
          urls: options.amqpUrl,
          ...(tls ? { tls } : {}),
          prefetch: 1,
          log: silentLogger,
          consumers: [{
            label: ext.name,
            queue: temp,
            bindings: [extensionBinding(options.exchange, temp)],
            queueArguments: { "x-expires": 30_000 },
            handle: endpoint(ext).handle,
          }],
        });
      }
      cell = await CellClient.connect(options.amqpUrl, tls ? { tls } : {});
      const started = performance.now();
      const raw = await cell.send(
        options.exchange,
        options.live ? ext.routingKey : temp,
        buildRequest(request),
        { timeoutMs: options.timeout },
      );
      return { status: decodeReply(raw).status, ms: performance.now() - started };
    });
  } finally {
    await cell?.close();
    await service?.stop(500);
    // The temporary queue goes now; its x-expires only covers a check that was killed.
    if (!options.live) await admin.delete({ queues: [temp] });
  }
}

/**
 * A round-trip row: `run` sends the sample request (starting what it needs first) and answers
 * the reply's status and how long the exchange took; any error is a failed row, its text
 * scrubbed of credentials (and of `secrets`).
 */
export async function roundTripRow(
  what: string,
  request: CellRequest,
  run: (request: CellRequest) => Promise<{ status: number; ms: number }>,
  secrets: readonly string[] = [],
): Promise<CheckRow> {
  try {
    const { status, ms } = await run(request);
    const detail = `${request.method} ${request.path} → ${status} in ${ms.toFixed(1)} ms`;
    return { what, ok: true, detail };
  } catch (e) {
    return { what, ok: false, detail: scrub((e as Error).message, secrets) };
  }
}

/**
 * The table `vcdext check` prints: one line per row, the first column as wide as its longest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderCheckTable } from "./check.ts";
 * assert.equal(
 *   renderCheckTable([{ what: "connect amqp://h", ok: true, detail: "RabbitMQ 4.1" }]),
 *   "CHECK             RESULT  DETAIL\nconnect amqp://h  pass    RabbitMQ 4.1",
 * );
 * ```
 */
export function renderCheckTable(rows: readonly CheckRow[]): string {
  const width = Math.max(...rows.map((r) => r.what.length), 5);
  const lines = [`${"CHECK".padEnd(width)}  RESULT  DETAIL`];
  for (const { what, ok, detail } of rows) {
    lines.push(`${what.padEnd(width)}  ${ok ? "pass  " : "FAIL  "}  ${detail}`);
  }
  return lines.join("\n");
}
