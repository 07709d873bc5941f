/**
 * @module The one refusal of plain HTTP to vCD: over `http://` the Basic-auth password and every
 * session token travel in clear, so it must be asked for (`allowHttp`, `--vcd-allow-http`),
 * never implied, not even for loopback. `VcdClient` calls {@linkcode refusePlainHttp} when
 * constructed; the command line calls it first, to refuse before it asks for credentials, and
 * prints {@linkcode PlainHttpRefused.cliMessage}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLAIN_HTTP_CLI_MESSAGE, PlainHttpRefused, refusePlainHttp } from "./plain_http.ts";
 * refusePlainHttp("https://vcd.example.com", false);
 * refusePlainHttp("http://127.0.0.1:8080", true);
 * assert.throws(
 *   () => refusePlainHttp("http://vcd.example.com", false),
 *   (e: unknown) => e instanceof PlainHttpRefused && e.cliMessage === PLAIN_HTTP_CLI_MESSAGE,
 * );
 * ```
 */

/** The refusal in the command line's words (names `--vcd-url` and `--vcd-allow-http`). */
export const PLAIN_HTTP_CLI_MESSAGE =
  "--vcd-url is http://, which would send the vCD password and session tokens in clear; " +
  "use https://, or pass --vcd-allow-http to accept that (labs only)";

/** The refusal in the client's words (its `message`). */
export const PLAIN_HTTP_CLIENT_MESSAGE =
  "Cannot create the vCD client: an http:// URL would send the password and session " +
  "tokens in clear; use https://, or allow plain HTTP explicitly (allowHttp, " +
  "--vcd-allow-http)";

/**
 * An `http://` vCD URL without the permission to use it. A `TypeError` (as the client's other
 * refusals of its options); `message` is the client's wording, `cliMessage` the command line's.
 */
export class PlainHttpRefused extends TypeError {
  /** The same refusal worded for the command line: {@linkcode PLAIN_HTTP_CLI_MESSAGE}. */
  readonly cliMessage: string = PLAIN_HTTP_CLI_MESSAGE;

  constructor() {
    super(PLAIN_HTTP_CLIENT_MESSAGE);
    this.name = "PlainHttpRefused";
  }
}

/**
 * Throws {@linkcode PlainHttpRefused} when `url` is `http://` and `allowHttp` is not `true`.
 * A string is judged by its scheme as written (`/^http:/i`); a `URL` by its `protocol`. Anything
 * else (https, not a URL) passes: other checks refuse it.
 */
export function refusePlainHttp(url: string | URL, allowHttp: boolean | undefined): void {
  const plain = typeof url === "string" ? /^http:/i.test(url) : url.protocol === "http:";
  if (plain && allowHttp !== true) throw new PlainHttpRefused();
}
