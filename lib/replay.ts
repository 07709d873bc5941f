/**
 * @module What the service remembers of requests it answered, so that a broker redelivery of
 * one gets the same answer without its handler running twice: a memory bounded by entries and
 * by bytes, whose entries only answer the very request they were made for.
 *
 * **Which request an entry answers.** An entry is found by the request `id`, but it answers a
 * redelivery only when the caller and the content match too: the security context's `org` and
 * `user` are compared exactly, and the message bytes by length and a keyed 64-bit hash (two
 * 32-bit lanes, seeded at random per process). A broker redelivery carries the very same bytes,
 * so it always matches; a different request that reuses the id (another tenant, or a cell that
 * reuses ids) does not, and is handled on its own. The exact comparison of `org` and `user`
 * means a reply can never reach another caller, whatever the hash does; the hash only has to
 * tell one caller's requests apart, and an accidental equality of both lanes and the length is
 * about one in 2^64. A cryptographic digest would cost about 5 µs per request (about half of
 * the whole pure path) and buy nothing the exact caller comparison does not already give.
 *
 * **Bytes.** Each entry is charged what it holds: the id, `org` and `user`, the reply's body
 * and header text (at two bytes a character, the most V8 uses) and a fixed overhead. The
 * oldest entries go when the entry count or the byte budget would be exceeded.
 *
 * **A reply too big to keep** (over the per-entry limit) is not kept. Then:
 * - for a safe method (`GET`, `HEAD`, `OPTIONS`), nothing is remembered: a redelivery runs the
 *   handler again, which for a read repeats no side effect and gives the current answer;
 * - for any other method, a small record (caller, content hash, method, status) is kept instead,
 *   and a redelivery is answered from it without running the handler again: an error status is
 *   repeated (with a short message instead of the original text), and a success becomes a
 *   409 saying the request was carried out already. A 409 rather than a 5xx because the
 *   operation did take effect and a client must not simply repeat it; re-running a `POST` to
 *   recover a body would create a second resource.
 *
 * Only a request whose record does not fit at all (an id or caller of more than the per-entry
 * limit, which no cell sends) is forgotten entirely; its redelivery runs as a new request.
 */

import type { Outcome } from "./dispatch.ts";
import type { Reply } from "./envelope.ts";

/** Bounds of a {@linkcode ReplayMemory}. */
export interface ReplayLimits {
  /** Entries kept at most. Default 1,024. */
  readonly entries?: number;
  /** Bytes all entries may hold together. Default 4 MiB. */
  readonly bytes?: number;
  /** Bytes one entry may hold; a bigger reply is not kept (see the module doc). Default 64 KiB. */
  readonly entryBytes?: number;
}

/** Default limits: about 1,000 typical replies (1–3 KB), and no more than 4 MiB whatever comes. */
export const REPLAY_DEFAULTS: Required<ReplayLimits> = {
  entries: 1_024,
  bytes: 4 * 1_048_576,
  entryBytes: 64 * 1_024,
};

/** What a redelivery of a remembered request gets. */
export type Recalled =
  /** The reply, to send again. */
  | { readonly kind: "reply"; readonly outcome: Outcome }
  /** The reply was too big to keep; the status it had. */
  | { readonly kind: "too-big"; readonly status: number };

/** Charged per entry besides its strings: the entry, its outcome and its map slot. */
const ENTRY_OVERHEAD = 256;
const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

const SEEDS = crypto.getRandomValues(new Uint32Array(2));

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The two lanes of the last {@linkcode hash}: module state, so hashing allocates nothing. */
let lane1 = 0;
let lane2 = 0;

/** Two keyed 32-bit hashes of the bytes, four bytes a step (about 0.2 µs for a 2 KB message). */
function hash(content: Uint8Array): void {
  const n = content.length;
  let h1 = SEEDS[0]! ^ n;
  let h2 = SEEDS[1]! ^ Math.imul(n, 0x9e3779b1);
  const end = n - (n & 3);
  let i = 0;
  for (; i < end; i += 4) {
    const w = content[i]! | (content[i + 1]! << 8) | (content[i + 2]! << 16) |
      (content[i + 3]! << 24);
    h1 = Math.imul(h1 ^ w, 0x9e3779b1);
    h1 ^= h1 >>> 15;
    h2 = Math.imul(h2 ^ w, 0x85ebca77);
    h2 = (h2 << 13) | (h2 >>> 19);
  }
  for (; i < n; i++) {
    h1 = Math.imul(h1 ^ content[i]!, 0x9e3779b1);
    h2 = Math.imul(h2 ^ content[i]!, 0x85ebca77);
  }
  lane1 = fmix(h1);
  lane2 = fmix(h2 ^ h1);
}

/** Bytes a reply holds, counted generously: two bytes a character. */
function replyBytes(reply: Reply): number {
  const body = reply.body;
  // A byte body may be a view of a bigger buffer; the whole buffer stays alive with it.
  let n = typeof body === "string" ? body.length * 2 : body.buffer.byteLength;
  const headers = reply.headers;
  for (const name in headers) n += (name.length + String(headers[name]).length) * 2 + 32;
  return n;
}

/** One remembered request: its id, caller and content hash, and what to answer. */
class Entry {
  constructor(
    readonly id: string,
    readonly org: string,
    readonly user: string,
    readonly length: number,
    readonly h1: number,
    readonly h2: number,
    /** What to send again; `undefined` when the reply was too big to keep. */
    readonly outcome: Outcome | undefined,
    readonly status: number,
    readonly bytes: number,
  ) {}
}

/**
 * Recently answered requests, for replay to a redelivery (see the module doc for the rules).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReplayMemory } from "./replay.ts";
 * const memory = new ReplayMemory({ entries: 10 });
 * const bytes = new TextEncoder().encode('[{"id":"r1"}]');
 * const caller = { org: "urn:vcloud:org:a", user: "urn:vcloud:user:u" };
 * const reply = { id: "r1", status: 200, headers: {}, body: "{}" };
 * memory.remember("r1", "GET", bytes, caller, { reply });
 * assert.equal(memory.recall("r1", bytes, caller)?.kind, "reply");
 * assert.equal(memory.recall("r1", bytes, { ...caller, org: "urn:vcloud:org:b" }), undefined);
 * ```
 */
export class ReplayMemory {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #entryBytes: number;
  readonly #byId = new Map<string, Entry>();
  /** Entries in the order they were kept, oldest at `#head`; a ring of `#maxEntries` slots. */
  readonly #ring: (Entry | undefined)[] = [];
  #head = 0;
  #count = 0;
  #bytes = 0;

  constructor(limits: ReplayLimits = {}) {
    this.#maxEntries = Math.max(0, Math.floor(limits.entries ?? REPLAY_DEFAULTS.entries));
    this.#maxBytes = Math.max(0, limits.bytes ?? REPLAY_DEFAULTS.bytes);
    this.#entryBytes = Math.min(this.#maxBytes, limits.entryBytes ?? REPLAY_DEFAULTS.entryBytes);
  }

  /** Entries kept now. */
  get size(): number {
    return this.#count;
  }

  /** Bytes the kept entries are charged. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Keeps what a redelivery of this request (`content` as delivered, by this caller) should
   * get. A newer answer to the same id replaces the older one.
   */
  remember(
    id: string,
    method: string,
    content: Uint8Array,
    caller: { readonly org: string; readonly user: string },
    outcome: Outcome,
  ): void {
    if (this.#maxEntries === 0) return;
    const base = ENTRY_OVERHEAD + (id.length + caller.org.length + caller.user.length) * 2;
    const full = base + replyBytes(outcome.reply);
    let kept: Outcome | undefined;
    let bytes: number;
    if (full <= this.#entryBytes) {
      // The handler's error stays out: it is for the one log line, and may hold anything.
      kept = outcome.error === undefined
        ? outcome
        : outcome.route === undefined
        ? { reply: outcome.reply }
        : { reply: outcome.reply, route: outcome.route };
      bytes = full;
    } else if (!SAFE_METHODS.has(method) && base <= this.#entryBytes) {
      bytes = base;
    } else {
      return;
    }
    hash(content);
    const entry = new Entry(
      id,
      caller.org,
      caller.user,
      content.length,
      lane1,
      lane2,
      kept,
      outcome.reply.status,
      bytes,
    );
    while (this.#count === this.#maxEntries || this.#bytes + bytes > this.#maxBytes) {
      this.#evictOldest();
    }
    this.#ring[(this.#head + this.#count) % this.#maxEntries] = entry;
    this.#count++;
    this.#bytes += bytes;
    this.#byId.set(id, entry);
  }

  /**
   * What a redelivery gets: `undefined` unless this id was answered recently for the same
   * caller and the same bytes.
   */
  recall(
    id: string,
    content: Uint8Array,
    caller: { readonly org: string; readonly user: string },
  ): Recalled | undefined {
    const entry = this.#byId.get(id);
    if (
      entry === undefined || entry.org !== caller.org || entry.user !== caller.user ||
      entry.length !== content.length
    ) {
      return undefined;
    }
    hash(content);
    if (entry.h1 !== lane1 || entry.h2 !== lane2) return undefined;
    return entry.outcome === undefined
      ? { kind: "too-big", status: entry.status }
      : { kind: "reply", outcome: entry.outcome };
  }

  #evictOldest(): void {
    const entry = this.#ring[this.#head]!;
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#maxEntries;
    this.#count--;
    this.#bytes -= entry.bytes;
    // Only when the id still maps to this entry: an id answered again since keeps its newer one.
    if (this.#byId.get(entry.id) === entry) this.#byId.delete(entry.id);
  }
}
