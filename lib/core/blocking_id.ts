/**
 * @module Blocking task ids: the bare id of a task from the URN a notification carries, a
 * `…/blockingTask/<id>` URL or a bare id, bounded and safe to put in a URL path.
 */

import { quote } from "./redact.ts";

/** The longest blocking task id accepted; vCD's are UUIDs (36 characters). */
export const MAX_TASK_ID = 128;

/**
 * The bare id of a blocking task, from `urn:vcloud:blockingTask:<id>` (the `entity` of a
 * blocking-task notification), a `…/blockingTask/<id>` URL, or a bare id. Throws `TypeError`
 * for a URN of another kind, or an id that is empty, longer than {@linkcode MAX_TASK_ID}
 * characters or could change a URL's path. (A tenant controls what a notification carries:
 * a 100 KB id would otherwise be fetched from vCD, three attempts, and echoed in every log
 * line about it.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockingTaskId } from "./blocking_id.ts";
 * assert.equal(blockingTaskId("urn:vcloud:blockingTask:41aaf964-7452-42e6-9b8d-772e5f8421d8"), "41aaf964-7452-42e6-9b8d-772e5f8421d8");
 * assert.equal(blockingTaskId("41aaf964"), "41aaf964");
 * assert.throws(() => blockingTaskId("urn:vcloud:vapp:41aaf964"), TypeError);
 * assert.throws(() => blockingTaskId("a".repeat(129)), TypeError);
 * ```
 */
export function blockingTaskId(entity: string): string {
  const value = typeof entity === "string" ? entity.trim() : "";
  let id = value;
  const urn = /^urn:vcloud:([^:]*):(.*)$/i.exec(value);
  if (urn !== null) {
    if (urn[1]?.toLowerCase() !== "blockingtask") {
      throw new TypeError(
        `Cannot read blocking task id: "${quote(value)}" is not a blocking task URN`,
      );
    }
    id = urn[2] ?? "";
  } else {
    id = idInHref(value) ?? value;
  }
  if (id.length > MAX_TASK_ID || !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(id)) {
    throw new TypeError(`Cannot read blocking task id from "${quote(value)}"`);
  }
  return id;
}

/**
 * The `<id>` of `…/blockingTask/<id>[/][?…|#…]`, as
 * `/\/blockingTask\/([^/?#]+)\/?(?:[?#].*)?$/i` found it, by a scan: that pattern retried at
 * every `/blockingTask/` and ran `.*` to the next line break each time, quadratic on
 * `/blockingTask/a?/blockingTask/a?…` followed by a line break.
 */
function idInHref(value: string): string | undefined {
  const end = value.search(/[?#]/);
  // `.` does not match line terminators: a query or fragment holding one was no match.
  if (end !== -1 && /[\n\r\u2028\u2029]/.test(value.slice(end))) return undefined;
  let path = end === -1 ? value : value.slice(0, end);
  if (path.endsWith("/")) path = path.slice(0, -1);
  // ASCII lower case only: it keeps every offset (toLowerCase() lengthens U+0130).
  const at = path.replace(/[A-Z]+/g, (m) => m.toLowerCase()).lastIndexOf("/blockingtask/");
  if (at === -1) return undefined;
  const id = path.slice(at + "/blockingtask/".length);
  return id === "" || id.includes("/") ? undefined : id;
}
