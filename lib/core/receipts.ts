/**
 * @module When this process first received each recent request, so that a redelivery of one it
 * received longer ago than vCD's timeout is refused without running its handler, whether or not
 * the message carries a timestamp (lib/core/service.ts). A memory bounded by entries and bytes,
 * the oldest receipt forgotten first.
 *
 * **Which receipts it keeps.** The redeliveries that matter follow a lost connection or channel:
 * the broker hands back what was delivered and not yet acked, at most a prefetch window, and
 * these are the requests received last before the loss (nothing is received while the
 * connection is down). Forgetting the oldest receipts first keeps exactly those, as long as
 * the memory holds more entries than arrive while a request is being handled (unacked requests
 * are few, a prefetch window, but a slow one may stay unacked while others pass it). The
 * default 8,192 entries (about 3.5 MiB with vCD's UUID ids and URNs; 4 MiB at most) cover
 * the handler time limit of 8 s up to about 1,000 requests a second: beyond that, a redelivery
 * of a slow request may find no receipt, and is then refused only when its timestamp proves its
 * age, or handled as before (the broker's message TTL still covers what waited in the queue).
 * A receipt of more than 4 KiB (ids and callers that no cell sends) is not kept.
 *
 * **Which request a receipt is for.** The request `id`, the caller (`org` and `user`, compared
 * exactly) and the message length: a different request that reuses an id is recorded as new,
 * never refused for another's age.
 */

import { RecentById } from "./bounded.ts";

/** Bounds of a {@linkcode FirstReceipts}. */
export interface ReceiptLimits {
  /** Receipts kept at most. Default 8,192. */
  readonly entries?: number;
  /** Bytes all receipts may hold together. Default 4 MiB. */
  readonly bytes?: number;
}

/** Default limits of {@linkcode FirstReceipts}. */
export const RECEIPT_DEFAULTS: Required<ReceiptLimits> = {
  entries: 8_192,
  bytes: 4 * 1_048_576,
};

/** Bytes one receipt may hold; a bigger one is not kept. */
const MAX_RECEIPT_BYTES = 4_096;

/** Charged per receipt besides its strings: the record, its ring slot and its map entry. */
const RECEIPT_OVERHEAD = 160;

/** One receipt: the request, its caller and length, and when it was first received. */
class Receipt {
  constructor(
    readonly id: string,
    readonly org: string,
    readonly user: string,
    readonly length: number,
    readonly at: number,
    readonly bytes: number,
  ) {}
}

/**
 * First receipt times of recent requests (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FirstReceipts } from "./receipts.ts";
 * const receipts = new FirstReceipts({ entries: 2 });
 * const caller = { org: "urn:vcloud:org:a", user: "urn:vcloud:user:u" };
 * assert.equal(receipts.note("r1", caller, 100, 1_000), 1_000);
 * assert.equal(receipts.note("r1", caller, 100, 15_000), 1_000); // a redelivery: first receipt
 * assert.equal(receipts.note("r1", caller, 99, 15_000), 15_000); // another request, same id
 * ```
 */
export class FirstReceipts {
  readonly #table: RecentById<Receipt>;

  constructor(limits: ReceiptLimits = {}) {
    this.#table = new RecentById(
      Math.max(0, Math.floor(limits.entries ?? RECEIPT_DEFAULTS.entries)),
      Math.max(0, limits.bytes ?? RECEIPT_DEFAULTS.bytes),
    );
  }

  /** Receipts kept now. */
  get size(): number {
    return this.#table.size;
  }

  /** Bytes the kept receipts are charged. */
  get bytes(): number {
    return this.#table.bytes;
  }

  /**
   * Notes that this request (`length` bytes, from this caller) was received `at`, and answers
   * when it was first received: an earlier receipt of the same request, else `at`.
   */
  note(
    id: string,
    caller: { readonly org: string; readonly user: string },
    length: number,
    at: number,
  ): number {
    const table = this.#table;
    const known = table.get(id);
    if (
      known !== undefined && known.org === caller.org && known.user === caller.user &&
      known.length === length
    ) {
      return known.at;
    }
    const bytes = RECEIPT_OVERHEAD + (id.length + caller.org.length + caller.user.length) * 2;
    if (table.maxEntries === 0 || bytes > Math.min(table.maxBytes, MAX_RECEIPT_BYTES)) return at;
    table.add(new Receipt(id, caller.org, caller.user, length, at, bytes));
    return at;
  }
}
