/**
 * @module What the service remembers of requests it answered, so that a broker redelivery of
 * one gets the same answer without its handler running twice: a memory bounded by entries and
 * by bytes, whose entries only answer the very request they were made for.
 *
 * **Which request an entry answers.** An entry is found by the request `id`, but it answers a
 * redelivery only when the caller and the content match too: the security context's `org` and
 * `user` are compared exactly, and the message bytes by length and a 64-bit hash keyed with
 * random seeds per process. A broker redelivery carries the very same bytes, so it always
 * matches; a different request that reuses the id (another tenant, or a cell that reuses ids)
 * does not, and is handled on its own. The exact comparison of `org` and `user` means a reply
 * can never reach another caller, whatever the hash does; the hash only has to tell one
 * caller's requests of one length apart, which it does but for a chance of one in 2^32 or less,
 * and a caller who forced a collision would only get its own earlier reply. A cryptographic
 * digest would cost about 5 µs per request (about half of the whole pure path) and buy nothing
 * the exact caller comparison does not already give; the hash costs about 0.3 µs for 2 KB.
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

import { RecentById } from "./bounded.ts";
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

// Signed 32-bit (`| 0`): a seed read from the Uint32Array as it is may exceed 2^31, and the
// hash loop would then start on doubles (twice as slow).
const [SEED_A, SEED_B, SEED_C, SEED_D] = Array.from(
  crypto.getRandomValues(new Uint32Array(4)),
  (s) => s | 0,
) as [number, number, number, number];

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The two halves of the last {@linkcode hash}: module state, so hashing allocates nothing. */
let lane1 = 0;
let lane2 = 0;

/**
 * A keyed 64-bit hash of the bytes: four independent 32-bit lanes, each taking every fourth
 * 32-bit word (so the CPU runs them side by side: about 0.3 µs for a 2 KB message, against
 * about 1 µs for one lane over every byte), mixed into two 32-bit halves at the end.
 */
function hash(content: Uint8Array): void {
  const n = content.length;
  const view = new DataView(content.buffer, content.byteOffset, n);
  let a = SEED_A ^ n;
  let b = SEED_B;
  let c = SEED_C;
  let d = SEED_D;
  const end = n - (n & 15);
  let i = 0;
  for (; i < end; i += 16) {
    a = Math.imul(a ^ view.getInt32(i, true), 0x9e3779b1);
    a = (a << 13) | (a >>> 19);
    b = Math.imul(b ^ view.getInt32(i + 4, true), 0x85ebca77);
    b = (b << 17) | (b >>> 15);
    c = Math.imul(c ^ view.getInt32(i + 8, true), 0xc2b2ae3d);
    c = (c << 11) | (c >>> 21);
    d = Math.imul(d ^ view.getInt32(i + 12, true), 0x27d4eb2f);
    d = (d << 15) | (d >>> 17);
  }
  for (; i < n; i++) {
    a = Math.imul(a ^ content[i]!, 0x9e3779b1);
    b = Math.imul(b ^ content[i]!, 0x85ebca77);
  }
  lane1 = fmix(a ^ Math.imul(c, 0x165667b1));
  lane2 = fmix(b ^ Math.imul(d, 0x165667b1) ^ lane1);
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
  readonly #entryBytes: number;
  readonly #table: RecentById<Entry>;

  constructor(limits: ReplayLimits = {}) {
    const maxBytes = Math.max(0, limits.bytes ?? REPLAY_DEFAULTS.bytes);
    this.#table = new RecentById(
      Math.max(0, Math.floor(limits.entries ?? REPLAY_DEFAULTS.entries)),
      maxBytes,
    );
    this.#entryBytes = Math.min(maxBytes, limits.entryBytes ?? REPLAY_DEFAULTS.entryBytes);
  }

  /** Entries kept now. */
  get size(): number {
    return this.#table.size;
  }

  /** Bytes the kept entries are charged. */
  get bytes(): number {
    return this.#table.bytes;
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
    if (this.#table.maxEntries === 0) return;
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
    this.#table.add(entry);
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
    const entry = this.#table.get(id);
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
}
