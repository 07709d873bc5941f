/**
 * @module Blocking tasks (wire-format doc, section 7): reads the `BlockingTask` document vCD
 * returns for `GET /api/admin/extension/blockingTask/<id>` and builds the request that resumes,
 * aborts, fails or extends one (blocking_action.ts; task ids in blocking_id.ts; both
 * re-exported here). Pure: the caller sends the request with its admin session.
 */

import { blockingTaskId } from "./blocking_id.ts";
import { child, childrenNamed, parseXml, type XmlNode } from "./xml.ts";

export { type ActionRequest, actionRequest, type ActionRequestOptions } from "./blocking_action.ts";
export { blockingTaskId, MAX_TASK_ID } from "./blocking_id.ts";

/**
 * What an extension can do with a blocking task.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BlockingAction } from "./blocking.ts";
 * const actions: BlockingAction[] = ["resume", "abort", "fail", "updateProgress"];
 * assert.equal(actions.length, 4);
 * ```
 */
export type BlockingAction = "resume" | "abort" | "fail" | "updateProgress";

/**
 * An extension's decision on a blocking task. `message` is required by vCD and shown to the
 * user; `timeoutMs` (updateProgress only) restarts the task's timeout from now.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { actionRequest, type Decision } from "./blocking.ts";
 * const wait: Decision = { action: "updateProgress", message: "waiting for approval", timeoutMs: 60_000 };
 * assert.equal(actionRequest({ id: "25", links: [] }, wait, "https://vcd.example.com").expect, 200);
 * ```
 */
export type Decision =
  | { readonly action: "resume" | "abort" | "fail"; readonly message: string }
  | { readonly action: "updateProgress"; readonly message: string; readonly timeoutMs?: number };

/**
 * A reference to another object (`Organization`, `User`, `TaskOwner`); attributes the
 * document leaves out are absent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBlockingTask, type Reference } from "./blocking.ts";
 * const task = parseBlockingTask('<BlockingTask id="urn:vcloud:blockingTask:25"><User name="ann"/></BlockingTask>');
 * const user: Reference | undefined = task.user;
 * assert.deepEqual(user, { name: "ann" });
 * ```
 */
export interface Reference {
  readonly name?: string;
  readonly href?: string;
  readonly id?: string;
  readonly type?: string;
}

/**
 * A `Link` of the blocking task; those with `rel` resume, abort, fail and updateProgress are the
 * action URLs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type BlockingTaskLink, parseBlockingTask } from "./blocking.ts";
 * const task = parseBlockingTask(
 *   '<BlockingTask id="urn:vcloud:blockingTask:25"><Link rel="resume" href="https://h/r"/></BlockingTask>',
 * );
 * const links: readonly BlockingTaskLink[] = task.links;
 * assert.deepEqual(links, [{ rel: "resume", href: "https://h/r" }]);
 * ```
 */
export interface BlockingTaskLink {
  readonly rel: string;
  readonly href: string;
  readonly type?: string;
}

/**
 * A parsed `BlockingTask` document. Optional parts the document leaves out are absent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type BlockingTask, parseBlockingTask } from "./blocking.ts";
 * const task: BlockingTask = parseBlockingTask(
 *   '<BlockingTask status="active" name="vdcComposeVapp" id="urn:vcloud:blockingTask:25"/>',
 * );
 * assert.deepEqual([task.id, task.status, task.operation], ["25", "active", "vdcComposeVapp"]);
 * ```
 */
export interface BlockingTask {
  /** The bare id, e.g. `25` for `urn:vcloud:blockingTask:25`. */
  readonly id: string;
  /** The task's own URL. */
  readonly href?: string;
  /** The `name` attribute: vCD puts the blocked operation's name there. */
  readonly name?: string;
  /** e.g. `active`, `resumed`, `aborted`, `failed`, `timedOut`. */
  readonly status?: string;
  /** The blocked operation, e.g. `vdcComposeVapp`: `operationName`, `operation`, else `name`. */
  readonly operation?: string;
  /** What vCD does on timeout: `resume`, `abort` or `fail`. */
  readonly timeoutAction?: string;
  /** When the task times out, as sent. */
  readonly timeoutDate?: string;
  /** When the task was created, as sent. */
  readonly createdTime?: string;
  /** Every `Link` child with a `rel` and an `href`, in order. */
  readonly links: readonly BlockingTaskLink[];
  /** `TaskOwner` (or `Owner`): the object the blocked task works on. */
  readonly owner?: Reference;
  /** `User`: who started the blocked operation. */
  readonly user?: Reference;
  /** `Organization`: where it runs. */
  readonly organization?: Reference;
  /** The parsed document. */
  readonly raw: XmlNode;
}

function attr(node: XmlNode, name: string): string | undefined {
  const value = Object.hasOwn(node.attrs, name) ? node.attrs[name]?.trim() : undefined;
  return value === "" ? undefined : value;
}

/** Copies the attributes that are present; exactOptionalPropertyTypes forbids `undefined`. */
function pick<K extends string>(node: XmlNode, names: readonly K[]): { [P in K]?: string } {
  const out: { [P in K]?: string } = {};
  for (const name of names) {
    const value = attr(node, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function reference(node: XmlNode | undefined): Reference | undefined {
  return node === undefined ? undefined : pick(node, ["name", "href", "id", "type"]);
}

function tryId(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return blockingTaskId(value);
  } catch {
    return undefined;
  }
}

/**
 * Parses the `BlockingTask` document (`application/vnd.vmware.admin.blockingTask+xml`).
 * Lenient: elements are matched by local name whatever their namespace, unknown attributes and
 * children are ignored, and missing optional parts are absent. The id comes from the `id`
 * attribute, else the `href`. Throws `SyntaxError` ("Cannot parse blocking task: …") when the
 * text is not XML, the root is not `BlockingTask`, or no id can be found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBlockingTask } from "./blocking.ts";
 * const task = parseBlockingTask(`<vmext:BlockingTask
 *     xmlns="http://www.vmware.com/vcloud/v1.5"
 *     xmlns:vmext="http://www.vmware.com/vcloud/extension/v1.5"
 *     status="active" timeoutAction="abort" name="vdcComposeVapp"
 *     href="https://vcd.example.com/api/admin/extension/blockingTask/25">
 *   <Organization name="Default" href="https://vcd.example.com/api/org/1a2b"/>
 * </vmext:BlockingTask>`);
 * assert.equal(task.id, "25");
 * assert.equal(task.timeoutAction, "abort");
 * assert.equal(task.organization?.name, "Default");
 * assert.throws(() => parseBlockingTask("not xml"), SyntaxError);
 * ```
 */
export function parseBlockingTask(xml: string): BlockingTask {
  let root: XmlNode;
  try {
    root = parseXml(typeof xml === "string" ? xml : "");
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new SyntaxError(`Cannot parse blocking task: ${detail}`, { cause: e });
  }
  if (root.name !== "BlockingTask") {
    throw new SyntaxError(
      `Cannot parse blocking task: the document is <${root.name}>, not <BlockingTask>`,
    );
  }
  const id = tryId(attr(root, "id")) ?? tryId(attr(root, "href"));
  if (id === undefined) {
    throw new SyntaxError("Cannot parse blocking task: it has no usable id or href");
  }
  const links: BlockingTaskLink[] = [];
  for (const link of childrenNamed(root, "Link")) {
    const { rel, href, type } = pick(link, ["rel", "href", "type"]);
    if (rel !== undefined && href !== undefined) {
      links.push(type === undefined ? { rel, href } : { rel, href, type });
    }
  }
  const attrs = pick(root, [
    "href",
    "name",
    "status",
    "timeoutAction",
    "timeoutDate",
    "createdTime",
  ]);
  const operation = attr(root, "operationName") ?? attr(root, "operation") ?? attrs.name;
  const owner = reference(child(root, "TaskOwner") ?? child(root, "Owner"));
  const user = reference(child(root, "User"));
  const organization = reference(child(root, "Organization"));
  return {
    id,
    ...attrs,
    ...(operation === undefined ? {} : { operation }),
    links,
    ...(owner === undefined ? {} : { owner }),
    ...(user === undefined ? {} : { user }),
    ...(organization === undefined ? {} : { organization }),
    raw: root,
  };
}
