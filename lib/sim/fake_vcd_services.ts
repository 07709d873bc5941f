/**
 * @module The fake vCD's extension-service registry under `/api/admin/extension/service`:
 * create (`POST`, unique names, children in schema order), query
 * (`GET …/query[?filter=name==<name>]`), read, update and delete one (`GET|PUT|DELETE …/<id>`,
 * delete refused while enabled), and its rights (`POST|GET …/<id>/rights`).
 */

import { child, childrenNamed, el, renderXml } from "../core/xml.ts";
import { VCLOUD_NS, VMEXT_NS } from "../core/vcloud.ts";
import { renderService, serviceHref } from "./fake_vcd_documents.ts";
import type { FakeService, FakeVcdState } from "./fake_vcd_state.ts";
import {
  checkType,
  MEDIA,
  parseBody,
  parseBool,
  Reply,
  requireText,
  respond,
} from "./fake_vcd_wire.ts";

/** The path every service route starts with. */
export const SERVICE_PREFIX = "/api/admin/extension/service";

const SERVICE_ORDER = [
  "Description",
  "Namespace",
  "Enabled",
  "AuthorizationEnabled",
  "RoutingKey",
  "Priority",
  "Exchange",
  "Vendor",
  "ApiFilters",
] as const;

function notAllowed(method: string): Reply {
  return new Reply(405, "METHOD_NOT_ALLOWED", `${method} not allowed`);
}

/** The fields of a `vmext:Service` document; children must come in schema order. */
export function parseService(body: string): Omit<FakeService, "id" | "rights"> {
  const root = parseBody(body, "Bad Service document");
  if (root.name !== "Service" || root.ns !== VMEXT_NS) {
    throw new Reply(400, "BAD_REQUEST", "expected a vmext:Service document");
  }
  let last = -1;
  for (const c of root.children) {
    if (c.name === "Link") continue;
    const index = SERVICE_ORDER.indexOf(c.name as (typeof SERVICE_ORDER)[number]);
    if (index === -1) throw new Reply(400, "BAD_REQUEST", `unknown Service element ${c.name}`);
    if (index <= last) {
      throw new Reply(400, "BAD_REQUEST", `Service element ${c.name} is out of schema order`);
    }
    last = index;
  }
  const name = root.attrs.name?.trim() ?? "";
  if (name === "") throw new Reply(400, "BAD_REQUEST", "Service requires a name");
  const priorityText = child(root, "Priority")?.text.trim();
  const priority = priorityText === undefined ? undefined : Number(priorityText);
  if (priority !== undefined && !Number.isInteger(priority)) {
    throw new Reply(400, "BAD_REQUEST", "Priority must be an integer");
  }
  const filters = child(root, "ApiFilters");
  return {
    name,
    description: child(root, "Description")?.text,
    namespace: requireText(root, "Namespace", "Service"),
    enabled: parseBool(child(root, "Enabled")?.text, true),
    authorizationEnabled: parseBool(child(root, "AuthorizationEnabled")?.text, false),
    routingKey: requireText(root, "RoutingKey", "Service"),
    priority,
    exchange: requireText(root, "Exchange", "Service"),
    vendor: child(root, "Vendor")?.text,
    apiFilters: filters === undefined
      ? []
      : childrenNamed(filters, "ApiFilter").map((f) => requireText(f, "UrlPattern", "ApiFilter")),
  };
}

/** Answers a request under {@linkcode SERVICE_PREFIX}; `rest` is the path after it. */
export function serviceRoute(
  state: FakeVcdState,
  req: Request,
  rest: string,
  search: URLSearchParams,
  body: string,
  version: string,
): Response {
  if (rest === "") return createService(state, req, body, version);
  if (rest === "/query") {
    if (req.method !== "GET") throw notAllowed(req.method);
    return queryServices(state, search, version);
  }
  const m = /^\/([^/]+)(\/rights)?$/.exec(rest);
  const service = m === null ? undefined : state.services.get(m[1]!);
  if (m === null || service === undefined) {
    throw new Reply(404, "NOT_FOUND", `no service at ${rest}`);
  }
  const call: ServiceCall = { state, service, req, body, version };
  return m[2] === undefined ? serviceItem(call) : rightsRoute(call);
}

/** A request to one existing service: `…/<id>` or `…/<id>/rights`. */
interface ServiceCall {
  readonly state: FakeVcdState;
  readonly service: FakeService;
  readonly req: Request;
  readonly body: string;
  readonly version: string;
}

function createService(
  state: FakeVcdState,
  req: Request,
  body: string,
  version: string,
): Response {
  if (req.method !== "POST") throw notAllowed(req.method);
  checkType(req, MEDIA.service);
  const fields = parseService(body);
  for (const s of state.services.values()) {
    if (s.name === fields.name) {
      throw new Reply(400, "DUPLICATE_NAME", `service ${s.name} exists`);
    }
  }
  const service: FakeService = { ...fields, id: crypto.randomUUID(), rights: new Map() };
  state.services.set(service.id, service);
  return respond(201, version, MEDIA.service, renderService(state.base, service), {
    location: serviceHref(state.base, service.id),
  });
}

function queryServices(
  state: FakeVcdState,
  search: URLSearchParams,
  version: string,
): Response {
  const filter = search.get("filter");
  const wanted = filter?.startsWith("name==") ? filter.slice(6) : undefined;
  const records = [...state.services.values()].filter((s) =>
    wanted === undefined || s.name === wanted
  );
  return respond(
    200,
    version,
    MEDIA.records,
    renderXml(el(
      "QueryResultRecords",
      { xmlns: VCLOUD_NS, total: records.length, name: "adminService" },
      ...records.map((s) =>
        el("AdminServiceRecord", {
          name: s.name,
          namespace: s.namespace,
          vendor: s.vendor,
          enabled: s.enabled,
          id: `urn:vcloud:service:${s.id}`,
          href: serviceHref(state.base, s.id),
        })
      ),
    )),
  );
}

function rightsRoute({ state, service, req, body, version }: ServiceCall): Response {
  if (req.method === "GET") {
    return respond(
      200,
      version,
      "application/vnd.vmware.vcloud.rightReferences+xml",
      renderXml(el(
        "RightReferences",
        { xmlns: VCLOUD_NS },
        ...[...service.rights].map(([name, id]) =>
          el("RightReference", { name, id, type: MEDIA.right })
        ),
      )),
    );
  }
  if (req.method !== "POST") throw notAllowed(req.method);
  checkType(req, MEDIA.right);
  const root = parseBody(body, "Bad Right document");
  const name = root.name === "Right" ? root.attrs.name?.trim() ?? "" : "";
  if (name === "") throw new Reply(400, "BAD_REQUEST", 'expected <Right name="…">');
  const full = `${service.namespace}:${name}`;
  if (service.rights.has(full)) throw new Reply(400, "DUPLICATE_NAME", `right ${full} exists`);
  const uuid = crypto.randomUUID();
  const id = `urn:vcloud:right:${uuid}`;
  service.rights.set(full, id);
  const description = child(root, "Description");
  return respond(
    201,
    version,
    MEDIA.right,
    renderXml(el(
      "Right",
      {
        xmlns: VCLOUD_NS,
        name: full,
        id,
        href: `${state.base}/api/admin/right/${uuid}`,
        type: MEDIA.right,
      },
      description === undefined ? null : el("Description", {}, description.text),
    )),
  );
}

function serviceItem({ state, service, req, body, version }: ServiceCall): Response {
  const method = req.method;
  if (method === "GET") {
    return respond(200, version, MEDIA.service, renderService(state.base, service));
  }
  if (method === "PUT") {
    checkType(req, MEDIA.service);
    Object.assign(service, parseService(body));
    return respond(200, version, MEDIA.service, renderService(state.base, service));
  }
  if (method === "DELETE") {
    if (service.enabled) {
      throw new Reply(400, "BAD_REQUEST", `disable service ${service.name} before deleting it`);
    }
    state.services.delete(service.id);
    return respond(204, version);
  }
  throw notAllowed(method);
}
