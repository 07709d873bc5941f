/**
 * @module Content negotiation for vCD API extensions: parse an `Accept` header
 * (RFC 9110, plus the `application/*+xml;version=36.0` forms vCD clients send) and pick
 * the concrete Content-Type a route answers with, or `undefined` when nothing fits (406).
 * Parsing the header and writing parameters is accept.ts's (re-exported here); this module
 * chooses, and caches its choices per offer.
 */

import { isToken, type MediaRange, parseAccept, withParameter } from "./accept.ts";

export {
  MAX_ACCEPT_LENGTH,
  MAX_RANGES,
  type MediaRange,
  parseAccept,
  withParameter,
} from "./accept.ts";

/** A representation format a route can produce.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Format, negotiate } from "./negotiate.ts";
 *
 * const format: Format | undefined = negotiate("text/xml", { formats: ["json", "xml"] })?.format;
 * assert.equal(format, "xml");
 * ```
 */
export type Format = "json" | "xml";

/** What a route can produce: an optional vendor base type and the formats, first = default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { negotiate, type Offer } from "./negotiate.ts";
 *
 * const offer: Offer = { base: "application/vnd.example.ticket", formats: ["xml", "json"] };
 * assert.equal(negotiate(undefined, offer)?.contentType, "application/vnd.example.ticket+xml");
 * ```
 */
export interface Offer {
  /** Vendor base type such as `application/vnd.example.ticket` (no `+xml`/`+json` suffix). */
  readonly base?: string | undefined;
  /** Formats the route can render, in order of preference; the first is the default. */
  readonly formats: readonly Format[];
}

/** The outcome of negotiation: the format to render and the concrete Content-Type to send.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { negotiate, type Negotiated } from "./negotiate.ts";
 *
 * const n: Negotiated | undefined = negotiate("application/json", { formats: ["xml", "json"] });
 * assert.deepEqual(n, { format: "json", contentType: "application/json" });
 * ```
 */
export interface Negotiated {
  /** The format the body must be rendered in. */
  readonly format: Format;
  /** A concrete media type (never a wildcard), with the client's `version` if it sent one. */
  readonly contentType: string;
}

/** How specific a range is (RFC 9110 12.5.1): higher wins. */
type Level = 0 | 1 | 2 | 3;
const Level = {
  Any: 0, // */*
  Type: 1, // application/*
  Suffix: 2, // application/*+xml
  Exact: 3, // application/xml
} as const;

function levelOf(r: MediaRange): Level {
  if (r.type === "*") return Level.Any;
  if (r.subtype === "*") return Level.Type;
  if (r.subtype.startsWith("*+")) return Level.Suffix;
  return Level.Exact;
}

interface Candidate {
  readonly format: Format;
  readonly type: string;
  readonly subtype: string;
}

function matches(r: MediaRange, level: Level, c: Candidate): boolean {
  switch (level) {
    case Level.Any:
      return true;
    case Level.Type:
      return r.type === c.type;
    case Level.Suffix: {
      // application/*+xml accepts any application/...+xml, and (as vCD clients mean it)
      // plain application/xml too.
      const suffix = r.subtype.slice(2);
      return r.type === c.type && (c.subtype === suffix || c.subtype.endsWith("+" + suffix));
    }
    case Level.Exact:
      return r.type === c.type && r.subtype === c.subtype;
  }
}

function candidatesOf(offer: Offer): Candidate[] {
  let baseType: string | undefined;
  let baseSubtype: string | undefined;
  if (offer.base !== undefined) {
    const slash = offer.base.indexOf("/");
    const t = offer.base.slice(0, slash).toLowerCase();
    const s = offer.base.slice(slash + 1).toLowerCase();
    if (slash < 0 || !isToken(t) || !isToken(s) || t.includes("*") || s.includes("*")) {
      throw new TypeError(
        `Cannot negotiate: offer base "${offer.base}" is not a concrete type/subtype`,
      );
    }
    baseType = t;
    baseSubtype = s;
  }
  const out: Candidate[] = [];
  // Route preference order: formats as given, the preferred (vendor) type first.
  const add = (format: Format, type: string, subtype: string) =>
    out.push({ format, type, subtype });
  const seen = new Set<Format>();
  for (const format of offer.formats) {
    if (seen.has(format) || (format !== "xml" && format !== "json")) continue;
    seen.add(format);
    if (baseType !== undefined) add(format, baseType, `${baseSubtype}+${format}`);
    add(format, "application", format);
    if (format === "xml") add(format, "text", "xml");
  }
  return out;
}

function formatContentType(c: Candidate, version: string | undefined): string {
  return withParameter(`${c.type}/${c.subtype}`, "version", version);
}

function compute(accept: string | undefined | null, offer: Offer): Negotiated | undefined {
  const candidates = candidatesOf(offer);
  const first = candidates[0];
  if (first === undefined) return undefined;

  const ranges = typeof accept === "string" ? parseAccept(accept) : [];
  // A missing, empty or entirely malformed header is treated as absent (RFC 9110 12.5.1).
  if (ranges.length === 0) {
    return Object.freeze({
      format: first.format,
      contentType: formatContentType(first, undefined),
    });
  }

  const levels = ranges.map(levelOf);
  let best:
    | { c: Candidate; q: number; level: Level; index: number; range: MediaRange }
    | undefined;
  for (const c of candidates) {
    // The most specific matching range decides this candidate's q: higher level, then more
    // parameters, then earlier in the header.
    let index = -1;
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      const level = levels[i]!;
      if (!matches(r, level, c)) continue;
      if (index < 0) {
        index = i;
        continue;
      }
      const bestLevel = levels[index]!;
      if (
        level > bestLevel ||
        (level === bestLevel &&
          Object.keys(r.params).length > Object.keys(ranges[index]!.params).length)
      ) {
        index = i;
      }
    }
    if (index < 0) continue;
    const range = ranges[index]!;
    const level = levels[index]!;
    if (range.q <= 0) continue;
    if (
      best === undefined ||
      range.q > best.q ||
      (range.q === best.q &&
        (level > best.level || (level === best.level && index < best.index)))
      // equal q, level and index: the earlier candidate (route order) stays
    ) {
      best = { c, q: range.q, level, index, range };
    }
  }
  if (best === undefined) return undefined;
  return Object.freeze({
    format: best.c.format,
    contentType: formatContentType(best.c, best.range.params["version"]),
  });
}

const CACHE_LIMIT = 64;
const CACHEABLE_ACCEPT_LENGTH = 512;
/**
 * Answers per offer object (a route compiles its offer once), then per Accept string: a hit is
 * two map lookups and no string building. Oldest entries go first past the limit.
 *
 * Clients choose the keys, so the cache is bounded by bytes as well as entries: only headers of
 * up to 512 characters are cached, and an answer holds the header's `version` and a media type
 * besides, so one offer's cache holds at most 64 × (512 + 512 + ~100) characters, under 150 KB
 * even at two bytes a character; there is one per route and error format list of the loaded
 * extensions (tests/negotiate_cache_test.ts).
 */
const caches = new WeakMap<Offer, Map<string, Negotiated | undefined>>();

/** Picks the format and concrete Content-Type for a response, or `undefined` when nothing
 * the route can produce is acceptable (the caller answers 406).
 *
 * Each type the route can produce (`<base>+xml`, `application/xml`, `text/xml`,
 * `<base>+json`, `application/json`) gets the q of the most specific range matching it
 * (exact > `application/*+xml` > `application/*` > `*\/*`); the highest q above 0 wins,
 * ties going to the more specific range, then the earlier range, then the route's order
 * (formats, the vendor type before the generic one). The client's `version` parameter is
 * carried over from the winning range. A missing, empty or unparseable header yields the
 * route's default format. Throws a `TypeError` only for an offer whose `base` is not a
 * concrete `type/subtype`. Results are memoised in a small bounded cache.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { negotiate } from "./negotiate.ts";
 *
 * const ticket = { base: "application/vnd.example.ticket", formats: ["xml", "json"] } as const;
 * assert.deepEqual(negotiate("application/*+json;version=36.0", ticket), {
 *   format: "json",
 *   contentType: "application/vnd.example.ticket+json;version=36.0",
 * });
 * assert.deepEqual(negotiate("application/json;q=0.5, application/xml", ticket), {
 *   format: "xml",
 *   contentType: "application/xml",
 * });
 * assert.equal(negotiate("image/png", ticket), undefined);
 * ```
 */
export function negotiate(accept: string | undefined | null, offer: Offer): Negotiated | undefined {
  if (typeof accept !== "string" || accept.length > CACHEABLE_ACCEPT_LENGTH) {
    return compute(accept, offer);
  }
  // Keyed by the offer object, so two routes never share an answer they should not.
  let cache = caches.get(offer);
  if (cache === undefined) caches.set(offer, cache = new Map());
  const hit = cache.get(accept);
  if (hit !== undefined || cache.has(accept)) return hit;
  const result = compute(accept, offer);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(accept, result);
  return result;
}
