/**
 * @module Keeps the callers' credentials out of logs and error messages: the names of the
 * headers that carry them, log-redaction paths, and a scrubber for free text.
 */

/** Lower-case names of headers whose values are credentials. */
export const SECRET_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "x-vcloud-authorization",
  "x-vmware-vcloud-access-token",
  "cookie",
  "set-cookie",
]);

const REPLACEMENT = "[redacted]";

/** Credential-shaped text: bearer/basic values, JWTs, `user:password@` in URLs, `password=…`. */
const PATTERNS: readonly RegExp[] = [
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*/g,
  /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/\s]+@/gi,
  /\b(password|passwd|pwd|secret|token)(["']?\s*[=:]\s*["']?)[^\s"'&,;}]+/gi,
];

/**
 * Replaces every occurrence of the given secret values, and anything shaped like a credential,
 * with `[redacted]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scrub } from "./redact.ts";
 * assert.equal(scrub("token abc123 failed", ["abc123"]), "token [redacted] failed");
 * assert.equal(scrub("amqp://guest:s3cret@host/"), "amqp://guest:[redacted]@host/");
 * assert.equal(scrub("got Bearer eyJhbGciOi.x.y"), "got Bearer [redacted]");
 * ```
 */
export function scrub(text: string, secrets: Iterable<string> = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(REPLACEMENT);
  }
  return out
    .replace(PATTERNS[0]!, (_m, kind: string) => `${kind} ${REPLACEMENT}`)
    .replace(PATTERNS[1]!, REPLACEMENT)
    .replace(PATTERNS[2]!, (_m, head: string) => `${head}${REPLACEMENT}@`)
    .replace(PATTERNS[3]!, (_m, key: string, sep: string) => `${key}${sep}${REPLACEMENT}`);
}

/**
 * The credential values among request headers (keys lower-case), for {@linkcode scrub}. The
 * token part of `Bearer <token>` is returned too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { secretsOf } from "./redact.ts";
 * const h = new Map([["authorization", "Bearer t0k3n-value"], ["accept", "*\/*"]]);
 * assert.deepEqual(secretsOf(h), ["Bearer t0k3n-value", "t0k3n-value"]);
 * ```
 */
export function secretsOf(headers: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [name, value] of headers) {
    if (!SECRET_HEADERS.has(name) || value === "") continue;
    out.push(value);
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
