/**
 * @module Content negotiation for vCD API extensions: parse an `Accept` header
 * (RFC 9110, plus the `application/*+xml;version=36.0` forms vCD clients send) and pick
 * the concrete Content-Type a route answers with, or `undefined` when nothing fits (406).
 */

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

/** One parsed media range of an Accept header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type MediaRange, parseAccept } from "./negotiate.ts";
 *
 * const [range]: MediaRange[] = parseAccept("application/*+xml;version=36.0");
 * assert.deepEqual(range, {
 *   type: "application",
 *   subtype: "*+xml",
 *   params: { version: "36.0" },
 *   q: 1,
 * });
 * ```
 */
export interface MediaRange {
  /** Lower-cased top-level type, or `*`. */
  type: string;
  /** Lower-cased subtype: a token, `*`, or a suffix wildcard such as `*+xml`. */
  subtype: string;
  /** Parameters other than `q`; names lower-cased, values unquoted; first occurrence wins. */
  params: Record<string, string>;
  /** Weight between 0 and 1; 0 means "not acceptable". */
  q: number;
}

/** At most this many media ranges are taken from one Accept header; the rest are ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_RANGES, parseAccept } from "./negotiate.ts";
 *
 * const header = Array(MAX_RANGES + 10).fill("text/plain").join(",");
 * assert.equal(parseAccept(header).length, MAX_RANGES);
 * ```
 */
export const MAX_RANGES = 64;

/** At most this many characters of an Accept header are read; a range cut by the limit is dropped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_ACCEPT_LENGTH, parseAccept } from "./negotiate.ts";
 *
 * const header = " ".repeat(MAX_ACCEPT_LENGTH) + "application/json";
 * assert.deepEqual(parseAccept(header), []);
 * ```
 */
export const MAX_ACCEPT_LENGTH = 8192;

const HTAB = 0x09;
const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

// RFC 9110 tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    if (!isTchar(s.charCodeAt(i))) return false;
  }
  return true;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** A cursor over one list element; every method returns `undefined` on a syntax error. */
class Scanner {
  pos = 0;
  constructor(readonly s: string) {}

  get done(): boolean {
    return this.pos >= this.s.length;
  }

  peek(): number {
    return this.s.charCodeAt(this.pos);
  }

  skipOws(): void {
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (c !== SP && c !== HTAB) return;
      this.pos++;
    }
  }

  token(): string | undefined {
    const start = this.pos;
    while (this.pos < this.s.length && isTchar(this.s.charCodeAt(this.pos))) this.pos++;
    return this.pos > start ? this.s.slice(start, this.pos) : undefined;
  }

  /** quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, returned unescaped. */
  quoted(): string | undefined {
    if (this.peek() !== DQUOTE) return undefined;
    this.pos++;
    let out = "";
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos++);
      if (c === DQUOTE) return out;
      if (c === BACKSLASH) {
        if (this.pos >= this.s.length) return undefined;
        const e = this.s.charCodeAt(this.pos++);
        if (!(e === HTAB || (e >= SP && e !== 0x7f && e <= 0xff))) return undefined;
        out += String.fromCharCode(e);
      } else if (c === HTAB || (c >= SP && c !== 0x7f && c <= 0xff)) {
        out += String.fromCharCode(c);
      } else {
        return undefined;
      }
    }
    return undefined; // unterminated
  }
}

/** Parses one list element; `undefined` when it is empty or malformed. */
function parseRange(element: string): MediaRange | undefined {
  const sc = new Scanner(element);
  sc.skipOws();
  const type = sc.token()?.toLowerCase();
  if (type === undefined) return undefined;
  sc.skipOws();
  if (sc.peek() !== 0x2f /* "/" */) return undefined;
  sc.pos++;
  sc.skipOws();
  const subtype = sc.token()?.toLowerCase();
  if (subtype === undefined) return undefined;
  if (type === "*" && subtype !== "*") return undefined;
  if (type.includes("*") && type !== "*") return undefined;

  const params: Record<string, string> = {};
  let q: number | undefined;
  for (;;) {
    sc.skipOws();
    if (sc.done) break;
    if (sc.peek() !== 0x3b /* ";" */) return undefined;
    sc.pos++;
    sc.skipOws();
    if (sc.done || sc.peek() === 0x3b) continue; // empty parameter
    const name = sc.token()?.toLowerCase();
    if (name === undefined) return undefined;
    sc.skipOws();
    if (sc.peek() !== 0x3d /* "=" */) return undefined;
    sc.pos++;
    sc.skipOws();
    const quoted = sc.peek() === DQUOTE;
    const value = quoted ? sc.quoted() : sc.token();
    if (value === undefined) return undefined;
    if (name === "q") {
      if (q !== undefined) continue; // first q wins
      if (quoted || !QVALUE.test(value)) return undefined;
      q = Number(value);
    } else if (!Object.hasOwn(params, name)) {
      Object.defineProperty(params, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return { type, subtype, params, q: q ?? 1 };
}

/** Parses an Accept header into media ranges, in header order. Never throws: malformed
 * ranges (bad syntax, an invalid q, `*\/json`) are skipped, and only the first
 * {@linkcode MAX_RANGES} ranges within {@linkcode MAX_ACCEPT_LENGTH} characters count.
 * Ranges with `q=0` are kept, since they exclude what they match.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAccept } from "./negotiate.ts";
 *
 * assert.deepEqual(parseAccept('Application/JSON;q=0.5;Version="33.0", junk, text/*'), [
 *   { type: "application", subtype: "json", params: { version: "33.0" }, q: 0.5 },
 *   { type: "text", subtype: "*", params: {}, q: 1 },
 * ]);
 * ```
 */
export function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  if (typeof header !== "string") return ranges;
  const end = Math.min(header.length, MAX_ACCEPT_LENGTH);
  let start = 0;
  let inQuotes = false;
  for (let i = 0; i <= end && ranges.length < MAX_RANGES; i++) {
    if (i === end) {
      // The last element counts only if the header was not cut inside it.
      if (header.length > end) break;
    } else {
      const c = header.charCodeAt(i);
      if (inQuotes) {
        if (c === BACKSLASH) i++;
        else if (c === DQUOTE) inQuotes = false;
        continue;
      }
      if (c === DQUOTE) {
        inQuotes = true;
        continue;
      }
      if (c !== 0x2c /* "," */) continue;
    }
    const range = parseRange(header.slice(start, i));
    if (range !== undefined) ranges.push(range);
    start = i + 1;
  }
  return ranges;
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

/**
 * A media type with one parameter added: the value as a token when it is one, else as an RFC
 * 9110 quoted-string (`"` and `\\` escaped), so a value from the client such as
 * `36.0;charset=UTF-7` stays one parameter. An empty or missing value adds nothing, and so
 * does one with a character no quoted-string can carry (controls, DEL, above U+00FF): it is
 * refused rather than sent broken. ({@linkcode parseAccept} admits no such character.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withParameter } from "./negotiate.ts";
 * assert.equal(withParameter("application/json", "version", "36.0"), "application/json;version=36.0");
 * assert.equal(withParameter("application/json", "version", "36.0;charset=UTF-7"), 'application/json;version="36.0;charset=UTF-7"');
 * assert.equal(withParameter("application/json", "version", undefined), "application/json");
 * assert.equal(withParameter("application/json", "version", "1\r\nX: y"), "application/json");
 * ```
 */
export function withParameter(mediaType: string, name: string, value: string | undefined): string {
  if (value === undefined || value === "") return mediaType;
  if (isToken(value)) return `${mediaType};${name}=${value}`;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!(c === HTAB || (c >= SP && c !== 0x7f && c <= 0xff))) return mediaType;
  }
  return `${mediaType};${name}="${value.replace(/["\\]/g, "\\$&")}"`;
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
