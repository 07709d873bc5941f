/**
 * @module Small helpers the AMQP adapter's files share: a Buffer view of bytes for amqplib, the
 * broker's "not found" error, and a promise raced against a timeout.
 */

import { Buffer } from "node:buffer";

/** A Buffer over the same bytes (no copy); a Buffer already is one. */
export const toBuffer = (u: Uint8Array): Buffer =>
  Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * Whether the broker answered 404 (no such exchange or queue).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isNotFound } from "./util.ts";
 * assert.equal(isNotFound({ code: 404 }), true);
 * assert.equal(isNotFound(new Error("PRECONDITION_FAILED")), false);
 * ```
 */
export function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === 404;
}

/**
 * Resolves with the value, or with `fallback` after `ms`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { within } from "./util.ts";
 * assert.equal(await within(new Promise<string>(() => {}), 1, "late"), "late");
 * assert.equal(await within(Promise.resolve("now"), 1_000, "late"), "now");
 * ```
 */
export function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
