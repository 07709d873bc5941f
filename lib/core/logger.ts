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

/**
 * An error as log fields: name, scrubbed message and cause; the stack only for unexpected
 * errors, scrubbed too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorFields } from "./logger.ts";
 * assert.equal(errorFields(new Error("login with password=hunter2 failed")).message, "login with password=[redacted] failed");
 * ```
 */
export function errorFields(error: unknown): { name: string; message: string; stack?: string } {
  if (!(error instanceof Error)) return { name: typeof error, message: scrub(String(error)) };
  const fields: { name: string; message: string; stack?: string } = {
    name: error.name,
    message: scrub(error.message),
  };
  if (error.stack) fields.stack = scrub(error.stack);
  return fields;
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
