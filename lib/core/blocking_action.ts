/**
 * @module The request that carries an extension's decision on a blocking task to vCD
 * (wire-format doc, section 7): resume, abort, fail or extend (`updateProgress`), by the
 * task's own action link when the document offers one. Pure: the caller sends it with its
 * admin session.
 */

import type { BlockingAction, BlockingTask, BlockingTaskLink, Decision } from "./blocking.ts";
import { blockingTaskId } from "./blocking_id.ts";
import { VMEXT_NS } from "./vcloud.ts";
import { el, renderXml } from "./xml.ts";

const OPERATION_PARAMS = "application/vnd.vmware.admin.blockingTaskOperationParams+xml";
const UPDATE_PROGRESS_PARAMS =
  "application/vnd.vmware.admin.blockingTaskUpdateProgressOperationParams+xml";
const ACTIONS: ReadonlySet<string> = new Set(["resume", "abort", "fail", "updateProgress"]);

/**
 * An HTTP request to send to vCD as a system administrator, with the caller's session
 * (`x-vcloud-authorization` or `Authorization: Bearer`). `expect` is the status that means
 * success.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ActionRequest, actionRequest } from "./blocking_action.ts";
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
 * import { actionRequest, type ActionRequestOptions } from "./blocking_action.ts";
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
 * import { actionRequest } from "./blocking_action.ts";
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
      { "xmlns:vmext": VMEXT_NS },
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
    { "xmlns:vmext": VMEXT_NS },
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
