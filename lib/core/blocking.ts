/**
 * @module Blocking tasks (wire-format doc, section 7): reads the `BlockingTask` document vCD
 * returns for `GET /api/admin/extension/blockingTask/<id>` and builds the request that resumes,
 * aborts, fails or extends one. Pure: the caller sends the request with its admin session.
 */

import { quote } from "./redact.ts";
import { child, childrenNamed, el, parseXml, renderXml, type XmlNode } from "./xml.ts";

const VMEXT = "http://www.vmware.com/vcloud/extension/v1.5";
const OPERATION_PARAMS = "application/vnd.vmware.admin.blockingTaskOperationParams+xml";
const UPDATE_PROGRESS_PARAMS =
  "application/vnd.vmware.admin.blockingTaskUpdateProgressOperationParams+xml";
const ACTIONS: ReadonlySet<string> = new Set(["resume", "abort", "fail", "updateProgress"]);

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
 * import { blockingTaskId } from "./blocking.ts";
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

/**
 * An HTTP request to send to vCD as a system administrator, with the caller's session
 * (`x-vcloud-authorization` or `Authorization: Bearer`). `expect` is the status that means
 * success.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ActionRequest, actionRequest } from "./blocking.ts";
 * const req: ActionRequest = actionRequest({ id: "25", links: [] }, { action: "resume", message: "ok" }, "https://vcd.example.com");
 * assert.deepEqual([req.method, req.expect], ["POST", 204]);
 * ```
 */
export interface ActionRequest {
  readonly method: "POST";
  readonly url: string;
  /** The body's media type. */
  readonly contentType: string;
  /** `application/*+xml;version=<v>`, set when an API version was given. */
  readonly accept?: string;
  readonly body: string;
  /** 204 for resume, abort and fail; 200 for updateProgress. */
  readonly expect: number;
  /**
   * The href of the task's `Link` for this action when it had one and it was not followed
   * (see {@linkcode actionRequest}); the caller logs it. Absent otherwise.
   */
  readonly ignoredLink?: string;
}

/**
 * Options of {@linkcode actionRequest}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { actionRequest, type ActionRequestOptions } from "./blocking.ts";
 * const options: ActionRequestOptions = { apiVersion: "36.0" };
 * const req = actionRequest({ id: "25", links: [] }, { action: "fail", message: "no" }, "https://vcd.example.com", options);
 * assert.equal(req.accept, "application/*+xml;version=36.0");
 * ```
 */
export interface ActionRequestOptions {
  /**
   * The vCloud API version for the `Accept` header, e.g. `"36.0"` (digits and dots; else
   * `TypeError`). Default: no `accept`, the caller's HTTP client sets it.
   */
  readonly apiVersion?: string;
}

function checkBase(baseUrl: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(baseUrl);
  } catch {
    url = undefined;
  }
  if (
    url === undefined || (url.protocol !== "https:" && url.protocol !== "http:") ||
    url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== ""
  ) {
    throw new TypeError(
      `Cannot build blocking task action: base URL ${
        JSON.stringify(String(baseUrl))
      } is not an http(s) URL without query, fragment or credentials`,
    );
  }
  return url;
}

/** The task's link for `action`, if it has one, and whether it may be followed. */
interface LinkChoice {
  /** The resolved URL to post to, when the link passed every check. */
  readonly url?: string;
  /** The link's href, when there was one and it was not followed. */
  readonly ignored?: string;
}

/**
 * The task's link for `action`, followed only when it resolves to the base URL's origin,
 * carries no credentials, query or fragment, and its path ends in
 * `/api/admin/extension/blockingTask/<id>/action/<action>` for this task's own id: the admin
 * session goes to exactly the endpoint vCD documents, never to another path on the cell (a
 * document that a proxy, a plugin or a compromised cell rewrote could otherwise point the
 * session at any admin API). Any path prefix is allowed, for cells behind a proxy that adds one.
 */
function chooseLink(
  links: readonly BlockingTaskLink[],
  action: BlockingAction,
  id: string,
  base: URL,
): LinkChoice {
  const link = links.find((l) => l.rel.toLowerCase() === action.toLowerCase());
  if (link === undefined) return {};
  let url: URL;
  try {
    url = new URL(link.href, base);
  } catch {
    return { ignored: link.href };
  }
  const ok = url.origin === base.origin && url.username === "" && url.password === "" &&
    url.search === "" && url.hash === "" &&
    url.pathname.endsWith(`/api/admin/extension/blockingTask/${id}/action/${action}`);
  return ok ? { url: url.href } : { ignored: link.href };
}

/**
 * Builds the request that carries out a decision on a blocking task. The URL is the task's
 * `Link` with that `rel` when it is on the same origin as `baseUrl` and its path ends in
 * `/api/admin/extension/blockingTask/<id>/action/<action>` for the task's own id (no query, no
 * credentials), so the admin session reaches only that endpoint; else
 * `${baseUrl}/api/admin/extension/blockingTask/<id>/action/<action>`, with the link that was
 * not followed in `ignoredLink`. Falling back rather than refusing: the decision still reaches
 * vCD at the documented address, and a task left undecided would only time out. The body is a
 * `BlockingTaskOperationParams` (resume, abort, fail; expect 204) or a
 * `BlockingTaskUpdateProgressParams` with an optional `TimeoutValueInMilliseconds`
 * (updateProgress; expect 200), message escaped. Throws `TypeError` on an empty message, an
 * unknown action, a bad id or base URL, and `RangeError` on a `timeoutMs` that is not a
 * non-negative integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { actionRequest } from "./blocking.ts";
 * const req = actionRequest(
 *   { id: "urn:vcloud:blockingTask:25", links: [] },
 *   { action: "abort", message: "quota <exceeded>" },
 *   "https://vcd.example.com/",
 * );
 * assert.equal(req.url, "https://vcd.example.com/api/admin/extension/blockingTask/25/action/abort");
 * assert.equal(req.contentType, "application/vnd.vmware.admin.blockingTaskOperationParams+xml");
 * assert.equal(
 *   req.body,
 *   '<?xml version="1.0" encoding="UTF-8"?><vmext:BlockingTaskOperationParams' +
 *     ' xmlns:vmext="http://www.vmware.com/vcloud/extension/v1.5">' +
 *     "<vmext:Message>quota &lt;exceeded&gt;</vmext:Message></vmext:BlockingTaskOperationParams>",
 * );
 * assert.throws(() => actionRequest({ id: "25", links: [] }, { action: "resume", message: "" }, "https://vcd.example.com"), TypeError);
 * ```
 */
export function actionRequest(
  task: Pick<BlockingTask, "id" | "links">,
  decision: Decision,
  baseUrl: string,
  options: ActionRequestOptions = {},
): ActionRequest {
  const action: unknown = decision?.action;
  if (typeof action !== "string" || !ACTIONS.has(action)) {
    throw new TypeError(
      `Cannot build blocking task action: unknown action ${JSON.stringify(action)}`,
    );
  }
  const message: unknown = decision.message;
  if (typeof message !== "string" || message.trim() === "") {
    throw new TypeError("Cannot build blocking task action: a message is required");
  }
  const base = checkBase(baseUrl);
  const id = blockingTaskId(task.id);
  const link = chooseLink(
    Array.isArray(task.links) ? task.links : [],
    action as BlockingAction,
    id,
    base,
  );
  const url = link.url ??
    `${base.href.replace(/\/+$/, "")}/api/admin/extension/blockingTask/${id}/action/${action}`;
  const ignored = link.ignored === undefined ? {} : { ignoredLink: link.ignored };
  const version = options.apiVersion;
  if (version !== undefined && !/^[0-9]+(?:\.[0-9]+)*$/.test(version)) {
    throw new TypeError(
      `Cannot build blocking task action: API version ${JSON.stringify(version)} is not like 36.0`,
    );
  }
  const accept = version === undefined ? {} : { accept: `application/*+xml;version=${version}` };

  if (decision.action !== "updateProgress") {
    const body = el(
      "vmext:BlockingTaskOperationParams",
      { "xmlns:vmext": VMEXT },
      el("vmext:Message", {}, message),
    );
    return {
      method: "POST",
      url,
      contentType: OPERATION_PARAMS,
      ...accept,
      ...ignored,
      body: renderXml(body),
      expect: 204,
    };
  }
  const timeout = decision.timeoutMs;
  if (timeout !== undefined && !(Number.isSafeInteger(timeout) && timeout >= 0)) {
    throw new RangeError(
      `Cannot build blocking task action: timeoutMs must be a non-negative integer, got ${timeout}`,
    );
  }
  const body = el(
    "vmext:BlockingTaskUpdateProgressParams",
    { "xmlns:vmext": VMEXT },
    el("vmext:Message", {}, message),
    timeout === undefined ? null : el("vmext:TimeoutValueInMilliseconds", {}, timeout),
  );
  return {
    method: "POST",
    url,
    contentType: UPDATE_PROGRESS_PARAMS,
    ...accept,
    ...ignored,
    body: renderXml(body),
    expect: 200,
  };
}
