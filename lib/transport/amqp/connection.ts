/**
 * @module Connecting to the broker: the socket and TLS options, the plain connections of the
 * cell's client and the admin (the first of several URLs that answers), the connection's name,
 * and the URL and error redaction every message about the broker goes through. The service's
 * connection, which fails over between URLs, is in `failover.ts`.
 */

import amqp from "amqplib";
import type { ChannelModel } from "amqplib";
import { errorFields } from "../../observability/log.ts";
import { parsesAsWritten, passwordsOf, safeUrl, scrub } from "../../core/redact.ts";

/**
 * TLS settings for `amqps://` URLs. The caller reads the files; this module only passes the
 * bytes on. `insecure` skips verification of the broker's certificate: explicit, never implied.
 */
export interface AmqpTls {
  /** PEM of the CA(s) that signed the broker's certificate (default: the system's). */
  readonly ca?: string;
  /** PEM client certificate and key, for brokers that require one (EXTERNAL or mutual TLS). */
  readonly cert?: string;
  /** PEM private key of `cert`. */
  readonly key?: string;
  /** Skip verifying the broker's certificate (labs only). */
  readonly insecure?: boolean;
}

/** Socket options for amqplib from {@linkcode AmqpTls}. */
export function socketOptions(tls: AmqpTls | undefined): Record<string, unknown> {
  const options: Record<string, unknown> = { noDelay: true };
  if (!tls) return options;
  if (tls.ca !== undefined) options.ca = [tls.ca];
  if (tls.cert !== undefined) options.cert = tls.cert;
  if (tls.key !== undefined) options.key = tls.key;
  if (tls.insecure) options.rejectUnauthorized = false;
  return options;
}

const CONNECT_ADVICE =
  "the URL does not parse as written; percent-encode / ? # @ % in the user name and password";

/**
 * Why connecting to `url` failed, for a message: amqplib's text scrubbed of the URL's
 * password in every form it may quote it, and of anything credential-shaped. When amqplib
 * reads the URL differently (a raw `/` in the password), its text may name a piece of the
 * password as the host: it is replaced by advice.
 */
export function connectError(url: string, e: unknown): Error {
  const reason = parsesAsWritten(url)
    ? scrub(closeReason(url, String((e as Error)?.message ?? e)), passwordsOf(url))
    : CONNECT_ADVICE;
  return new Error(`Cannot connect to ${safeUrl(url)}: ${reason}`);
}

/**
 * amqplib's text, with the broker's reason when amqplib leaves it out: a broker that refuses
 * `connection.open` (RabbitMQ: 530 NOT_ALLOWED, "vhost X not found" or "access to vhost X
 * refused") makes amqplib say only "Expected ConnectionOpenOk; got <ConnectionClose …>".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closeReason } from "./connection.ts";
 * const text = "Expected ConnectionOpenOk; got <ConnectionClose channel:0>";
 * assert.match(closeReason("amqp://u:p@h/lab", text), /virtual host "lab"/);
 * assert.equal(closeReason("amqp://h", "ECONNREFUSED"), "ECONNREFUSED");
 * ```
 */
export function closeReason(url: string, text: string): string {
  if (!/Expected ConnectionOpenOk; got <ConnectionClose/.test(text)) return text;
  return `${text}: the broker refused to open virtual host "${vhostOf(url)}" (530 NOT_ALLOWED: ` +
    "it does not exist, or the user has no access to it)";
}

/** The URL's virtual host as the broker sees it (`/` when the path is empty). */
function vhostOf(url: string): string {
  try {
    const path = new URL(url).pathname.slice(1);
    return path === "" ? "/" : decodeURIComponent(path);
  } catch {
    return "?";
  }
}

/**
 * The broker's node for a log line: `host:port`, never the credentials.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeOf } from "./connection.ts";
 * assert.equal(nodeOf("amqp://u:secret@rabbit.lab/vh"), "rabbit.lab:5672");
 * assert.equal(nodeOf("amqps://u:secret@rabbit.lab:5000"), "rabbit.lab:5000");
 * ```
 */
export function nodeOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === "amqps:" ? "5671" : "5672")}`;
  } catch {
    return "?";
  }
}

/**
 * The log fields of a connection error, which may quote the URL: scrubbed of its password as
 * well (see {@linkcode connectError}).
 */
export function brokerErrorFields(url: string): (err: unknown) => Record<string, unknown> {
  const passwords = passwordsOf(url);
  const asWritten = parsesAsWritten(url);
  return (err) => {
    const fields = errorFields(err);
    if (!asWritten) return { name: fields.name, message: CONNECT_ADVICE };
    return {
      ...fields,
      message: scrub(closeReason(url, fields.message), passwords),
      ...(fields.stack === undefined ? {} : { stack: scrub(fields.stack, passwords) }),
    };
  };
}

/**
 * Coalesces socket writes: amqplib's multiplexer writes every frame with its own `write` call
 * (one syscall each); corking the socket around one multiplexer pass sends them as one
 * `writev`. This reaches into amqplib's internals (`connection.muxer`, `connection.stream`),
 * so it checks they exist and otherwise leaves the connection as it is.
 */
export function coalesceWrites(model: ChannelModel): void {
  const conn = model.connection as unknown as {
    stream?: { cork?: () => void; uncork?: () => void };
    muxer?: { _readIncoming?: () => void };
  };
  const stream = conn.stream;
  const mux = conn.muxer;
  if (typeof stream?.cork !== "function" || typeof mux?._readIncoming !== "function") return;
  const pass = mux._readIncoming.bind(mux);
  mux._readIncoming = () => {
    stream.cork!();
    try {
      pass();
    } finally {
      stream.uncork!();
    }
  };
}

/**
 * The service connection's name in the broker's management UI: `vcdext@<hostname>:<pid>`, so
 * an operator can tell the instances apart (`vcdext@?:<pid>` without the hostname permission).
 */
export function instanceName(): string {
  let host = "?";
  try {
    host = Deno.hostname();
  } catch { /* no sys=hostname permission */ }
  return `vcdext@${host}:${Deno.pid}`;
}

/** How long a plain connection attempt may go unanswered by default, ms. */
export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * A connection without recovery (the cell's client, the admin): to the first of `urls` that
 * answers within `timeoutMs`, tried in order; throws {@linkcode connectError} (each node's reason
 * when there are several).
 */
export async function connectPlain(
  urls: string | readonly string[],
  tls: AmqpTls | undefined,
  connectionName?: string,
  timeoutMs = CONNECT_TIMEOUT_MS,
): Promise<ChannelModel> {
  const list = typeof urls === "string" ? [urls] : urls;
  const reasons: Error[] = [];
  for (const url of list) {
    try {
      return await amqp.connect(url, {
        ...socketOptions(tls),
        timeout: timeoutMs,
        ...(connectionName === undefined
          ? {}
          : { clientProperties: { connection_name: connectionName } }),
      });
    } catch (e) {
      reasons.push(connectError(url, e));
    }
  }
  throw noneAnswered(reasons);
}

/** The error when no broker answered: the only reason, or every node's. */
export function noneAnswered(reasons: readonly Error[]): Error {
  if (reasons.length === 1) return reasons[0]!;
  return new Error(
    `Cannot connect to any of ${reasons.length} brokers: ` +
      reasons.map((e) => e.message).join("; "),
  );
}
