/**
 * @module Connecting to the broker: the socket and TLS options, the service's connection with
 * automatic recovery (capped exponential backoff with jitter, {@linkcode BROKER_RECONNECT}) and
 * its log lines, the plain connections of the cell's client and the admin, and the URL and
 * error redaction every message about the broker goes through.
 */

import amqp from "amqplib";
import type { ChannelModel, RecoveringChannelModel } from "amqplib";
import { backoffDelay, BROKER_RECONNECT } from "../../core/retry.ts";
import { errorFields, type Logger } from "../../observability/log.ts";
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
function brokerErrorFields(url: string): (err: unknown) => Record<string, unknown> {
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

/** Settings of {@linkcode connectRecovering}. */
export interface RecoveringOptions {
  /** The broker URL (`amqp://` or `amqps://`). */
  readonly url: string;
  /** TLS settings for `amqps://` URLs. */
  readonly tls?: AmqpTls | undefined;
  /** Connection attempts at start-up before giving up. */
  readonly startupRetries: number;
  /** Where connection events are logged. */
  readonly log: Logger;
  /** Runs on every (re)connect, before the connection counts as up: declare and consume. */
  readonly setup: (model: ChannelModel) => Promise<void>;
  /** Whether the service is stopping: a disconnect is then expected, not warned about. */
  readonly stopping: () => boolean;
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

/**
 * The service's connection: connects (trying `startupRetries` times), runs `setup` on it and
 * again after every reconnect, and logs what happens to it. Throws {@linkcode connectError}
 * when the broker cannot be reached at start-up.
 */
export async function connectRecovering(
  options: RecoveringOptions,
): Promise<RecoveringChannelModel> {
  const { url, log } = options;
  const node = nodeOf(url);
  log.info({ node, url: safeUrl(url) }, "connecting to the broker");
  const model: RecoveringChannelModel = await amqp.connect(url, {
    ...socketOptions(options.tls),
    clientProperties: { connection_name: instanceName() },
    recovery: {
      // amqplib counts attempts from 1; the policy from 0 (see core/retry.ts).
      calculateDelay: (attempt: number) => backoffDelay(attempt - 1, BROKER_RECONNECT),
      maxRetries: Infinity,
      initialMaxRetries: options.startupRetries,
      waitForConnect: false,
      setup: options.setup,
    },
  });
  const brokerError = brokerErrorFields(url);
  model.on("error", (err: unknown) => log.warn({ err: brokerError(err) }, "connection error"));
  model.on("disconnect", (err: unknown) => {
    if (!options.stopping()) {
      log.warn({ err: brokerError(err) }, "disconnected from the broker; reconnecting");
    }
  });
  model.on("connect", () => log.info({ node, url: safeUrl(url) }, "connected to the broker"));
  model.on(
    "reconnect-scheduled",
    (info: { attempt: number; delay: number; error?: unknown }) =>
      log.info({
        node,
        attempt: info.attempt,
        delayMs: Math.round(info.delay),
        ...(info.error === undefined ? {} : { reason: brokerError(info.error).message }),
      }, "reconnect scheduled"),
  );
  try {
    await model.waitForConnect();
  } catch (e) {
    await model.close().catch(() => {});
    throw connectError(url, e);
  }
  model.on(
    "handler-error",
    (err: unknown) => log.error({ err: errorFields(err) }, "handler error"),
  );
  return model;
}

/**
 * A connection without recovery (the cell's client, the admin); throws
 * {@linkcode connectError}.
 */
export async function connectPlain(
  url: string,
  tls: AmqpTls | undefined,
  connectionName?: string,
): Promise<ChannelModel> {
  try {
    return await amqp.connect(url, {
      ...socketOptions(tls),
      ...(connectionName === undefined
        ? {}
        : { clientProperties: { connection_name: connectionName } }),
    });
  } catch (e) {
    throw connectError(url, e);
  }
}
