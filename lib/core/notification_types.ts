/**
 * @module Event type patterns (`vapp/*`, `**\/create`): compiling them into predicates over
 * event types, and into the topic binding keys that select their notifications. Import it from
 * notification.ts, which re-exports it.
 */

/** Put in front of short type patterns such as `vapp/*`. */
const EVENT_PREFIX = "com/vmware/vcloud/event/";

// ---------------------------------------------------------------------------------------------
// Type patterns
// ---------------------------------------------------------------------------------------------

/** A pattern's segments, prefix added and `**` runs collapsed; throws on a bad pattern. */
function patternSegments(pattern: string): string[] {
  const bad = (why: string) =>
    new TypeError(`Invalid event type pattern ${JSON.stringify(pattern)}: ${why}`);
  if (typeof pattern !== "string") throw bad("it is not a string");
  let p = pattern.trim();
  let full = /^(?:\*\*|com)(?:\/|$)/.test(p);
  if (p.startsWith("/")) {
    full = true;
    p = p.slice(1);
  }
  if (p === "") throw bad("it is empty");
  const out: string[] = [];
  for (const segment of (full ? p : EVENT_PREFIX + p).split("/")) {
    if (segment === "") throw bad("it has an empty segment");
    if (segment !== "*" && segment !== "**" && /[.*#\s]/.test(segment)) {
      throw bad(`segment ${JSON.stringify(segment)} may not contain ".", "*", "#" or spaces`);
    }
    if (segment !== "**" || out.at(-1) !== "**") out.push(segment);
  }
  return out;
}

/** Glob over segments: `*` is one segment, `**` any number (two-pointer, with backtracking). */
function matchSegments(pattern: readonly string[], type: readonly string[]): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < type.length) {
    if (pattern[p] === "**") {
      star = p++;
      mark = t;
    } else if (p < pattern.length && (pattern[p] === "*" || pattern[p] === type[t])) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else return false;
  }
  while (pattern[p] === "**") p++;
  return p === pattern.length;
}

/**
 * Compiles an event type pattern into a predicate over slash-form types. Segments are
 * separated by `/`; `*` matches exactly one segment, `**` any number of segments (zero or more)
 * and may stand anywhere; other segments match literally (case-sensitive, like AMQP). A
 * pattern whose first segment is `com` or `**` is a full type; a pattern starting with `/` is
 * too (the `/` is dropped); any other pattern is short for `com/vmware/vcloud/event/` +
 * pattern: `vapp/*` means `com/vmware/vcloud/event/vapp/*`. Throws `TypeError` on
 * an empty pattern, an empty segment, or a segment mixing `*`, `#` or `.` with other text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileTypePattern } from "./notification.ts";
 * const vapp = compileTypePattern("vapp/*");
 * assert.equal(vapp("com/vmware/vcloud/event/vapp/create"), true);
 * assert.equal(vapp("com/vmware/vcloud/event/vm/create"), false);
 * assert.equal(compileTypePattern("**")("com/vmware/foobar"), true);
 * assert.equal(compileTypePattern("**\/create")("com/vmware/vcloud/event/vc/create"), true);
 * assert.throws(() => compileTypePattern("vapp/cre*"), TypeError);
 * ```
 */
export function compileTypePattern(pattern: string): (type: string) => boolean {
  const segments = patternSegments(pattern);
  return (type) => typeof type === "string" && matchSegments(segments, type.split("/"));
}

/**
 * Turns an event type pattern (as for {@linkcode compileTypePattern}) into the topic binding
 * key that selects its notifications: four `*` words for success, entity, org and user, the
 * type's segments with `**` as `#`, and a trailing `#` for the optional task name. The key may
 * also let through a few notifications the pattern rejects (those whose task name happens to
 * complete the pattern), so handlers still filter with the compiled pattern. Throws
 * `TypeError` on a bad pattern.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bindingKeyFor } from "./notification.ts";
 * assert.equal(bindingKeyFor("vapp/*"), "*.*.*.*.com.vmware.vcloud.event.vapp.*.#");
 * assert.equal(bindingKeyFor("com/vmware/vcloud/event/**"), "*.*.*.*.com.vmware.vcloud.event.#");
 * ```
 */
export function bindingKeyFor(pattern: string): string {
  const segments = patternSegments(pattern);
  const words = segments.map((s) => s === "**" ? "#" : s);
  if (segments.at(-1) !== "**") words.push("#");
  return ["*", "*", "*", "*", ...words].join(".");
}
