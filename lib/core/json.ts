/**
 * @module Lenient readers of parsed JSON, one home for every decoder (the AMQP envelope, the
 * MQTT messages, notifications): nothing is assumed about a field until it is checked.
 */

/** A JSON object as read: nothing assumed about its fields. */
export type Json = Readonly<Record<string, unknown>>;

/**
 * Whether `value` is a plain object (not null, not an array).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRecord, own } from "./json.ts";
 * assert.equal(isRecord([]), false);
 * assert.equal(own({ a: 1 }, "a"), 1);
 * assert.equal(own({}, "constructor"), undefined);
 * ```
 */
export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `o[key]` when it is `o`'s own property, else `undefined`. */
export function own(o: Json, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}
