/**
 * @module Leases on RabbitMQ for `--mqtt-ha`: instances that all receive every request (vCD's
 * MQTT broker gives each subscriber a copy) elect one active instance per lease name.
 *
 * **The lease is an exclusive queue** (`vcdext.mqtt-ha.<vendor>.<name>.<version>` per extension
 * triplet). RabbitMQ lets one connection own an exclusive queue; declaring it from any other
 * connection fails with `405 RESOURCE_LOCKED`; the broker deletes it when its owner's connection
 * goes (closed, its socket gone, or its heartbeat missed). The instance whose connection declared
 * it holds the lease; the others try again every `retryMs` (~1 s, jittered) and win once the
 * queue is gone. Chosen over `x-single-active-consumer`, where a consumer cannot ask whether it
 * is the active one (it would need a heartbeat message of the holder's own): with an exclusive
 * queue, "my declare succeeded and my passive check still succeeds" is the whole protocol.
 *
 * **Fencing, and its timing.** A holder must stop answering before anyone else can start. Let
 * `H` be the AMQP heartbeat (`heartbeatSec`, default 1 s, asked of the broker in the URL). The
 * broker frees a lease in two ways:
 *
 * - at once, when the owner's connection closes. Either the holder's process is gone (kill -9:
 *   nothing left to answer), or its socket was closed, which the holder sees as the same close
 *   and stops on in that turn, while a rival still needs its next declare (up to `retryMs`
 *   later), a round trip and an MQTT subscribe before it answers anything;
 * - when it has heard nothing on the connection for its heartbeat timeout (a partition, a
 *   frozen host): RabbitMQ checks every `H` and gives up after two silent checks, so **no
 *   sooner than `H` after the last frame it received** (2–3 `H`; tests/mqtt_ha_test.ts measured
 *   2.6 s with `H` = 1 s on a frozen link).
 *
 * The holder sends a passive `checkQueue` of its leases every `checkEveryMs` (250 ms) on a
 * channel of its own. A check *sent* at `s` that succeeds proves the broker heard from the holder
 * after `s`, so the broker cannot free the lease before `s + H`. The holder counts its lease valid
 * only until `s + validForMs` (750 ms) for the latest successful check: a timer drops it then,
 * and {@linkcode LeaseHolder.held} reads the clock, so an event loop that stalled past it answers
 * nothing on the stale lease either. Since `validForMs < H` (checked), the holder has stopped
 * before the broker can free the lease, let alone before a rival wins it. A check that fails or
 * does not return, a socket error, or amqplib's own missed-heartbeat close drop every lease at
 * once, in the same turn. Takeover: within `retryMs` (~1 s) of a process's death; within 2–3 `H`
 * plus `retryMs` (~3.5 s) of a partition.
 *
 * After a loss the connection is destroyed (so a broker that can still hear us frees the leases
 * at once) and a new one competes again after `retryMs`.
 */

import amqp from "amqplib";
import type { Channel, ChannelModel } from "amqplib";
import { EventEmitter } from "node:events";
import { errorFields, type Logger } from "../../core/logger.ts";
import { safeUrl } from "../../core/redact.ts";
import { type AmqpTls, connectError, socketOptions } from "./connection.ts";
import { withHeartbeat } from "./failover.ts";

/** Timing of a {@linkcode LeaseHolder}; see the module comment for why `validForMs < H`. */
export interface LeaseTiming {
  /** AMQP heartbeat asked of the broker, in seconds; default 1. */
  readonly heartbeatSec: number;
  /** How often a holder checks its leases; default 250 ms. */
  readonly checkEveryMs: number;
  /** How long a successful check keeps a lease valid, from when it was sent; default 750 ms. */
  readonly validForMs: number;
  /** How often a non-holder tries again (and reconnects after a loss); default 1,000 ms. */
  readonly retryMs: number;
}

/** Default timing: stop within 750 ms of silence, broker releases after ≥ 1 s of it. */
export const DEFAULT_LEASE_TIMING: LeaseTiming = {
  heartbeatSec: 1,
  checkEveryMs: 250,
  validForMs: 750,
  retryMs: 1_000,
};

/** Settings of {@linkcode acquireLeases}. */
export interface LeaseOptions {
  /**
   * The broker URLs (`amqp://` or `amqps://`), one per cluster node: one is used at a time, the
   * next after a failed attempt or a lost connection; `heartbeat` is added to each query.
   */
  readonly urls: readonly string[];
  readonly tls?: AmqpTls | undefined;
  /** The leases to compete for (queue names). */
  readonly names: readonly string[];
  readonly log: Logger;
  readonly timing?: Partial<LeaseTiming>;
  /** Connection attempts at start-up before {@linkcode acquireLeases} rejects; default 3. */
  readonly startupRetries?: number;
  /** Source of jitter; default `Math.random`. */
  readonly random?: () => number;
}

/**
 * The lease queue of an extension triplet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { leaseQueueName } from "./lease.ts";
 * const t = { vendor: "example", name: "gcp-ticketing", version: "1.0.0" };
 * assert.equal(leaseQueueName(t), "vcdext.mqtt-ha.example.gcp-ticketing.1.0.0");
 * ```
 */
export function leaseQueueName(t: { vendor: string; name: string; version: string }): string {
  return `vcdext.mqtt-ha.${t.vendor}.${t.name}.${t.version}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** One connection's hold on its leases; dead once dropped. */
interface Session {
  readonly model: ChannelModel;
  dead: boolean;
  /** Resolves when the session is dropped. */
  readonly over: Promise<void>;
  end(): void;
}

/**
 * Competes for leases and holds the ones it wins. Events: `won` (name) when a lease is won,
 * `lost` (name, why) when it is lost; `lost` is emitted synchronously in the turn the loss is
 * noticed. Build it with {@linkcode acquireLeases}.
 */
export class LeaseHolder extends EventEmitter<{ won: [string]; lost: [string, string] }> {
  readonly #o: LeaseOptions;
  readonly #t: LeaseTiming;
  readonly #log: Logger;
  readonly #held = new Set<string>();
  #validUntil = 0;
  #expiry: ReturnType<typeof setTimeout> | undefined;
  #session: Session | undefined;
  readonly #closed = new AbortController();
  /** Which of the URLs to try next (modulo their number). */
  #urlIndex = 0;
  #loop: Promise<void> | undefined;

  constructor(options: LeaseOptions) {
    super();
    this.#o = options;
    this.#t = { ...DEFAULT_LEASE_TIMING, ...options.timing };
    this.#log = options.log.child({ component: "lease" });
    const t = this.#t;
    if (t.validForMs >= t.heartbeatSec * 1_000) {
      throw new RangeError("validForMs must stay below the heartbeat, or two may answer at once");
    }
    if (t.checkEveryMs >= t.validForMs) {
      throw new RangeError("checkEveryMs must stay below validForMs, or a held lease lapses");
    }
  }

  /** Whether `name` is held now: won, and confirmed by the broker within `validForMs`. */
  held(name: string): boolean {
    return this.#held.has(name) && performance.now() < this.#validUntil;
  }

  /** The leases held now. */
  heldNames(): string[] {
    return this.#o.names.filter((n) => this.held(n));
  }

  /** Connected to the broker (holding or competing). */
  connected(): boolean {
    return this.#session !== undefined && !this.#session.dead;
  }

  /** Connects (rejects after `startupRetries` failed attempts), then competes until closed. */
  async start(): Promise<void> {
    const tries = this.#o.startupRetries ?? 3;
    for (let attempt = 1;; attempt++) {
      try {
        this.#session = await this.#connect();
        break;
      } catch (e) {
        if (attempt >= tries) throw e;
        await sleep(this.#t.retryMs, this.#closed.signal);
      }
    }
    await this.#compete(this.#session);
    this.#loop = this.#run(this.#session);
  }

  async #connect(): Promise<Session> {
    const given = this.#o.urls[this.#urlIndex % this.#o.urls.length]!;
    const url = withHeartbeat(given, this.#t.heartbeatSec);
    let model: ChannelModel;
    try {
      model = await amqp.connect(url, {
        ...socketOptions(this.#o.tls),
        timeout: this.#t.retryMs * 5,
        clientProperties: { connection_name: "vcdext mqtt-ha lease" },
      });
    } catch (e) {
      this.#urlIndex++;
      throw connectError(given, e);
    }
    let end!: () => void;
    const over = new Promise<void>((r) => (end = r));
    const session: Session = { model, dead: false, over, end };
    model.on(
      "error",
      (e: unknown) => this.#drop(session, `connection error: ${errorFields(e).message}`),
    );
    model.on("close", () => this.#drop(session, "connection closed"));
    this.#log.info({ url: safeUrl(given) }, "lease connection up");
    return session;
  }

  /** Holds, checks and competes on one connection after another until closed. */
  async #run(first: Session): Promise<void> {
    let session: Session | undefined = first;
    const signal = this.#closed.signal;
    while (!signal.aborted) {
      if (session !== undefined) {
        const checking = this.#checkLoop(session);
        const competing = this.#competeLoop(session);
        await session.over;
        await Promise.all([checking, competing]);
        session = undefined;
      }
      await sleep(this.#jittered(), signal);
      if (signal.aborted) break;
      try {
        session = this.#session = await this.#connect();
        if (signal.aborted) {
          await this.#endQuietly(session);
          break;
        }
        await this.#compete(session);
      } catch (e) {
        this.#log.debug({ err: errorFields(e) }, "lease connection failed; retrying");
      }
    }
  }

  #jittered(): number {
    return Math.round(this.#t.retryMs * (0.75 + 0.5 * (this.#o.random ?? Math.random)()));
  }

  /** Declares every lease not held: the exclusive declare wins it, or is refused (locked). */
  async #compete(session: Session): Promise<void> {
    for (const name of this.#o.names) {
      if (session.dead || this.#held.has(name)) continue;
      let ch: Channel | undefined;
      try {
        ch = await session.model.createChannel();
        ch.on("error", () => {});
        const sent = performance.now();
        await ch.assertQueue(name, { exclusive: true, durable: false, autoDelete: false });
        if (session.dead || this.#closed.signal.aborted) return;
        this.#held.add(name);
        this.#confirmed(session, sent);
        this.#log.info({ lease: name }, "lease won: this instance is active");
        this.emit("won", name);
      } catch (e) {
        if (!session.dead) {
          this.#log.debug({ lease: name, err: errorFields(e) }, "lease held elsewhere");
        }
      } finally {
        ch?.close().catch(() => {});
      }
    }
  }

  async #competeLoop(session: Session): Promise<void> {
    while (!session.dead) {
      await Promise.race([sleep(this.#jittered(), this.#closed.signal), session.over]);
      if (session.dead) return;
      if (this.#held.size < this.#o.names.length) await this.#compete(session);
    }
  }

  /** Every `checkEveryMs`, a passive check of every held lease on a channel of its own. */
  async #checkLoop(session: Session): Promise<void> {
    let ch: Channel | undefined;
    while (!session.dead) {
      await Promise.race([sleep(this.#t.checkEveryMs, this.#closed.signal), session.over]);
      if (session.dead || this.#held.size === 0) continue;
      const sent = performance.now();
      try {
        if (ch === undefined) {
          ch = await session.model.createChannel();
          ch.on("error", () => {});
        }
        const checks = [...this.#held].map((n) => ch!.checkQueue(n));
        await within(Promise.all(checks), this.#t.validForMs);
        if (!session.dead) this.#confirmed(session, sent);
      } catch (e) {
        this.#drop(session, `lease check failed: ${errorFields(e).message}`);
      }
    }
  }

  /** A check sent at `sent` succeeded: valid until `sent + validForMs`; a timer drops it then. */
  #confirmed(session: Session, sent: number): void {
    this.#validUntil = Math.max(this.#validUntil, sent + this.#t.validForMs);
    this.#armExpiry(session);
  }

  #armExpiry(session: Session): void {
    clearTimeout(this.#expiry);
    this.#expiry = setTimeout(() => {
      if (session.dead) return;
      if (performance.now() >= this.#validUntil) this.#drop(session, "lease not confirmed in time");
      else this.#armExpiry(session); // a timer that fired early
    }, Math.max(0, Math.ceil(this.#validUntil - performance.now())));
  }

  /** Drops every lease at once (`lost` per lease, in this turn) and the connection. */
  #drop(session: Session, why: string): void {
    if (session.dead) return;
    session.dead = true;
    if (!this.#closed.signal.aborted) this.#urlIndex++; // the next node, if there are several
    clearTimeout(this.#expiry);
    this.#validUntil = 0;
    const lost = [...this.#held];
    this.#held.clear();
    for (const name of lost) {
      this.#log.warn({ lease: name, why }, "lease lost: this instance stops answering");
      this.emit("lost", name, why);
    }
    if (lost.length === 0 && !this.#closed.signal.aborted) {
      this.#log.warn({ why }, "lease connection lost; reconnecting");
    }
    // Destroy rather than close: a partitioned link would hold a close handshake up.
    const stream =
      (session.model.connection as unknown as { stream?: { destroy(e?: Error): unknown } })
        .stream;
    try {
      stream?.destroy();
    } catch { /* gone already */ }
    session.end();
  }

  /** Gives every lease up (the broker frees them at once) and stops competing. */
  async close(): Promise<void> {
    this.#closed.abort();
    const session = this.#session;
    if (session !== undefined && !session.dead) await this.#endQuietly(session);
    await this.#loop;
  }

  /** Ends a session in order (`lost` for what it held, then a clean close). */
  async #endQuietly(session: Session): Promise<void> {
    const lost = [...this.#held];
    session.dead = true;
    this.#held.clear();
    this.#validUntil = 0;
    clearTimeout(this.#expiry);
    for (const name of lost) {
      this.#log.info({ lease: name }, "lease given up");
      this.emit("lost", name, "closed");
    }
    await within(session.model.close(), 2_000).catch(() => {});
    session.end();
  }
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Listeners of {@linkcode acquireLeases}. */
export interface LeaseListeners {
  won(name: string): void;
  lost(name: string, why: string): void;
}

/**
 * Starts a {@linkcode LeaseHolder} with `on` listening before the first declare; resolves once
 * connected and the first round of declares is done (it may hold none), rejects with a
 * credential-free error when the broker cannot be reached at start-up.
 */
export async function acquireLeases(
  options: LeaseOptions,
  on: LeaseListeners,
): Promise<LeaseHolder> {
  const holder = new LeaseHolder(options);
  holder.on("won", on.won);
  holder.on("lost", on.lost);
  await holder.start();
  return holder;
}
