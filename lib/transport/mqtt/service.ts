/**
 * @module The MQTT transport (vCD 10.2+; wire-format document, section 12): one connection per
 * extension (user name = its triplet, password = its token), subscribed to its monitor topic.
 * Each message is {@linkcode classify}-ed (what is no `API_REQUEST` with a `requestId` is
 * dropped with one debug line), turned into a {@linkcode Delivery} whose reply address is the
 * respond topic and the requestId, handed to the extension's endpoint, and the decision's reply
 * published (QoS 1, retain off). Reconnecting and subscribing again are lib/transport/mqtt/
 * connection.ts's; this module carries decisions out and drains on stop.
 *
 * **Duplicates.** QoS 1 may deliver a request twice. A message whose requestId this process
 * saw recently (or whose packet has the duplicate flag) is marked `redelivered`, so the
 * endpoint's recent-reply memory answers it without running the handler again (same bytes and
 * caller); one arriving while the first is still handled waits for the same outcome.
 */

import type { DecodeLimits } from "../../core/envelope.ts";
import { errorFields, type Logger } from "../../core/logger.ts";
import type { Decision, Delivery, RejectCode, ReplyDecision } from "../../core/seam.ts";
import { classify } from "./codec.ts";
import { type BackoffPolicy, BROKER_RECONNECT } from "../../core/retry.ts";
import { detached, type RunningTransport } from "../transport.ts";
import { MqttLink, type MqttTls } from "./connection.ts";
import { formatTriplet, monitorTopic, respondTopic, type Triplet } from "./topics.ts";

export { type MqttTls } from "./connection.ts";

/** Where an MQTT reply goes: opaque to the core. */
export interface MqttAddress {
  /** The extension's respond topic. */
  readonly topic: string;
  /** vCD matches the response by it alone. */
  readonly requestId: string;
}

/** One extension served over MQTT. */
export interface MqttExtensionSpec {
  /** For logs: the extension's name. */
  readonly label: string;
  readonly triplet: Triplet;
  /** The extension's token (the MQTT password): a credential, never logged. */
  readonly token: string;
  /** The endpoint's decoding limits, so oversized messages are not parsed to be classified. */
  readonly limits?: DecodeLimits;
  /** Turns a delivery into a decision (an endpoint built with the MQTT codec); never throws. */
  readonly handle: (
    delivery: Delivery<MqttAddress>,
    signal: AbortSignal,
  ) => Promise<Decision<MqttAddress>>;
}

/** How a reply ended: acknowledged by the broker, or not within the publish timeout. */
export type MqttDisposition = "published" | "lost";

/** Settings of {@linkcode startMqttService}. */
export interface MqttServiceConfig {
  /** `mqtt://`, `mqtts://`, `ws://` or `wss://` (vCD: `wss://<cell>/messaging/mqtt`). */
  readonly url: string;
  readonly tls?: MqttTls;
  readonly extensions: readonly MqttExtensionSpec[];
  readonly log: Logger;
  /** Client ids are `<prefix>-<16 random hex digits>`, one per connection; default `vcdext`. */
  readonly clientIdPrefix?: string;
  /**
   * Reconnect delays after a lost connection; default {@linkcode BROKER_RECONNECT} (200 ms ± 50 %
   * doubling, at most 2 s: a restarted broker is used within seconds), as the AMQP connection.
   */
  readonly backoff?: BackoffPolicy;
  /** Wait after a refused login or subscription (a wrong token); default 30,000 ms. */
  readonly refusedRetryMs?: number;
  /** Failed attempts per connection at start-up before giving up; default 5. */
  readonly startupRetries?: number;
  /** MQTT keep-alive; default 60 s. */
  readonly keepaliveSec?: number;
  /** Wait for CONNACK; default 10,000 ms. */
  readonly connectTimeoutMs?: number;
  /** Wait for the broker to acknowledge a reply (including a reconnect); default 5,000 ms. */
  readonly publishTimeoutMs?: number;
  /** requestIds remembered per extension to mark QoS 1 duplicates; default 4,096. */
  readonly recentIds?: number;
  /** Source of jitter; default `Math.random`. */
  readonly random?: () => number;
  /** Called once per reply decision after it was carried out. */
  readonly onReply?: (
    decision: ReplyDecision<MqttAddress>,
    disposition: MqttDisposition,
    ms: number,
  ) => void;
  /** Called once per message rejected without a reply, with the reason's code. */
  readonly onReject?: (extension: string, code: RejectCode) => void;
  /** Called once per message dropped as no request. */
  readonly onIgnore?: (extension: string, why: string) => void;
  /** Start with every extension paused (see {@linkcode RunningMqttService.pause}); default no. */
  readonly startPaused?: boolean;
  /** Called on every change of one extension's connection. */
  readonly onState?: (extension: string, state: "subscribed" | "disconnected" | "refused") => void;
}

/**
 * A running MQTT service: {@linkcode RunningTransport} (`ready()`: every extension connected and
 * subscribed; `stop()`: unsubscribe, let in-flight requests finish and their replies go out for
 * up to `drainMs`, abort the rest, whose handlers see the signal, then disconnect), plus what
 * `--mqtt-ha` needs to hand an extension over.
 */
export interface RunningMqttService extends RunningTransport {
  /**
   * Stops taking the requests of extension `label` (every one when omitted) at once: messages
   * that arrive from now on are dropped unanswered, the subscription is withdrawn. Requests taken
   * before still get their replies.
   */
  pause(label?: string): Promise<void>;
  /** Takes the requests of `label` (every extension when omitted) again: subscribes. */
  resume(label?: string): Promise<void>;
  /** Every extension's connection is up (subscribed or paused). */
  connected(): boolean;
}

/** A client id unique to this connection: MQTT 3.1.1 brokers must take 23 characters. */
function clientId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A set that forgets its oldest entries past `max`. */
class RecentIds {
  readonly #ids = new Set<string>();
  constructor(readonly max: number) {}
  /** Whether `id` was seen before; remembers it. */
  seen(id: string): boolean {
    if (this.#ids.has(id)) return true;
    this.#ids.add(id);
    if (this.#ids.size > this.max) this.#ids.delete(this.#ids.values().next().value!);
    return false;
  }
}

function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<T>((r) => (timer = setTimeout(() => r(fallback), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The connection of one extension, from the service settings. */
function linkFor(
  config: MqttServiceConfig,
  spec: MqttExtensionSpec,
  onMessage: (payload: Uint8Array, dup: boolean) => void,
): MqttLink {
  return new MqttLink({
    url: config.url,
    tls: config.tls,
    username: formatTriplet(spec.triplet),
    password: spec.token,
    clientId: clientId(config.clientIdPrefix ?? "vcdext"),
    topic: monitorTopic(spec.triplet),
    log: config.log.child({ extension: spec.label }),
    backoff: config.backoff ?? BROKER_RECONNECT,
    refusedRetryMs: config.refusedRetryMs ?? 30_000,
    startupRetries: config.startupRetries ?? 5,
    keepaliveSec: config.keepaliveSec ?? 60,
    connectTimeoutMs: config.connectTimeoutMs ?? 10_000,
    random: config.random ?? Math.random,
    onMessage,
    onState: (state) => config.onState?.(spec.label, state),
  });
}

/** The running service: one link per extension, the requests in flight, the shutdown signal. */
class MqttService implements RunningMqttService {
  readonly #config: MqttServiceConfig;
  readonly #log: Logger;
  readonly #links: MqttLink[] = [];
  readonly #byLabel = new Map<string, MqttLink>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #shutdown = new AbortController();
  #stopping = false;

  constructor(config: MqttServiceConfig) {
    this.#config = config;
    this.#log = config.log;
    for (const spec of config.extensions) {
      const recent = new RecentIds(config.recentIds ?? 4_096);
      const link: MqttLink = linkFor(
        config,
        spec,
        (payload, dup) => this.#receive(spec, link, recent, payload, dup),
      );
      this.#links.push(link);
      this.#byLabel.set(spec.label, link);
      if (config.startPaused) void link.pause(0);
    }
  }

  #chosen(label: string | undefined): MqttLink[] {
    if (label === undefined) return this.#links;
    const link = this.#byLabel.get(label);
    if (link === undefined) throw new Error(`no MQTT extension ${label}`);
    return [link];
  }

  async pause(label?: string): Promise<void> {
    await Promise.all(this.#chosen(label).map((l) => l.pause(2_000)));
  }

  async resume(label?: string): Promise<void> {
    if (this.#stopping) return;
    await Promise.all(this.#chosen(label).map((l) => l.resume()));
  }

  connected(): boolean {
    return !this.#stopping && this.#links.every((l) => l.connected);
  }

  /** Connects every link (see {@linkcode startMqttService}). */
  async start(): Promise<void> {
    try {
      await Promise.all(this.#links.map((l) => l.start()));
    } catch (e) {
      await Promise.all(this.#links.map((l) => l.close(1_000)));
      throw e;
    }
  }

  #receive(
    spec: MqttExtensionSpec,
    link: MqttLink,
    recent: RecentIds,
    payload: Uint8Array,
    dup: boolean,
  ): void {
    if (this.#stopping) return;
    const kind = classify(payload, spec.limits);
    if (kind.kind === "ignore") {
      this.#log.debug({ extension: spec.label, why: kind.why }, "MQTT message ignored");
      this.#config.onIgnore?.(spec.label, kind.why);
      return;
    }
    const seen = recent.seen(kind.requestId);
    const delivery: Delivery<MqttAddress> = {
      content: payload,
      reply: { to: { topic: respondTopic(spec.triplet), requestId: kind.requestId } },
      topic: monitorTopic(spec.triplet),
      headers: {},
      redelivered: dup || seen,
      timestamp: undefined,
      receivedAt: Date.now(),
    };
    const job = this.#carryOut(spec, link, delivery).catch((e) => {
      this.#log.error({ err: errorFields(e), extension: spec.label }, "MQTT delivery failed");
    });
    this.#inFlight.add(job);
    job.finally(() => this.#inFlight.delete(job));
  }

  async #carryOut(
    spec: MqttExtensionSpec,
    link: MqttLink,
    delivery: Delivery<MqttAddress>,
  ): Promise<void> {
    const config = this.#config;
    const started = performance.now();
    const decision = await spec.handle(delivery, this.#shutdown.signal);
    if (decision.kind === "ack") return;
    if (decision.kind === "reject") {
      this.#log.warn(
        { extension: spec.label, code: decision.code, reason: decision.reason },
        "MQTT message dropped without a reply",
      );
      config.onReject?.(spec.label, decision.code);
      return;
    }
    const published = await link.publish(
      decision.to.topic,
      decision.body,
      config.publishTimeoutMs ?? 5_000,
    );
    if (!published) {
      this.#log.warn(
        { extension: spec.label, requestId: decision.requestId },
        "reply not acknowledged by the MQTT broker in time; vCD will time the request out",
      );
    }
    config.onReply?.(decision, published ? "published" : "lost", performance.now() - started);
  }

  inFlight(): number {
    return this.#inFlight.size;
  }

  ready(): boolean {
    return !this.#stopping && this.#links.every((l) => l.ready);
  }

  async stop(drainMs: number): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#links.map((l) => l.unsubscribe(2_000)));
    const settled = () => Promise.allSettled([...this.#inFlight]).then(() => true);
    const drained = await within(settled(), drainMs, false);
    if (!drained) {
      this.#log.warn({ left: this.#inFlight.size }, "drain time over; aborting what is left");
      this.#shutdown.abort();
      // Aborted handlers answer at once; their replies get a moment to go out.
      await within(settled(), 1_000, false);
    }
    await Promise.all(this.#links.map((l) => l.close(2_000)));
    this.#log.info({ drained }, "MQTT service stopped");
  }
}

/**
 * Connects every extension and serves its requests until stopped. Resolves once each one is
 * subscribed or was refused (a wrong token is logged and retried slowly, not fatal); rejects
 * when one cannot connect at all within `startupRetries` attempts.
 */
export async function startMqttService(config: MqttServiceConfig): Promise<RunningMqttService> {
  const service = new MqttService(config);
  await service.start();
  return {
    ...detached(service),
    pause: (label) => service.pause(label),
    resume: (label) => service.resume(label),
    connected: () => service.connected(),
  };
}
