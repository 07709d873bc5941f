/**
 * @module Structured JSON logging (pino) with credentials redacted. Library code takes a
 * {@linkcode Logger}; only `main.ts` decides where lines go.
 */

import { pino } from "pino";
import { scrub } from "../core/redact.ts";
import { type ErrorFields, errorFields, type Logger, silentLogger } from "../core/logger.ts";

export { type ErrorFields, errorFields, type Logger, silentLogger };

/** Levels accepted by `--log-level`. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Field paths pino censors in every line, whatever a caller logs. */
export const REDACT_PATHS: readonly string[] = [
  "password",
  "*.password",
  "headers.authorization",
  "headers.Authorization",
  'headers["x-vcloud-authorization"]',
  'headers["X-Vcloud-Authorization"]',
  'headers["x-vcloud-authorization"]',
  "headers.cookie",
  "headers.Cookie",
  "*.headers.authorization",
  "*.headers.Authorization",
  'headers["x-vmware-vcloud-access-token"]',
];

/** Where log lines go: anything with `write(line)`. */
export interface LogSink {
  write(line: string): unknown;
}

/**
 * Creates the root logger: one JSON object per line, credentials censored by path and
 * scrubbed from messages and error texts. An `err` field goes through
 * {@linkcode errorFields}, which is idempotent: `err: e` and `err: errorFields(e)` write the
 * same fields (name, scrubbed message and stack, code).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger("info", { write: (l) => lines.push(l) });
 * log.info({ headers: { Authorization: "Bearer abc.def.ghi" } }, "got amqp://u:pw@h/");
 * assert.doesNotMatch(lines.join(""), /abc\.def|:pw@/);
 * ```
 */
export function createLogger(level: LogLevel, sink: LogSink): Logger {
  return pino(
    {
      level,
      base: null,
      messageKey: "msg",
      redact: { paths: [...REDACT_PATHS], censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: errorFields },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === "string" ? scrub(a) : a));
          method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    sink as unknown as pino.DestinationStream,
  );
}

/** The fields of the per-request access line; none of them can carry a credential. */
export interface AccessFields {
  readonly extension: string;
  /** The bus the request came on: `amqp` or `mqtt`. */
  readonly transport?: string | undefined;
  readonly correlationId?: string | undefined;
  readonly requestId: string;
  /** The caller's user id, `urn:vcloud:user:<uuid>` (from the security context; never a token). */
  readonly user?: string | undefined;
  /** The caller's organisation id, `urn:vcloud:org:<uuid>`. */
  readonly org?: string | undefined;
  readonly method?: string | undefined;
  /** The route template, e.g. `GET /api/org/{org}/ticketing`, never the concrete path. */
  readonly route?: string | undefined;
  readonly status: number;
  readonly shortcut?: string | undefined;
  readonly disposition: string;
  readonly ms: number;
  /** At debug level, a 4xx's error message as the caller got it (scrubbed and quoted). */
  readonly reason?: string | undefined;
}

/**
 * The access line for one request, in the same JSON shape as the logger's lines (`level`,
 * `time`, fields, `msg`). It bypasses pino's redaction on purpose: that costs ~5 µs a line,
 * and these fields are identifiers and numbers only (no headers, no paths, no bodies), but for
 * the debug `reason`, which is the error message the caller got: scrubbed and quoted already.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { accessLine } from "./log.ts";
 * const line = accessLine({ extension: "x", requestId: "r1", status: 200, disposition: "acked", ms: 1.5 }, 0);
 * assert.deepEqual(JSON.parse(line), { level: "info", time: 0, extension: "x", requestId: "r1", status: 200, disposition: "acked", ms: 1.5, msg: "request" });
 * ```
 */
export function accessLine(fields: AccessFields, time: number): string {
  return `${JSON.stringify({ level: "info", time, ...fields, msg: "request" })}\n`;
}
