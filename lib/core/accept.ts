/**
 * @module The syntax of media types for content negotiation (negotiate.ts, which re-exports
 * this): parsing an `Accept` header (RFC 9110, plus the `application/*+xml;version=36.0` forms
 * vCD clients send) into weighted media ranges, bounded in length and count, and writing a
 * parameter into a media type.
 */

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

/** Whether `s` is an RFC 9110 token (non-empty, token characters only). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    if (!isTchar(s.charCodeAt(i))) return false;
  }
  return true;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** A cursor over one list element; a method returns `undefined` (or `false`) on a syntax error. */
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

  /** Skips `OWS c OWS`; false, with the cursor past the first spaces, when `c` is not next. */
  delimiter(c: number): boolean {
    this.skipOws();
    if (this.peek() !== c) return false;
    this.pos++;
    this.skipOws();
    return true;
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
  if (type === undefined || !sc.delimiter(0x2f /* "/" */)) return undefined;
  const subtype = sc.token()?.toLowerCase();
  if (subtype === undefined) return undefined;
  if (type === "*" && subtype !== "*") return undefined;
  if (type.includes("*") && type !== "*") return undefined;

  const params: Record<string, string> = {};
  let q: number | undefined;
  for (;;) {
    sc.skipOws();
    if (sc.done) break;
    if (!sc.delimiter(0x3b /* ";" */)) return undefined;
    if (sc.done || sc.peek() === 0x3b) continue; // empty parameter
    const name = sc.token()?.toLowerCase();
    if (name === undefined || !sc.delimiter(0x3d /* "=" */)) return undefined;
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
