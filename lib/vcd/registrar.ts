/**
 * @module Registers an extension in vCD through its REST API (wire format, section 8): finds the
 * extension service by name, then creates or updates it, disables it, or disables and deletes
 * it; on register, also creates the rights its routes declare by name (lib/vcd/service_rights.ts).
 * The HTTP client is injected ({@linkcode RestClient}; `VcdClient` satisfies it), so this
 * module has no network of its own; the documents come from `register.ts`.
 *
 * What a cell is believed to answer to `GET /api/admin/extension/service/query` (from public
 * clients: pyvcloud's `Extension` queries type `adminService`, the vCloud .NET SDK names this
 * path `EXTENSION_SERVICES`, UI plug-ins read `QueryResultRecords.AdminServiceRecord`; not yet
 * checked against a cell): a typed query of `adminService`. In the default `records` format it
 * is a `QueryResultRecords` with one `AdminServiceRecord` per service whose attributes include
 * `name`, `namespace`, `vendor`, `enabled`, `exchange`, `routingKey`, `priority`,
 * `isAuthorizationEnabled`, `href` and `id`; the `references` format gives
 * `QueryResultReferences` of `AdminServiceReference`. Results are paged (25 per page unless
 * `pageSize` says otherwise) with a `Link rel="nextPage"`, and `filter=name==<name>` is vCD's
 * FIQL filter. So this module reads either shape (`parseServiceList`), follows `nextPage`
 * links, matches names itself (in case the filter is ignored or matches loosely), and lists
 * every service when the filtered query is refused with 400.
 */

import type { Extension } from "../core/extension.ts";
import {
  apiFilters,
  linkHref,
  parseServiceList,
  renderServiceDocument,
  SERVICE_MEDIA_TYPE,
  serviceHref,
  type ServiceOptions,
  type ServiceRecord,
} from "../core/register.ts";
import { inStep, VcdError } from "./errors.ts";
import { parseXml } from "../core/xml.ts";
import { namedRights } from "../core/rights.ts";
import { ensureServiceRights, rightsHref } from "./service_rights.ts";

/** The REST calls registration needs: `VcdClient.request`, or a stub in tests. */
export interface RestClient {
  /**
   * Sends a request to a path (`/api/...`) or an absolute URL on the cell and resolves to the
   * answer; rejects with `VcdError` for a status outside `expect` or no answer.
   */
  request(
    method: string,
    pathOrUrl: string,
    init?: {
      body?: string;
      contentType?: string;
      accept?: string;
      expect?: readonly number[];
    },
  ): Promise<{ status: number; headers: Headers; text: string }>;
}

/** What {@linkcode register} does: create or update, disable, or disable and delete. */
export type RegisterAction = "register" | "disable" | "unregister";

/** Options of {@linkcode register}; every default is listed. */
export interface RegisterOptions {
  /** The direct exchange vCD publishes requests to, e.g. `vcdext`. Required. */
  readonly exchange: string;
  /** Routing key; default the extension's `routingKey`. */
  readonly routingKey?: string;
  /** Default `"register"`. */
  readonly action?: RegisterAction;
  /** Priority among services whose filters match the same path; default 50. */
  readonly priority?: number;
  /** Whether vCD checks the service's rights before forwarding; default false. */
  readonly authorizationEnabled?: boolean;
}

/** The outcome of {@linkcode register} for one extension. */
export interface RegisterResult {
  /** The extension's (and service's) name. */
  readonly extension: string;
  /**
   * `created`, `updated`, `disabled`, `deleted`; `absent` when there was nothing to disable or
   * delete; `skipped` when an extension without routes was not registered (see `reason`).
   */
  readonly action: "created" | "updated" | "disabled" | "deleted" | "absent" | "skipped";
  /** The service's href in vCD, when it exists (or existed, for `deleted`). */
  readonly href?: string;
  /** The API filter patterns of the extension, as sent (or as they would be). */
  readonly filters: string[];
  /** Why nothing was done, for `skipped`. */
  readonly reason?: string;
  /**
   * The rights created now (`{namespace}:Name`), when the routes declare rights by name
   * (`created` and `updated` only; empty when they all existed).
   */
  readonly rightsCreated?: readonly string[];
}

/** Path of the service collection: `POST` creates a service. */
export const SERVICES_PATH = "/api/admin/extension/service";
/** Path of the service query. */
export const SERVICE_QUERY_PATH = "/api/admin/extension/service/query";

/** Pages of a service query followed at most. */
const MAX_PAGES = 100;

/** Why an extension without routes is not registered. */
const NO_ROUTES = "no API routes: notifications and blocking tasks need no registration " +
  "(disable or unregister still remove an earlier registration)";

/**
 * Registers `extension` in vCD (`action` `"register"`, the default): creates the service with
 * `POST /api/admin/extension/service` (201, or 200) when no service of that name and namespace
 * exists, else `PUT`s the full document to its href (200, or 202), which also re-enables it.
 * `"disable"` `PUT`s the same document with `Enabled` false; `"unregister"` disables first
 * (vCD refuses to delete an enabled service; skipped when the query says it is disabled) and
 * then `DELETE`s the href (204, or 202). Disabling or deleting a service that does not exist
 * answers `absent`. A service of the same name in another namespace is not ours and is never
 * touched. An extension without routes is `skipped` by `"register"`: vCD forwards only API
 * requests to a service, and notifications and blocking tasks reach the service without one.
 *
 * Options are checked before any request (`TypeError` for an empty exchange, `RangeError` for
 * a priority that is not an integer). A failed request rejects with a `VcdError` whose message
 * names the action, the extension and the step, e.g. `Cannot register extension t (create the
 * service): Cannot POST /api/admin/extension/service: vCD answered 400: …`, keeping `status`
 * and `minorErrorCode`. A 202 (a vCD task) is taken as accepted; its task is not awaited.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { register, type RestClient } from "./registrar.ts";
 * const sent: string[] = [];
 * const client: RestClient = {
 *   request(method, path) {
 *     sent.push(`${method} ${path}`);
 *     const text = method === "GET"
 *       ? "<QueryResultRecords/>"
 *       : '<vmext:Service xmlns:vmext="http://www.vmware.com/vcloud/extension/v1.5" name="t"' +
 *         ' href="https://vcd.example.com/api/admin/extension/service/1"/>';
 *     return Promise.resolve({ status: method === "GET" ? 200 : 201, headers: new Headers(), text });
 *   },
 * };
 * const ext = { name: "t", namespace: "com.example.t", routingKey: "t", routes: [
 *   { method: "GET", path: "/api/t/{id}", handle: () => ({}) },
 * ] } as const;
 * const result = await register(client, ext, { exchange: "vcdext" });
 * assert.deepEqual(result, {
 *   extension: "t",
 *   action: "created",
 *   href: "https://vcd.example.com/api/admin/extension/service/1",
 *   filters: ["/api/t/[^/]+/?"],
 * });
 * assert.deepEqual(sent, [
 *   "GET /api/admin/extension/service/query?filter=name==t",
 *   "POST /api/admin/extension/service",
 * ]);
 * ```
 */
export async function register(
  client: RestClient,
  extension: Extension,
  options: RegisterOptions,
): Promise<RegisterResult> {
  const action = options.action ?? "register";
  const name = extension.name;
  const filters = apiFilters(extension);
  const documentOptions = (enabled: boolean): ServiceOptions => ({
    exchange: options.exchange,
    enabled,
    ...(options.routingKey === undefined ? {} : { routingKey: options.routingKey }),
    ...(options.priority === undefined ? {} : { priority: options.priority }),
    ...(options.authorizationEnabled === undefined
      ? {}
      : { authorizationEnabled: options.authorizationEnabled }),
  });
  // Built now, so that bad options fail before anything is sent.
  const document = (enabled: boolean) => renderServiceDocument(extension, documentOptions(enabled));
  const enabledDoc = document(true);
  const disabledDoc = document(false);

  if (action === "register" && extension.routes.length === 0) {
    return { extension: name, action: "skipped", filters, reason: NO_ROUTES };
  }
  const step = <T>(what: string, fn: () => Promise<T>) =>
    inStep(`${action} extension ${name}`, what, fn);
  const send = (method: string, href: string, body: string, expect: readonly number[]) =>
    client.request(method, href, { body, contentType: SERVICE_MEDIA_TYPE, expect });

  const existing = await step("find the service", () => findService(client, extension));

  if (action === "register") {
    if (existing !== undefined) {
      await step("update the service", () => send("PUT", existing.href, enabledDoc, [200, 202]));
      const rights = await step("create its rights", () => declareRights(client, extension));
      return { extension: name, action: "updated", href: existing.href, filters, ...rights };
    }
    const created = await step(
      "create the service",
      () => send("POST", SERVICES_PATH, enabledDoc, [201, 200]),
    );
    const href = createdHref(created);
    const rights = await step("create its rights", () => declareRights(client, extension, href));
    return {
      extension: name,
      action: "created",
      ...(href === undefined ? {} : { href }),
      filters,
      ...rights,
    };
  }

  if (existing === undefined) return { extension: name, action: "absent", filters };
  if (action === "disable" || existing.enabled !== false) {
    await step("disable the service", () => send("PUT", existing.href, disabledDoc, [200, 202]));
  }
  if (action === "disable") {
    return { extension: name, action: "disabled", href: existing.href, filters };
  }
  await step(
    "delete the service",
    () => client.request("DELETE", existing.href, { expect: [204, 202] }),
  );
  return { extension: name, action: "deleted", href: existing.href, filters };
}

/**
 * Finds the service registered for `extension`: the query filtered by name, every page of it,
 * or every service when vCD refuses the filter (400). A record matches when its name is the
 * extension's and its namespace, when the record gives one, is the extension's too. Resolves
 * to `undefined` when there is none; rejects with `VcdError` (request) or `XmlError` (answer).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findService, type RestClient } from "./registrar.ts";
 * const text = "<QueryResultRecords>" +
 *   '<AdminServiceRecord name="t" namespace="com.other" href="https://c/api/admin/extension/service/1"/>' +
 *   '<AdminServiceRecord name="t" namespace="com.example.t" enabled="false" href="https://c/api/admin/extension/service/2"/>' +
 *   "</QueryResultRecords>";
 * const client: RestClient = {
 *   request: () => Promise.resolve({ status: 200, headers: new Headers(), text }),
 * };
 * assert.deepEqual(await findService(client, { name: "t", namespace: "com.example.t" }), {
 *   name: "t",
 *   href: "https://c/api/admin/extension/service/2",
 *   namespace: "com.example.t",
 *   enabled: false,
 * });
 * ```
 */
export async function findService(
  client: RestClient,
  extension: Pick<Extension, "name" | "namespace">,
): Promise<ServiceRecord | undefined> {
  let records: ServiceRecord[];
  try {
    records = await queryAll(
      client,
      `${SERVICE_QUERY_PATH}?filter=name==${encodeURIComponent(extension.name)}`,
    );
  } catch (e) {
    if (!(e instanceof VcdError && e.status === 400)) throw e;
    records = await queryAll(client, SERVICE_QUERY_PATH);
  }
  return records.find((r) =>
    r.name === extension.name && (r.namespace === undefined || r.namespace === extension.namespace)
  );
}

/**
 * Creates the rights the routes declare by name that the service lacks, through its rights
 * link; `{}` when no right is declared by name (nothing is sent then).
 */
async function declareRights(
  client: RestClient,
  extension: Extension,
  serviceHref?: string,
): Promise<{ rightsCreated?: string[] }> {
  const names = namedRights(extension).map((r) => r.name);
  if (names.length === 0) return {};
  const href = serviceHref ?? (await findService(client, extension))?.href;
  if (href === undefined) throw new VcdError("the service was created but vCD does not list it");
  const rights = await rightsHref(client, href);
  return { rightsCreated: await ensureServiceRights(client, rights, extension, names) };
}

/** Every record of a service query, following `nextPage` links (bounded, loop-safe). */
async function queryAll(client: RestClient, first: string): Promise<ServiceRecord[]> {
  const records: ServiceRecord[] = [];
  const seen = new Set<string>();
  let next: string | undefined = first;
  while (next !== undefined) {
    if (seen.size >= MAX_PAGES) {
      throw new VcdError(`Cannot list services: the query has more than ${MAX_PAGES} pages`);
    }
    seen.add(next);
    const response = await client.request("GET", next, { expect: [200] });
    const root = parseXml(response.text);
    records.push(...parseServiceList(root));
    const link = linkHref(root, "nextPage");
    next = link === undefined || seen.has(link) ? undefined : link;
  }
  return records;
}

/** The href of a created service: from the returned document, else the `Location` header. */
function createdHref(response: { headers: Headers; text: string }): string | undefined {
  try {
    const href = serviceHref(parseXml(response.text));
    if (href !== undefined) return href;
  } catch {
    // An empty or odd body: the Location header may still say where the service is.
  }
  return response.headers.get("location") ?? undefined;
}

/**
 * One line saying what {@linkcode register} did, for the CLI.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeResult } from "./registrar.ts";
 * assert.equal(
 *   describeResult({ extension: "t", action: "created", href: "https://c/s/1", filters: ["/a/?"] }),
 *   "t: created https://c/s/1 (1 API filter)",
 * );
 * assert.equal(
 *   describeResult({ extension: "p", action: "skipped", filters: [], reason: "no API routes" }),
 *   "p: skipped: no API routes",
 * );
 * ```
 */
export function describeResult(result: RegisterResult): string {
  if (result.action === "skipped") return `${result.extension}: skipped: ${result.reason ?? ""}`;
  if (result.action === "absent") return `${result.extension}: absent (not registered in vCD)`;
  const n = result.filters.length;
  const filters = result.action === "created" || result.action === "updated"
    ? ` (${n} API filter${n === 1 ? "" : "s"})`
    : "";
  const r = result.rightsCreated?.length;
  const rights = r === undefined ? "" : `, ${r} right${r === 1 ? "" : "s"} created`;
  return `${result.extension}: ${result.action}${
    result.href === undefined ? "" : ` ${result.href}`
  }${filters}${rights}`;
}
