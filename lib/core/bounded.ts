/**
 * @module A table of recent entries by id, bounded by entries and by bytes, the oldest forgotten
 * first: the storage of the replay memory (lib/core/replay.ts) and of the first receipts
 * (lib/core/receipts.ts). Entries sit in a ring of `maxEntries` slots in the order they were
 * added; an id added again maps to its newest entry, and forgetting an older entry with that id
 * leaves the newer one in place.
 */

/** What {@linkcode RecentById} keeps: an id and the bytes the entry is charged. */
export interface Charged {
  /** The entry's key. */
  readonly id: string;
  /** Bytes the entry is charged against the table's byte bound. */
  readonly bytes: number;
}

/**
 * The table (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RecentById } from "./bounded.ts";
 * const table = new RecentById<{ id: string; bytes: number }>(2, 100);
 * table.add({ id: "a", bytes: 10 });
 * table.add({ id: "b", bytes: 10 });
 * table.add({ id: "c", bytes: 10 }); // over two entries: "a" is forgotten
 * assert.equal(table.get("a"), undefined);
 * assert.equal(table.size, 2);
 * table.add({ id: "d", bytes: 95 }); // over 100 bytes: "b" and "c" go
 * assert.deepEqual([table.size, table.bytes], [1, 95]);
 * ```
 */
export class RecentById<E extends Charged> {
  readonly #byId = new Map<string, E>();
  /** Entries in the order they were added, oldest at `#head`; a ring of `maxEntries` slots. */
  readonly #ring: (E | undefined)[] = [];
  #head = 0;
  #count = 0;
  #bytes = 0;

  /** A table of at most `maxEntries` entries and `maxBytes` bytes together. */
  constructor(readonly maxEntries: number, readonly maxBytes: number) {}

  /** Entries kept now. */
  get size(): number {
    return this.#count;
  }

  /** Bytes the kept entries are charged. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The newest entry with this id, if still kept. */
  get(id: string): E | undefined {
    return this.#byId.get(id);
  }

  /**
   * Adds `entry`, forgetting the oldest entries until it fits. The caller does not add an entry
   * bigger than `maxBytes`, nor any when `maxEntries` is 0.
   */
  add(entry: E): void {
    while (this.#count === this.maxEntries || this.#bytes + entry.bytes > this.maxBytes) {
      this.#forgetOldest();
    }
    this.#ring[(this.#head + this.#count) % this.maxEntries] = entry;
    this.#count++;
    this.#bytes += entry.bytes;
    this.#byId.set(entry.id, entry);
  }

  #forgetOldest(): void {
    const entry = this.#ring[this.#head]!;
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.maxEntries;
    this.#count--;
    this.#bytes -= entry.bytes;
    // Only when the id still maps to this entry: an id added again since keeps its newer one.
    if (this.#byId.get(entry.id) === entry) this.#byId.delete(entry.id);
  }
}
