/**
 * @module How a vCD request fails: {@linkcode VcdError} (an unexpected status, or no answer)
 * with a message scrubbed of credentials, {@linkcode parseVcdError} reading vCD's own `Error`
 * document, and the helpers that keep details short.
 */

import { scrub } from "../core/redact.ts";
import { parseXml, XmlError } from "../core/xml.ts";

/** Options of {@linkcode VcdError}. */
export interface VcdErrorOptions {
  /** The HTTP status vCD answered, if it answered. */
  readonly status?: number;
  /** The `minorErrorCode` of vCD's `Error` document, if there was one. */
  readonly minorErrorCode?: string;
  /** The underlying error (a network error or timeout). */
  readonly cause?: unknown;
}

/**
 * A vCD request that failed: an unexpected status (`status` set) or no answer at all
 * (`status` undefined: network error or timeout). The message is scrubbed of credentials.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VcdError } from "./errors.ts";
 * const e = new VcdError("Cannot log in: Basic YWRtaW46cHc= refused", { status: 401 });
 * assert.equal(e.status, 401);
 * assert.equal(e.message, "Cannot log in: Basic [redacted] refused");
 * ```
 */
export class VcdError extends Error {
  /** The HTTP status, or `undefined` when vCD did not answer. */
  readonly status: number | undefined;
  /** The vCloud `minorErrorCode`, e.g. `"NOT_FOUND"`, when vCD sent an `Error` document. */
  readonly minorErrorCode: string | undefined;

  constructor(message: string, options: VcdErrorOptions = {}) {
    super(scrub(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VcdError";
    this.status = options.status;
    this.minorErrorCode = options.minorErrorCode;
  }
}

/**
 * The `message` and `minorErrorCode` of a vCloud `Error` document (XML or JSON), or
 * `undefined` when the body is not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseVcdError } from "./errors.ts";
 * const xml = '<Error xmlns="http://www.vmware.com/vcloud/v1.5" majorErrorCode="404"' +
 *   ' minorErrorCode="NOT_FOUND" message="No such task"/>';
 * assert.deepEqual(parseVcdError(xml), { message: "No such task", minorErrorCode: "NOT_FOUND" });
 * assert.equal(parseVcdError("<html>oops</html>"), undefined);
 * ```
 */
export function parseVcdError(
  text: string,
): { message: string | undefined; minorErrorCode: string | undefined } | undefined {
  const body = text.trim();
  if (body.startsWith("{")) {
    try {
      const json: unknown = JSON.parse(body);
      // /api answers `majorErrorCode`; /cloudapi only `minorErrorCode` and `message`.
      if (
        typeof json !== "object" || json === null ||
        !("majorErrorCode" in json || "minorErrorCode" in json)
      ) return;
      const { message, minorErrorCode } = json as Record<string, unknown>;
      return {
        message: typeof message === "string" ? message : undefined,
        minorErrorCode: typeof minorErrorCode === "string" ? minorErrorCode : undefined,
      };
    } catch {
      return undefined;
    }
  }
  if (!body.startsWith("<")) return undefined;
  try {
    const root = parseXml(body, { maxDepth: 16, maxNodes: 1_000 });
    if (root.name !== "Error") return undefined;
    return { message: root.attrs.message, minorErrorCode: root.attrs.minorErrorCode };
  } catch {
    return undefined;
  }
}

const MAX_DETAIL = 200;

/** `text` on one line, cut to 200 characters (with `…`), for error messages and logs. */
export function shorten(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > MAX_DETAIL ? `${oneLine.slice(0, MAX_DETAIL - 1)}…` : oneLine;
}

/** Whether `error` is an `AbortSignal.timeout` firing. */
export function isTimeout(error: unknown): boolean {
  return error instanceof DOMException && error.name === "TimeoutError";
}

/** The innermost message of an error chain: fetch's "fetch failed" hides the reason in `cause`. */
export function reasonOf(error: unknown): string {
  let e = error;
  for (let depth = 0; depth < 4 && e instanceof Error && e.cause instanceof Error; depth++) {
    e = e.cause;
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs one step of a multi-call job (registration): a `VcdError`, or an `XmlError` (vCD's answer
 * is not XML), becomes a `VcdError` saying `Cannot <doing> (<what>): <why>` with the first one's
 * status and minor code. Anything else is thrown as it is.
 */
export async function inStep<T>(doing: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof VcdError || e instanceof XmlError)) throw e;
    const detail = e instanceof XmlError ? `vCD's answer is not XML: ${e.message}` : e.message;
    throw new VcdError(`Cannot ${doing} (${what}): ${detail}`, {
      cause: e,
      ...(e instanceof VcdError && e.status !== undefined ? { status: e.status } : {}),
      ...(e instanceof VcdError && e.minorErrorCode !== undefined
        ? { minorErrorCode: e.minorErrorCode }
        : {}),
    });
  }
}
