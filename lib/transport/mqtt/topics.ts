/**
 * @module An MQTT extension's identity and topics (wire-format document, section 12): the
 * triplet `vendor/name/version` (its MQTT user name and its vCD id), the monitor topic it
 * subscribes to (`topic/extension/<vendor>/<name>/<version>/ext`) and the respond topic it
 * publishes replies to (`…/vcd`). Pure.
 */

/** An extension's vendor, name and version, as vCD registers it. */
export interface Triplet {
  readonly vendor: string;
  readonly name: string;
  readonly version: string;
}

/** Longest part of a triplet taken (vCD's own bound is not published). */
export const MAX_PART = 128;

/**
 * Why a triplet part cannot be used, or `undefined` when it can: not empty, at most
 * {@linkcode MAX_PART} characters, and none of the MQTT topic separators and wildcards
 * (`/`, `+`, `#`), control characters or white space (so a part is one topic level, and a
 * subscription to it matches that extension's topic only).
 */
export function partProblem(part: string): string | undefined {
  if (part === "") return "is empty";
  if (part.length > MAX_PART) return `is over ${MAX_PART} characters`;
  // deno-lint-ignore no-control-regex
  if (/[/+#\u0000-\u0020\u007f]/.test(part)) {
    return "holds '/', '+', '#', white space or a control character";
  }
  return undefined;
}

/**
 * A validated triplet; throws `TypeError` naming the part that cannot be used.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { triplet } from "./topics.ts";
 * assert.deepEqual(triplet("example", "gcp-ticketing", "1.0.0"), { vendor: "example", name: "gcp-ticketing", version: "1.0.0" });
 * assert.throws(() => triplet("example", "a/b", "1.0.0"), /name/);
 * ```
 */
export function triplet(vendor: string, name: string, version: string): Triplet {
  for (const [label, part] of [["vendor", vendor], ["name", name], ["version", version]]) {
    const problem = partProblem(part!);
    if (problem !== undefined) {
      throw new TypeError(`Invalid MQTT extension ${label} ${JSON.stringify(part)}: it ${problem}`);
    }
  }
  return { vendor, name, version };
}

/**
 * Reads `vendor/name/version`; throws `TypeError` when it is not three valid parts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTriplet } from "./topics.ts";
 * assert.equal(parseTriplet("example/gcp-ticketing/1.0.0").name, "gcp-ticketing");
 * assert.throws(() => parseTriplet("example/gcp-ticketing"), TypeError);
 * ```
 */
export function parseTriplet(text: string): Triplet {
  const parts = text.split("/");
  if (parts.length !== 3) {
    throw new TypeError(
      `Invalid MQTT extension triplet ${
        JSON.stringify(text.slice(0, 200))
      }: expected vendor/name/version`,
    );
  }
  return triplet(parts[0]!, parts[1]!, parts[2]!);
}

/** `vendor/name/version`: the MQTT user name and the token name. */
export function formatTriplet(t: Triplet): string {
  return `${t.vendor}/${t.name}/${t.version}`;
}

/**
 * The topic vCD publishes the extension's requests on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { monitorTopic, respondTopic, triplet } from "./topics.ts";
 * const t = triplet("example", "gcp-ticketing", "1.0.0");
 * assert.equal(monitorTopic(t), "topic/extension/example/gcp-ticketing/1.0.0/ext");
 * assert.equal(respondTopic(t), "topic/extension/example/gcp-ticketing/1.0.0/vcd");
 * ```
 */
export function monitorTopic(t: Triplet): string {
  return `topic/extension/${formatTriplet(t)}/ext`;
}

/** The topic the extension publishes its responses on. */
export function respondTopic(t: Triplet): string {
  return `topic/extension/${formatTriplet(t)}/vcd`;
}
