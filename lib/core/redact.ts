/**
 * @module Keeps the callers' credentials out of logs and error messages: the names of the
 * headers that carry them, log-redaction paths, a scrubber for free text, URL redaction by
 * parsing, and {@linkcode quote} for client input in messages (scrubbed, then cut short).
 *
 * Everything here reads client input (paths, headers, XML names, notification entities), so
 * everything runs in time linear in its input: the credential patterns are either hand-written
 * scanners or regular expressions whose every match attempt starts at a fixed literal and
 * stops at a delimiter the next attempt must contain (see each one's comment).
 * `tests/linearity_test.ts` holds them to it.
 */

/** Lower-case names of headers whose values are credentials. */
export const SECRET_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "x-vcloud-authorization",
  "x-vmware-vcloud-access-token",
  "x-auth-token",
  "x-api-key",
  "x-csrf-token",
  "x-xsrf-token",
  "cookie",
  "set-cookie",
]);

const REPLACEMENT = "[redacted]";
/** Given secrets shorter than this are not looked for: they would match ordinary words. */
const MIN_SECRET = 4;

/** At most this many characters of client input are quoted in a message. */
export const QUOTE_LIMIT = 100;
/** What {@linkcode clip} puts where it cut. */
export const CLIP_MARK = "…";

/**
 * `Bearer <token>` / `Basic <token>`. Linear: an attempt can only get past its first
 * characters at a literal `bearer`/`basic`; from there `\s+` and the token class are
 * disjoint, so backtracking over the white space costs its length once, and no other attempt
 * can start inside that white space.
 */
const AUTHORIZATION = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
/**
 * `://user:password@` in a URL: attempts start only at `://`; the user part stops at the
 * first `:` (or `/?#@`, white space) and the password at the first `@` (or `/`, white space).
 * Both stop at a `/`, and every later attempt starts with `//`, so no character is scanned by
 * more than one attempt's user part and one attempt's password: linear. (The scheme is not
 * matched: `\b[a-z][a-z0-9+.-]*://` restarted inside every run like `a-a-a-…` and was
 * quadratic; any scheme, or none, now gets the same treatment.)
 */
const URL_PASSWORD = /:\/\/([^:/?#@\s]*):[^@/\s]+@/g;
/**
 * `password=…`, `"token": "…"` and the like. Linear: attempts get past their first characters
 * only at one of the literal keys; the white space around the separator is followed by
 * characters outside `\s`, so it is backtracked over once, and the value stops at the first
 * delimiter.
 */
const ASSIGNMENT = /\b(password|passwd|pwd|secret|token)(["']?\s*[=:]\s*["']?)[^\s"'&,;}]+/gi;

/** JWT characters: base64url, `[A-Za-z0-9_-]`. */
function isJwtChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x5f || c === 0x2d;
}

/** The end of the run of JWT characters starting at `i`. */
function jwtRunEnd(text: string, i: number): number {
  while (i < text.length && isJwtChar(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Replaces what `/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*\/g` matches, by a
 * scan instead: that pattern restarts at every `eyJ` after a `-` in a run such as
 * `eyJ-eyJ-eyJ-…` and rescans the run each time (quadratic). Every start in one run reaches
 * the same end of the run, where the `.` must be: when the first start of a run fails (fewer
 * than 8 characters, or no `.`), the later ones fail too, so the scan skips the whole run.
 */
function redactJwts(text: string): string {
  let at = text.indexOf("eyJ");
  if (at === -1) return text;
  let out = "";
  let copied = 0;
  while (at !== -1) {
    const before = at === 0 ? 0 : text.charCodeAt(at - 1);
    if (at > 0 && isJwtChar(before) && before !== 0x2d) {
      at = text.indexOf("eyJ", at + 1); // no word boundary before this "eyJ"
      continue;
    }
    const end = jwtRunEnd(text, at + 3);
    if (end - at - 3 < 8 || text.charCodeAt(end) !== 0x2e /* . */) {
      at = text.indexOf("eyJ", end);
      continue;
    }
    let stop = jwtRunEnd(text, end + 1);
    if (text.charCodeAt(stop) === 0x2e) stop = jwtRunEnd(text, stop + 1);
    out += text.slice(copied, at) + REPLACEMENT;
    copied = stop;
    at = text.indexOf("eyJ", stop);
  }
  return out + text.slice(copied);
}

/**
 * Redacts the start of `secret` where a clipped quote ends with it: {@linkcode clip} may cut
 * a credential in two, and the piece before {@linkcode CLIP_MARK} no longer equals the whole
 * secret. One Knuth–Morris–Pratt pass over the text: at each mark, the state is the longest
 * prefix of the secret that ends there.
 */
function redactClipped(text: string, secret: string): string {
  const m = secret.length;
  const fail = new Int32Array(m);
  for (let i = 1, k = 0; i < m; i++) {
    while (k > 0 && secret.charCodeAt(i) !== secret.charCodeAt(k)) k = fail[k - 1]!;
    if (secret.charCodeAt(i) === secret.charCodeAt(k)) k++;
    fail[i] = k;
  }
  const mark = CLIP_MARK.charCodeAt(0);
  let out = "";
  let copied = 0;
  for (let i = 0, k = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === mark && k >= MIN_SECRET) {
      out += text.slice(copied, Math.max(copied, i - k)) + REPLACEMENT;
      copied = i;
    }
    if (k === m) k = fail[k - 1]!;
    while (k > 0 && c !== secret.charCodeAt(k)) k = fail[k - 1]!;
    if (c === secret.charCodeAt(k)) k++;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * Replaces every occurrence of the given secret values (and the start of one cut off by
 * {@linkcode clip}), and anything shaped like a credential, with `[redacted]`. Linear in the
 * length of `text` (plus the secrets'), whatever it holds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scrub } from "./redact.ts";
 * assert.equal(scrub("token abc123 failed", ["abc123"]), "token [redacted] failed");
 * assert.equal(scrub("amqp://guest:s3cret@host/"), "amqp://guest:[redacted]@host/");
 * assert.equal(scrub("got Bearer eyJhbGciOi.x.y"), "got Bearer [redacted]");
 * assert.equal(scrub("No ticket abc12…", ["abc123"]), "No ticket [redacted]…");
 * ```
 */
export function scrub(text: string, secrets: Iterable<string> = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET) continue;
    if (out.includes(secret)) out = out.split(secret).join(REPLACEMENT);
    if (out.includes(CLIP_MARK)) out = redactClipped(out, secret);
  }
  out = out.replace(AUTHORIZATION, (_m, kind: string) => `${kind} ${REPLACEMENT}`);
  out = redactJwts(out);
  out = out.replace(URL_PASSWORD, (_m, user: string) => `://${user}:${REPLACEMENT}@`);
  return out.replace(ASSIGNMENT, (_m, key: string, sep: string) => `${key}${sep}${REPLACEMENT}`);
}

/**
 * Cuts text to at most `max` characters (never inside a surrogate pair), marking the cut
 * with {@linkcode CLIP_MARK}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clip } from "./redact.ts";
 * assert.equal(clip("abcdef", 4), "abcd…");
 * assert.equal(clip("abc", 4), "abc");
 * ```
 */
export function clip(text: string, max: number = QUOTE_LIMIT): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  const cut = last >= 0xd800 && last <= 0xdbff ? max - 1 : max;
  return text.slice(0, cut) + CLIP_MARK;
}

/**
 * Client input as it may appear in a message: credentials scrubbed (the given secrets and
 * anything credential-shaped), then cut to {@linkcode QUOTE_LIMIT} characters. Every message
 * that echoes a path, a header, an element name or an id quotes it through here, so an echo
 * is small whatever was sent; dispatch scrubs the finished message again with the request's
 * own credential headers, which catches a secret the cut split in two.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { QUOTE_LIMIT, quote } from "./redact.ts";
 * assert.equal(quote("/api/x"), "/api/x");
 * assert.equal(quote("a".repeat(1000)).length, QUOTE_LIMIT + 1);
 * assert.equal(quote("/api/s3cr3t-token", ["s3cr3t-token"]), "/api/[redacted]");
 * ```
 */
export function quote(input: string, secrets: Iterable<string> = []): string {
  return clip(scrub(input, secrets));
}

/** Where the user information of a URL ends: its last `@`, and the `:` before the password. */
function userInfo(url: string): { colon: number; at: number } | undefined {
  const scheme = url.indexOf("://");
  const start = scheme === -1 ? 0 : scheme + 3;
  const at = url.lastIndexOf("@");
  if (at < start) return undefined;
  const colon = url.indexOf(":", start);
  return colon === -1 || colon > at ? undefined : { colon, at };
}

/**
 * A URL with its password replaced, found by parsing rather than by pattern: the user
 * information runs from `://` to the **last** `@` and the password from the first `:` in it,
 * so a password with a space, a raw `@`, `/`, `:`, `%` or any Unicode (all of which amqplib
 * accepts) is redacted whole. A URL with an `@` in its path or query is redacted up to that
 * `@`: too much rather than too little.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactUrl } from "./redact.ts";
 * assert.equal(redactUrl("amqp://guest:wr0ng PW@rabbit:5672/vh"), "amqp://guest:[redacted]@rabbit:5672/vh");
 * assert.equal(redactUrl("amqp://guest:a@b/c@rabbit"), "amqp://guest:[redacted]@rabbit");
 * assert.equal(redactUrl("amqp://rabbit:5672/vh"), "amqp://rabbit:5672/vh");
 * ```
 */
export function redactUrl(url: string): string {
  const found = userInfo(url);
  return found ? `${url.slice(0, found.colon + 1)}${REPLACEMENT}${url.slice(found.at)}` : url;
}

/**
 * The password of a URL in every form a message may quote it (as written, percent-decoded,
 * and as the WHATWG URL parser re-encodes it), for {@linkcode scrub} of a connection error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { passwordsOf } from "./redact.ts";
 * assert.deepEqual(passwordsOf("amqp://u:p%40ss w@h"), ["p%40ss w", "p@ss w", "p%40ss%20w"]);
 * assert.deepEqual(passwordsOf("amqp://h/"), []);
 * ```
 */
export function passwordsOf(url: string): string[] {
  const found = userInfo(url);
  if (!found) return [];
  const raw = url.slice(found.colon + 1, found.at);
  const out = new Set([raw]);
  try {
    out.add(decodeURIComponent(raw));
  } catch { /* not valid percent-encoding: the raw form is all there is */ }
  try {
    const parsed = new URL(url).password;
    if (parsed !== "") out.add(parsed);
  } catch { /* not a URL the WHATWG parser takes */ }
  return [...out].filter((p) => p !== "");
}

/**
 * Whether the WHATWG URL parser (amqplib's) finds the user name and password where
 * {@linkcode redactUrl} does. When it does not (a raw `/`, `?` or `#` in the password ends the
 * authority early for it), its errors may quote a piece of the password as a host name, which
 * no scrubbing by the whole password can catch: callers then leave its message out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsesAsWritten } from "./redact.ts";
 * assert.equal(parsesAsWritten("amqp://guest:wr0ng PW@h"), true);
 * assert.equal(parsesAsWritten("amqp://guest:p@ss@h"), true);
 * assert.equal(parsesAsWritten("amqp://guest:p@ss/w0rd@h"), false);
 * assert.equal(parsesAsWritten("amqp://h:5672/vh"), true);
 * ```
 */
export function parsesAsWritten(url: string): boolean {
  const found = userInfo(url);
  if (!found) return true;
  const start = url.indexOf("://") === -1 ? 0 : url.indexOf("://") + 3;
  try {
    const parsed = new URL(url);
    const expected = new URL("amqp://host");
    expected.username = url.slice(start, found.colon);
    expected.password = url.slice(found.colon + 1, found.at);
    return parsed.username === expected.username && parsed.password === expected.password;
  } catch {
    return false;
  }
}

/**
 * The credential values among request headers (keys lower-case), for {@linkcode scrub}. The
 * token part of `Bearer <token>` is returned too, and each value of a cookie header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { secretsOf } from "./redact.ts";
 * const h = new Map([["authorization", "Bearer t0k3n-value"], ["accept", "*\/*"]]);
 * assert.deepEqual(secretsOf(h), ["Bearer t0k3n-value", "t0k3n-value"]);
 * const c = new Map([["cookie", "lang=en; vcloud_session_id=f00dfeed"]]);
 * assert.deepEqual(secretsOf(c), ["lang=en; vcloud_session_id=f00dfeed", "en", "f00dfeed"]);
 * ```
 */
export function secretsOf(headers: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [name, value] of headers) {
    if (!SECRET_HEADERS.has(name) || value === "") continue;
    out.push(value);
    if (name === "cookie" || name === "set-cookie") {
      // A message may quote one cookie, and a pattern may have redacted another already.
      for (const pair of value.split(";")) {
        const v = pair.slice(pair.indexOf("=") + 1).trim();
        if (v !== "" && v !== value) out.push(v);
      }
      continue;
    }
    const space = value.indexOf(" ");
    if (space > 0) out.push(value.slice(space + 1).trim());
  }
  return out;
}

/**
 * A copy of a header record with credential values replaced, for logging.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactHeaders } from "./redact.ts";
 * assert.deepEqual(redactHeaders({ Authorization: "Bearer x", Accept: "*\/*" }), { Authorization: "[redacted]", Accept: "*\/*" });
 * ```
 */
export function redactHeaders(
  headers: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? REPLACEMENT : value;
  }
  return out;
}

/**
 * A URL with its password replaced, for logs and errors: by parsing ({@linkcode redactUrl}),
 * since a pattern missed passwords with a space, a raw `@` or `/`, which amqplib accepts; then
 * scrubbed by shape for what parsing does not see (`?password=` in the query).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { safeUrl } from "./redact.ts";
 * assert.equal(safeUrl("amqp://guest:s3cret@broker:5672/"), "amqp://guest:[redacted]@broker:5672/");
 * ```
 */
export function safeUrl(url: string): string {
  return scrub(redactUrl(url));
}
