/**
 * @module The service's connection to a RabbitMQ cluster: one connection at a time to one of
 * several broker URLs, replaced on loss by a connection to the next URL in the list.
 *
 * - **Start-up** tries the URLs in the order given and keeps the first that answers; the round
 *   is retried `startupRetries` times with {@linkcode BROKER_RECONNECT}'s
 *   capped, jittered backoff, then start-up fails with every node's reason.
 * - **On loss** (the broker closed it, the socket broke, or the heartbeat went silent) the next
 *   URL is tried first, then the one after, round the list, with the same backoff between
 *   attempts; the delay starts small again after every successful connect.
 * - **Dead connections are found fast**: every URL without its own `?heartbeat=` asks for
 *   `heartbeatSec` (amqplib declares the connection dead after two to three silent intervals),
 *   every attempt gives up after `connectTimeoutMs` without an answer, and `setup` (declaring and
 *   consuming) must finish within {@linkcode SETUP_TIMEOUT_MS}, so a node that accepts TCP but
 *   answers nothing costs one timeout, not a hang.
 *
 * amqplib's own recovery takes a single URL, hence this loop; it keeps amqplib's events'
 * log lines (connecting, connected, disconnected, reconnect scheduled) and names the node
 * (`host:port`) in each, never the credentials.
 */

import amqp from "amqplib";
import type { ChannelModel } from "amqplib";
import { backoffDelay, type BackoffPolicy, BROKER_RECONNECT } from "../../core/retry.ts";
import { safeUrl } from "../../core/redact.ts";
import type { Logger } from "../../observability/log.ts";
import {
  type AmqpTls,
  brokerErrorFields,
  connectError,
  instanceName,
  nodeOf,
  noneAnswered,
  socketOptions,
} from "./connection.ts";
import { within } from "./util.ts";

/** How long declaring and consuming may take on a new connection before it counts as failed. */
export const SETUP_TIMEOUT_MS = 15_000;

/** Settings of {@linkcode BrokerLink.open}. */
export interface LinkOptions {
  /** The broker URLs (`amqp://` or `amqps://`), one per cluster node, in order of preference. */
  readonly urls: readonly string[];
  /** TLS settings for `amqps://` URLs. */
  readonly tls?: AmqpTls | undefined;
  /** Heartbeat asked for, in seconds, where a URL names none (`0` turns heartbeats off). */
  readonly heartbeatSec: number;
  /** How long one connection attempt may go unanswered, ms. */
  readonly connectTimeoutMs: number;
  /** Rounds over the URL list retried at start-up before giving up (0: one round only). */
  readonly startupRetries: number;
  /** Where connection events are logged. */
  readonly log: Logger;
  /** Runs on every (re)connect, before the connection counts as up: declare and consume. */
  readonly setup: (model: ChannelModel) => Promise<void>;
  /** Whether the service is stopping: a disconnect is then expected, not warned about. */
  readonly stopping: () => boolean;
  /** Called when the connection in use is lost (before reconnecting). */
  readonly onLost?: () => void;
  /** The backoff between attempts; default {@linkcode BROKER_RECONNECT}. */
  readonly backoff?: BackoffPolicy;
}

/**
 * `url` with `heartbeat=<sec>` in its query, unless it names one already (the URL wins).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withHeartbeat } from "./failover.ts";
 * assert.equal(withHeartbeat("amqp://h/vh", 5), "amqp://h/vh?heartbeat=5");
 * assert.equal(withHeartbeat("amqp://h/vh?frameMax=0", 5), "amqp://h/vh?frameMax=0&heartbeat=5");
 * assert.equal(withHeartbeat("amqp://h/vh?heartbeat=30", 5), "amqp://h/vh?heartbeat=30");
 * ```
 */
export function withHeartbeat(url: string, sec: number): string {
  const query = url.indexOf("?");
  if (query >= 0 && /(?:^|&)heartbeat=/.test(url.slice(query + 1))) return url;
  return `${url}${query >= 0 ? "&" : "?"}heartbeat=${sec}`;
}

/**
 * The index after `index` in a list of `length`, round the end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nextIndex } from "./failover.ts";
 * assert.equal(nextIndex(0, 3), 1);
 * assert.equal(nextIndex(2, 3), 0);
 * assert.equal(nextIndex(0, 1), 0);
 * ```
 */
export function nextIndex(index: number, length: number): number {
  return (index + 1) % length;
}

/**
 * Opens one connection to `url` and runs `setup` on it, each bounded in time; closes what it
 * opened when either fails.
 */
export async function openOne(
  url: string,
  o: Pick<LinkOptions, "tls" | "heartbeatSec" | "connectTimeoutMs">,
  setup: (model: ChannelModel) => Promise<void>,
): Promise<ChannelModel> {
  const model = await amqp.connect(withHeartbeat(url, o.heartbeatSec), {
    ...socketOptions(o.tls),
    timeout: o.connectTimeoutMs,
    clientProperties: { connection_name: instanceName() },
  });
  model.on("error", () => {}); // logged once adopted; until then the close below says why
  const failed = new Promise<never>((_, reject) => {
    model.once("close", (e: unknown) => reject(e ?? new Error("connection closed during setup")));
  });
  failed.catch(() => {});
  try {
    const done = await within(
      Promise.race([setup(model).then(() => true), failed]),
      SETUP_TIMEOUT_MS,
      false,
    );
    if (!done) throw new Error(`declaring and consuming took over ${SETUP_TIMEOUT_MS} ms`);
    return model;
  } catch (e) {
    await dropModel(model);
    throw e;
  }
}

/** Closes a connection without waiting on a broker that may not answer. */
export async function dropModel(model: ChannelModel): Promise<void> {
  model.on("error", () => {});
  const closed = await within(model.close().then(() => true, () => true), 1_000, false);
  if (closed) return;
  const stream = (model.connection as unknown as { stream?: { destroy(): unknown } }).stream;
  stream?.destroy();
}

/**
 * The service's link to the cluster: one open connection at a time, replaced on loss. See
 * the module documentation.
 */
export class BrokerLink {
  readonly #o: LinkOptions;
  readonly #backoff: BackoffPolicy;
  #model: ChannelModel | undefined;
  /** The URL in use, or the one to try next. */
  #index = 0;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  private constructor(options: LinkOptions) {
    if (options.urls.length === 0) throw new Error("no broker URL given");
    this.#o = options;
    this.#backoff = options.backoff ?? BROKER_RECONNECT;
  }

  /**
   * Connects to the first URL that answers and runs `setup` on it; throws, naming every node
   * and its reason (scrubbed), when none does within `startupRetries` rounds.
   */
  static async open(options: LinkOptions): Promise<BrokerLink> {
    const link = new BrokerLink(options);
    await link.#start();
    return link;
  }

  /** The node in use (`host:port`), or `undefined` between connections. */
  get node(): string | undefined {
    return this.#model ? nodeOf(this.#o.urls[this.#index]!) : undefined;
  }

  /** Closes the connection in use and stops reconnecting. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const model = this.#model;
    this.#model = undefined;
    if (model) await dropModel(model);
  }

  async #start(): Promise<void> {
    const { urls, log } = this.#o;
    const attempts = (Math.max(0, this.#o.startupRetries) + 1) * urls.length;
    const reasons = new Map<string, Error>();
    for (let n = 0; n < attempts; n++) {
      if (this.#closed) break;
      const url = urls[n % urls.length]!;
      log.info({ node: nodeOf(url), url: safeUrl(url) }, "connecting to the broker");
      try {
        this.#adopt(await openOne(url, this.#o, this.#o.setup), n % urls.length);
        return;
      } catch (e) {
        reasons.set(url, connectError(url, e));
        if (n + 1 === attempts) break;
        const delay = backoffDelay(n, this.#backoff);
        const reason = brokerErrorFields(url)(e).message;
        log.info(
          { node: nodeOf(url), attempt: n + 1, delayMs: Math.round(delay), reason },
          "reconnect scheduled",
        );
        await sleep(delay);
      }
    }
    throw noneAnswered([...reasons.values()]);
  }

  /** The connection is up on `urls[index]`: watch it. */
  #adopt(model: ChannelModel, index: number): void {
    const url = this.#o.urls[index]!;
    const node = nodeOf(url);
    const brokerError = brokerErrorFields(url);
    this.#model = model;
    this.#index = index;
    this.#attempt = 0;
    this.#o.log.info({ node, url: safeUrl(url) }, "connected to the broker");
    model.on(
      "error",
      (err: unknown) => this.#o.log.warn({ node, err: brokerError(err) }, "connection error"),
    );
    model.once("close", (err: unknown) => {
      if (this.#model !== model) return;
      this.#model = undefined;
      if (this.#closed || this.#o.stopping()) return;
      this.#o.log.warn(
        { node, err: brokerError(err) },
        "disconnected from the broker; reconnecting",
      );
      this.#o.onLost?.();
      this.#schedule(nextIndex(index, this.#o.urls.length));
    });
  }

  /** Tries `urls[index]` after the backoff's next delay; on failure, the URL after it. */
  #schedule(index: number): void {
    if (this.#closed || this.#o.stopping()) return;
    const delay = backoffDelay(this.#attempt, this.#backoff);
    this.#attempt++;
    const url = this.#o.urls[index]!;
    this.#o.log.info(
      { node: nodeOf(url), attempt: this.#attempt, delayMs: Math.round(delay) },
      "reconnect scheduled",
    );
    this.#timer = setTimeout(async () => {
      this.#timer = undefined;
      if (this.#closed || this.#o.stopping()) return;
      try {
        const model = await openOne(url, this.#o, this.#o.setup);
        if (this.#closed) return void await dropModel(model);
        this.#adopt(model, index);
      } catch (e) {
        this.#o.log.info(
          { node: nodeOf(url), reason: brokerErrorFields(url)(e).message },
          "broker not reachable",
        );
        this.#schedule(nextIndex(index, this.#o.urls.length));
      }
    }, delay);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
