/**
 * @module The logging port of the core: the surface library code logs through, a silent
 * default, and the credential-free shape of an error. The pino logger behind it, and where lines
 * go, belong to `lib/observability/log.ts` and `main.ts`.
 */

import { scrub } from "./redact.ts";

/** The logging surface the service uses; a pino logger satisfies it. */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  /** Whether lines of this level are written: check before building costly fields. */
  isLevelEnabled(level: string): boolean;
}

/** An error as log fields: what {@linkcode errorFields} returns. */
export interface ErrorFields {
  name: string;
  message: string;
  stack?: string;
  /** A broker's or the system's error code, e.g. 320 for an AMQP `CONNECTION-FORCED` close. */
  code?: string | number;
}

/**
 * An error as log fields: name, scrubbed message and stack, and its `code` when it has one.
 * Idempotent: fields it made before (`{name, message, stack}`), and error-like objects that are
 * not `Error`s (amqplib's close reasons are `{message, code}`), keep their message; only other
 * values are turned into text. The logger's `err` serializer is this function too, so a caller
 * may log `err: e` or `err: errorFields(e)` with the same line as the result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorFields } from "./logger.ts";
 * const fields = errorFields(new Error("login with password=hunter2 failed"));
 * assert.equal(fields.message, "login with password=[redacted] failed");
 * assert.deepEqual(errorFields(fields), fields);
 * assert.deepEqual(errorFields({ message: "Connection closed: 320", code: 320 }), {
 *   name: "Error",
 *   message: "Connection closed: 320",
 *   code: 320,
 * });
 * assert.deepEqual(errorFields("plain"), { name: "string", message: "plain" });
 * ```
 */
export function errorFields(error: unknown): ErrorFields {
  if (!isErrorLike(error)) return { name: typeof error, message: scrub(String(error)) };
  const { name, message, stack, code } = error as {
    name?: unknown;
    message: string;
    stack?: unknown;
    code?: unknown;
  };
  const fields: ErrorFields = {
    name: typeof name === "string" && name !== "" ? name : "Error",
    message: scrub(message),
  };
  if (typeof stack === "string" && stack !== "") fields.stack = scrub(stack);
  if (typeof code === "number" || (typeof code === "string" && code !== "")) {
    fields.code = typeof code === "string" ? scrub(code) : code;
  }
  return fields;
}

/** An `Error`, or an object with a string `message` (serialized fields, amqplib's close reasons). */
function isErrorLike(value: unknown): boolean {
  return value instanceof Error ||
    (typeof value === "object" && value !== null &&
      typeof (value as { message?: unknown }).message === "string");
}

/** A logger that drops everything, for tests and library defaults. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
  isLevelEnabled: () => false,
};
