/**
 * @module What an AMQP session remembers about the reply exchanges requests name: which exist
 * (so a reply is published without asking the broker first) and which were found missing, and
 * when (so a burst of requests naming one missing exchange asks the broker once). The names
 * come from the requests' `replyToExchange` header, so anyone who can publish a request chooses
 * them: the memory is bounded by entries, and by bytes through the name length.
 *
 * - A name over 255 UTF-8 bytes is no AMQP exchange name (a `shortstr`): it is missing without
 *   asking the broker, and not remembered. Before, the broker could not be asked about it, the
 *   reply was requeued, and the request looped through the service about a thousand times a
 *   second.
 * - At most {@linkcode MAX_REMEMBERED_EXCHANGES} names are kept, so at most about 130 KB (255
 *   characters at two bytes, and the map entry); past that the oldest goes first. Forgetting an
 *   exchange that exists costs one more check with the broker, never a wrong answer.
 */

import { Buffer } from "node:buffer";

/** Exchange names remembered at most (existing and missing together). */
export const MAX_REMEMBERED_EXCHANGES = 256;

/** How long an exchange found missing is taken as missing without asking again. */
export const MISSING_EXCHANGE_TTL_MS = 5_000;

/**
 * Whether a name can be an AMQP exchange name: at most 255 bytes of UTF-8.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isExchangeName } from "./exchanges.ts";
 * assert.equal(isExchangeName("vcd.replies"), true);
 * assert.equal(isExchangeName("é".repeat(128)), false); // 256 bytes
 * ```
 */
export function isExchangeName(name: string): boolean {
  // Fewer than 86 characters are at most 255 bytes whatever they are; no need to count.
  return name.length < 86 || (name.length <= 255 && Buffer.byteLength(name, "utf8") <= 255);
}

/**
 * Exchanges known to exist or found missing, bounded (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ExchangeMemory } from "./exchanges.ts";
 * const memory = new ExchangeMemory();
 * assert.equal(memory.lookup("vcd.replies"), undefined); // ask the broker
 * memory.found("vcd.replies", true);
 * assert.equal(memory.lookup("vcd.replies"), true);
 * ```
 */
export class ExchangeMemory {
  /** `true` when it exists, else when it was found missing (ms since the epoch). */
  readonly #names = new Map<string, true | number>();
  readonly #max: number;
  readonly #now: () => number;

  /** At most `max` names; `now` is the clock missing names age by. */
  constructor(max = MAX_REMEMBERED_EXCHANGES, now: () => number = Date.now) {
    this.#max = max;
    this.#now = now;
  }

  /** Names remembered now. */
  get size(): number {
    return this.#names.size;
  }

  /** Whether the exchange is known to exist (the default exchange `""` always does). */
  exists(name: string): boolean {
    return name === "" || this.#names.get(name) === true;
  }

  /**
   * `true` when known to exist, `false` when found missing lately (or not a valid name), and
   * `undefined` when the broker must be asked. With `fresh`, a missing one is asked about again.
   */
  lookup(name: string, fresh = false): boolean | undefined {
    if (name === "") return true;
    if (!isExchangeName(name)) return false;
    const known = this.#names.get(name);
    if (known === true) return true;
    if (!fresh && known !== undefined && this.#now() - known < MISSING_EXCHANGE_TTL_MS) {
      return false;
    }
    return undefined;
  }

  /** Records what the broker said about a (valid) name. */
  found(name: string, exists: boolean): void {
    if (!isExchangeName(name) || this.#max <= 0) return;
    this.#names.delete(name); // re-inserted last: the oldest goes first
    while (this.#names.size >= this.#max) this.#names.delete(this.#names.keys().next().value!);
    this.#names.set(name, exists ? true : this.#now());
  }

  /** Forgets everything (after the broker said an exchange vanished). */
  clear(): void {
    this.#names.clear();
  }
}
