/**
 * @module One MQTT connection of the service (one per extension: each logs in with its own
 * triplet and token): connect with MQTT 3.1.1 and a clean session, subscribe to the monitor
 * topic (QoS 1), and after every loss connect and **subscribe again** (the broker keeps
 * nothing), with capped, jittered backoff (lib/core/retry.ts's `backoffDelay`; the service
 * passes `BROKER_RECONNECT`, the AMQP connection's policy). A refused login (wrong token) is one clear error line and a
 * slow retry, not a hot loop. The only module besides service.ts that imports `mqtt`.
 */

import mqtt from "mqtt";
import type { IClientOptions, MqttClient } from "mqtt";
import { Buffer } from "node:buffer";
import { errorFields, type Logger } from "../../core/logger.ts";
import { backoffDelay, type BackoffPolicy } from "../../core/retry.ts";
import { passwordsOf, safeUrl, scrub } from "../../core/redact.ts";

/** TLS settings for `mqtts://` and `wss://`; the caller reads the files. */
export interface MqttTls {
  /** PEM of the CA(s) that signed the broker's certificate (default: the system's). */
  readonly ca?: string;
  /** Skip verification of the broker's certificate: explicit, never implied. */
  readonly insecure?: boolean;
}

/**
 * Turns Nagle's algorithm off on the client's socket, as the AMQP side does (`noDelay`): a reply
 * is one small packet, and with Nagle on it waits for the broker's delayed ACK (about 40 ms on
 * Linux) whenever an earlier one is unacknowledged. MQTT.js leaves it on. WebSocket streams
 * (`ws://`, `wss://`) set it themselves and have no `setNoDelay` here.
 */
export function noDelay(client: MqttClient): void {
  const stream = (client as unknown as { stream?: { setNoDelay?: (on: boolean) => unknown } })
    .stream;
  if (typeof stream?.setNoDelay === "function") stream.setNoDelay(true);
}

/** Settings of one {@linkcode MqttLink}. */
export interface LinkOptions {
  /** `mqtt://`, `mqtts://`, `ws://` or `wss://` (vCD: `wss://<cell>/messaging/mqtt`). */
  readonly url: string;
  readonly tls?: MqttTls | undefined;
  /** The extension's triplet. */
  readonly username: string;
  /** The extension's token: a credential, never logged. */
  readonly password: string;
  /** Unique per connection: a shared one makes the broker drop the older session. */
  readonly clientId: string;
  /** The monitor topic to subscribe to (QoS 1). */
  readonly topic: string;
  readonly log: Logger;
  /** Reconnect delays after a lost connection (the service's default: `BROKER_RECONNECT`). */
  readonly backoff: BackoffPolicy;
  /** Wait after a refused login or subscription. */
  readonly refusedRetryMs: number;
  /** Failed attempts before {@linkcode MqttLink.start} gives up, when never connected. */
  readonly startupRetries: number;
  readonly keepaliveSec: number;
  readonly connectTimeoutMs: number;
  readonly random: () => number;
  /** A message on the monitor topic; `dup` is the packet's duplicate flag. */
  readonly onMessage: (payload: Uint8Array, dup: boolean) => void;
  /** Subscribed after a (re)connect, lost, or refused (login or subscription). */
  readonly onState?: ((state: "subscribed" | "disconnected" | "refused") => void) | undefined;
}

/** CONNACK return codes of MQTT 3.1.1 that no retry soon will change. */
const REFUSED: Readonly<Record<number, string>> = {
  1: "the broker does not accept MQTT 3.1.1",
  2: "the broker rejected the client id",
  4: "bad user name or password: check the extension's token and triplet",
  5: "not authorised: check the extension's token and triplet",
};

/** One connection: connected and subscribed, or getting there. */
export class MqttLink {
  readonly #o: LinkOptions;
  readonly #secrets: string[];
  #client: MqttClient | undefined;
  /** Connected, and subscribed once on this connection (replies may go out). */
  #up = false;
  /** Taking requests: up, and not unsubscribed for a shutdown. */
  #subscribed = false;
  #connectedOnce = false;
  #failures = 0;
  #refusedStreak = false;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waiters: (() => void)[] = [];
  #started: { resolve(): void; reject(e: Error): void } | undefined;
  /** Set when a subscription was refused, read by the close that follows. */
  #pendingRefusal: string | undefined;
  /** Paused ({@linkcode MqttLink.pause}): not subscribed, and every message that comes is dropped. */
  #paused = false;

  constructor(options: LinkOptions) {
    this.#o = options;
    this.#secrets = [options.password, ...passwordsOf(options.url)];
  }

  /** Connected and subscribed to the monitor topic. */
  get ready(): boolean {
    return this.#subscribed && !this.#stopped;
  }

  /**
   * Starts connecting. Resolves once subscribed, or at the first refused login (logged; it keeps
   * retrying slowly); rejects after `startupRetries` failed attempts when it never connected.
   */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#started = { resolve, reject };
      this.#connect();
    });
  }

  #settleStart(error?: Error): void {
    const started = this.#started;
    this.#started = undefined;
    if (error) started?.reject(error);
    else started?.resolve();
  }

  #why(e: unknown): string {
    return scrub(errorFields(e).message, this.#secrets);
  }

  #connect(): void {
    if (this.#stopped) return;
    const o = this.#o;
    const options: IClientOptions = {
      protocolVersion: 4,
      clean: true,
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      keepalive: o.keepaliveSec,
      connectTimeout: o.connectTimeoutMs,
      // Reconnecting is ours (backoff, jitter, a slow retry when refused), and so is
      // subscribing again: a fresh client per attempt, nothing carried over.
      reconnectPeriod: 0,
      resubscribe: false,
      ...(o.tls?.ca === undefined ? {} : { ca: [o.tls.ca] }),
      ...(o.tls?.insecure ? { rejectUnauthorized: false } : {}),
    };
    const client = mqtt.connect(o.url, options);
    this.#client = client;
    let refused: string | undefined;
    let lastError: unknown;
    client.on("error", (e: Error & { code?: unknown }) => {
      lastError = e;
      if (typeof e.code === "number" && REFUSED[e.code] !== undefined) refused = REFUSED[e.code];
    });
    client.on("message", (_topic, payload, packet) => {
      if (this.#paused) return; // paused: dropped, never answered
      o.onMessage(payload, packet.dup === true);
    });
    client.on("connect", () => {
      noDelay(client);
      this.#subscribe(client);
    });
    client.on("close", () => {
      if (this.#client !== client) return;
      client.end(true);
      this.#client = undefined;
      const wasUp = this.#up;
      this.#up = false;
      this.#subscribed = false;
      if (this.#stopped) return;
      if (wasUp) {
        o.log.warn({ topic: o.topic }, "MQTT connection lost; reconnecting");
        o.onState?.("disconnected");
      }
      const subscription = this.#pendingRefusal;
      this.#pendingRefusal = undefined;
      if (refused !== undefined) this.#refused(`login refused: ${refused}`);
      else if (subscription !== undefined) this.#refused(subscription);
      else this.#failed(lastError);
    });
  }

  async #subscribe(client: MqttClient): Promise<void> {
    const o = this.#o;
    if (this.#paused) return this.#connectedPaused(client);
    let granted: { qos: number }[];
    try {
      granted = await client.subscribeAsync(o.topic, { qos: 1 });
    } catch (e) {
      if (this.#client !== client) return;
      o.log.warn({ topic: o.topic, err: { message: this.#why(e) } }, "MQTT subscribe failed");
      client.end(true); // "close" follows: reconnect with backoff
      return;
    }
    if (this.#client !== client || this.#stopped) return;
    if (granted.some((g) => g.qos === 128)) {
      // The broker took the login but not the topic: the token's extension is not this triplet.
      this.#pendingRefusal = `subscription to ${o.topic} refused: ` +
        "the broker does not let this triplet read its monitor topic";
      client.end(true);
      return;
    }
    this.#up = true;
    this.#subscribed = true;
    this.#connectedOnce = true;
    this.#failures = 0;
    this.#refusedStreak = false;
    o.log.info(
      { url: safeUrl(o.url), topic: o.topic, clientId: o.clientId },
      "MQTT connected and subscribed",
    );
    o.onState?.("subscribed");
    for (const w of this.#waiters.splice(0)) w();
    this.#settleStart();
  }

  #refused(why: string): void {
    const o = this.#o;
    if (!this.#refusedStreak) {
      // One clear line per streak; the retries that follow are debug lines.
      o.log.error(
        { url: safeUrl(o.url), user: o.username, retryMs: o.refusedRetryMs },
        `MQTT ${why}; retrying every ${Math.round(o.refusedRetryMs / 1000)} s`,
      );
    } else o.log.debug({ user: o.username }, `MQTT ${why} again`);
    this.#refusedStreak = true;
    o.onState?.("refused");
    this.#settleStart();
    this.#schedule(Math.round(o.refusedRetryMs * (1 - o.backoff.jitter * o.random() * 0.5)));
  }

  #failed(error: unknown): void {
    const o = this.#o;
    this.#failures++;
    const why = error === undefined ? "connection closed" : this.#why(error);
    if (!this.#connectedOnce && this.#started && this.#failures >= o.startupRetries) {
      this.#stopped = true;
      this.#settleStart(new Error(`Cannot connect to ${safeUrl(o.url)}: ${why}`));
      return;
    }
    // retry.ts counts retries from 0: the first failure waits its first delay.
    const delay = backoffDelay(this.#failures - 1, o.backoff, o.random);
    o.log.debug(
      { attempt: this.#failures, delayMs: delay, err: { message: why } },
      "MQTT reconnect",
    );
    this.#schedule(delay);
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#connect();
    }, delayMs);
  }

  /**
   * Publishes a reply (QoS 1, retain off): at once when connected, else once (re)connected
   * within `timeoutMs`. `false` when it was not acknowledged in time.
   */
  async publish(topic: string, body: Uint8Array, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    if (!this.#up) {
      if (this.#stopped) return false;
      const ok = await this.#whenReady(timeoutMs);
      if (!ok) return false;
    }
    const client = this.#client;
    if (client === undefined) return false;
    const payload = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
      client.publish(topic, payload, { qos: 1, retain: false }, (err) => {
        clearTimeout(timer);
        resolve(err === undefined || err === null);
      });
    });
  }

  #whenReady(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(done);
    });
  }

  /** Connected while paused: up (replies may go out), not subscribed. */
  #connectedPaused(client: MqttClient): void {
    if (this.#client !== client || this.#stopped) return;
    this.#up = true;
    this.#connectedOnce = true;
    this.#failures = 0;
    this.#refusedStreak = false;
    this.#o.log.info(
      { url: safeUrl(this.#o.url), clientId: this.#o.clientId },
      "MQTT connected (paused)",
    );
    for (const w of this.#waiters.splice(0)) w();
    this.#settleStart();
  }

  /** Connected to the broker (subscribed or paused). */
  get connected(): boolean {
    return this.#up && !this.#stopped;
  }

  /**
   * Stops taking requests until {@linkcode MqttLink.resume}: from this turn on every message
   * that arrives is dropped unanswered, and the subscription is withdrawn (and not made again
   * after a reconnect). Replies to requests taken before still go out.
   */
  pause(timeoutMs: number): Promise<void> {
    this.#paused = true;
    return this.unsubscribe(timeoutMs);
  }

  /** Takes requests again after {@linkcode MqttLink.pause}: subscribes now when connected. */
  async resume(): Promise<void> {
    if (!this.#paused) return;
    this.#paused = false;
    const client = this.#client;
    if (client !== undefined && client.connected && this.#up) await this.#subscribe(client);
  }

  /** Stops taking requests (unsubscribes), keeping the connection for the replies to come. */
  async unsubscribe(timeoutMs: number): Promise<void> {
    const client = this.#client;
    this.#subscribed = false;
    if (client === undefined || !client.connected) return;
    const timer = new Promise<void>((r) => setTimeout(r, timeoutMs));
    await Promise.race([client.unsubscribeAsync(this.#o.topic).then(() => {}, () => {}), timer]);
  }

  /** Closes the connection (pending acknowledgements get `timeoutMs`) and stops reconnecting. */
  async close(timeoutMs: number): Promise<void> {
    this.#stopped = true;
    this.#up = false;
    this.#subscribed = false;
    clearTimeout(this.#timer);
    for (const w of this.#waiters.splice(0)) w();
    this.#settleStart(new Error("stopped"));
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const forced = new Promise<void>((r) => {
      timer = setTimeout(() => {
        client.end(true);
        r();
      }, timeoutMs);
    });
    await Promise.race([client.endAsync(false).catch(() => {}), forced]);
    clearTimeout(timer);
  }
}
