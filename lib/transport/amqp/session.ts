/**
 * @module One connection's state, made anew on every (re)connect: the consuming channel and its
 * acks, the confirm channel replies go out on, and what the session knows about the reply
 * exchanges requests name (probed on a throw-away channel, remembered in an
 * {@linkcode ExchangeMemory}).
 */

import type { Channel, ChannelModel, ConfirmChannel } from "amqplib";
import { errorFields, type Logger } from "../../observability/log.ts";
import { AckBatcher } from "./acks.ts";
import { ExchangeMemory } from "./exchanges.ts";
import { isNotFound } from "./util.ts";

/**
 * Per-connection state: closed when the consuming channel or the connection goes, and then
 * replaced by a new session once amqplib reconnects.
 */
export class Session {
  /** The tags of the consumers started on {@linkcode consume}, to cancel them on stop. */
  readonly consumerTags: string[] = [];
  /** Acks of the consuming channel. */
  readonly acks: AckBatcher;
  #replies: Promise<ConfirmChannel> | undefined;
  /** The reply channel once open, for the no-wait path. */
  replyChannel: ConfirmChannel | undefined;
  /** Reply exchanges known to exist, and ones found missing (with when); bounded. */
  readonly #exchanges = new ExchangeMemory();
  readonly #probes = new Map<string, Promise<boolean | undefined>>();
  #closed = false;
  readonly #onClose: (() => void)[] = [];

  /** The consuming channel (or the connection) is gone. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Marks the session closed and runs the close hooks once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const hook of this.#onClose.splice(0)) hook();
  }

  /** Runs `hook` when the session closes. */
  onClose(hook: () => void): void {
    if (this.#closed) hook();
    else this.#onClose.push(hook);
  }

  /** `consume`: the channel the service consumes on (and declares with). */
  constructor(readonly model: ChannelModel, readonly consume: Channel, readonly log: Logger) {
    this.acks = new AckBatcher(consume, () => this.closed, log);
  }

  /** `true` when the exchange is known to exist: no need to ask the broker. */
  exchangeKnown(name: string): boolean {
    return this.#exchanges.exists(name);
  }

  /** Closes the reply channel, then the consuming channel. */
  async closeChannels(): Promise<void> {
    this.acks.flush();
    const replies = this.#replies;
    this.#replies = undefined;
    this.replyChannel = undefined;
    if (replies) await replies.then((ch) => ch.close()).catch(() => {});
    await this.consume.close().catch(() => {});
  }

  /** The confirm channel replies go out on, opened on first use and again after it closed. */
  replies(): Promise<ConfirmChannel> {
    if (this.#replies) return this.#replies;
    const created = this.model.createConfirmChannel().then((ch) => {
      ch.on("error", (err: unknown) => {
        this.log.warn({ err: errorFields(err) }, "reply channel closed by the broker");
        if (isNotFound(err)) this.#exchanges.clear();
      });
      ch.on("close", () => {
        if (this.#replies === created) this.#replies = undefined;
        if (this.replyChannel === ch) this.replyChannel = undefined;
      });
      this.replyChannel = ch;
      return ch;
    });
    created.catch(() => {
      if (this.#replies === created) this.#replies = undefined;
    });
    return (this.#replies = created);
  }

  /**
   * Whether a reply exchange exists. A publish to a missing exchange would close the reply
   * channel and fail every reply in flight on it, so an exchange not seen yet is checked on a
   * throw-away channel first. `undefined` when the broker could not be asked. A name no exchange
   * can have (over 255 bytes) is missing: asking would fail, and the reply would loop.
   */
  exchangeExists(name: string, fresh = false): Promise<boolean | undefined> {
    const known = this.#exchanges.lookup(name, fresh);
    if (known !== undefined) return Promise.resolve(known);
    const pending = this.#probes.get(name);
    if (pending) return pending;
    const probe = (async () => {
      let ch: Channel | undefined;
      try {
        ch = await this.model.createChannel();
        ch.on("error", () => {});
        await ch.checkExchange(name);
        this.#exchanges.found(name, true);
        await ch.close().catch(() => {});
        return true;
      } catch (e) {
        if (isNotFound(e)) {
          this.#exchanges.found(name, false);
          return false;
        }
        return undefined;
      } finally {
        this.#probes.delete(name);
      }
    })();
    this.#probes.set(name, probe);
    return probe;
  }
}
