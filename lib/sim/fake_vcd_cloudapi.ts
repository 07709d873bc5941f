/**
 * @module The fake vCD's cloudapi for MQTT extensions (wire-format document, section 12.2):
 * external services, API filters and extension tokens, JSON in and out, `Accept:
 * application/json;version=<v>` required (406 otherwise), `Content-Type: application/json` on
 * bodies (415), errors as cloudapi's JSON `{minorErrorCode, message, stackTrace}`.
 *
 * | route | answer |
 * |---|---|
 * | `POST /cloudapi/extensions/api` | 201 the service with `id` `urn:vcloud:extension-api:<vendor>:<name>:<version>` and `mqttTopics`; 400 `DUPLICATE_NAME` for a triplet that exists |
 * | `GET /cloudapi/extensions/api` | 200 a page of services |
 * | `GET\|PUT\|DELETE /cloudapi/extensions/api/<id>` | 200 (with `Link` headers to the legacy service) / 200 / 204, 400 while enabled; DELETE also removes its tokens and filters |
 * | `POST /cloudapi/1.0.0/tokens` (`type: EXTENSION`) | 200 the token, its value shown only here |
 * | `GET /cloudapi/1.0.0/tokens[?filter=type==EXTENSION;name==<n>]`, `DELETE …/<id>` | 200 a page without values / 204 |
 * | `POST /cloudapi/1.0.0/apiFilters` | 201 the filter |
 * | `GET /cloudapi/1.0.0/apiFilters[?filter=externalSystem.id==<id>]`, `GET\|DELETE …/<id>` | 200 a page / 200 / 204 |
 */

import { authenticate } from "./fake_vcd_sessions.ts";
import type { FakeVcdState } from "./fake_vcd_state.ts";
import { mediaTypeOf, Reply } from "./fake_vcd_wire.ts";

/** An external service as the fake keeps it. */
export interface FakeExternalService {
  readonly id: string;
  readonly name: string;
  readonly vendor: string;
  readonly version: string;
  priority: number;
  enabled: boolean;
  authorizationEnabled: boolean;
  description: string;
}

/** An API filter as the fake keeps it. */
export interface FakeApiFilter {
  readonly id: string;
  readonly externalSystem: { readonly id: string; readonly name: string };
  readonly urlMatcher: { readonly urlPattern: string; readonly urlScope: string };
}

/** An extension token as the fake keeps it. */
export interface FakeExtensionToken {
  readonly id: string;
  readonly name: string;
  readonly type: "EXTENSION";
  readonly extensionId: string;
  /** The value, shown only in the POST's answer. */
  readonly token: string;
}

/** What the fake's cloudapi knows; tests read it through `FakeVcd`. */
export class FakeCloudApi {
  readonly externalServices = new Map<string, FakeExternalService>();
  readonly apiFilters = new Map<string, FakeApiFilter>();
  readonly extensionTokens = new Map<string, FakeExtensionToken>();
}

/** Where the cloudapi starts. */
export const CLOUDAPI_PREFIX = "/cloudapi/";

const SERVICES = "/cloudapi/extensions/api";
const TOKENS = "/cloudapi/1.0.0/tokens";
const FILTERS = "/cloudapi/1.0.0/apiFilters";
const SCOPES = new Set(["API", "EXT_API", "EXT_UI_PROVIDER", "EXT_UI_TENANT"]);

type Json = Record<string, unknown>;

/** The `version` of `application/json;version=<v>` in `Accept`, or `undefined`. */
function jsonVersion(accept: string | null): string | undefined {
  for (const range of (accept ?? "").split(",")) {
    const [type = "", ...params] = range.split(";").map((p) => p.trim());
    if (!/^application\/(\*\+)?json$/i.test(type)) continue;
    for (const p of params) {
      const m = /^version\s*=\s*"?([0-9][0-9.]*)"?$/i.exec(p);
      if (m) return m[1];
    }
  }
  return undefined;
}

function reply(status: number, version: string, body?: unknown, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  if (body !== undefined) h.set("content-type", `application/json;version=${version}`);
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: h });
}

function bad(message: string, minor = "BAD_REQUEST"): Reply {
  return new Reply(400, minor, message);
}

function jsonBody(req: Request, body: string): Json {
  if (mediaTypeOf(req.headers.get("content-type")) !== "application/json") {
    throw new Reply(415, "UNSUPPORTED_MEDIA_TYPE", "expected Content-Type application/json");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw bad("the body is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw bad("the body is not a JSON object");
  }
  return parsed as Json;
}

function text(o: Json, key: string): string {
  const v = o[key];
  if (typeof v !== "string" || v.trim() === "") throw bad(`${key} must be a non-empty string`);
  return v;
}

function bool(o: Json, key: string, fallback: boolean): boolean {
  const v = o[key] ?? fallback;
  if (typeof v !== "boolean") throw bad(`${key} must be a boolean`);
  return v;
}

/** A page of `values`, cloudapi's list shape, for `?page=&pageSize=`. */
function page<T>(values: T[], search: URLSearchParams): Json {
  const size = Math.max(1, Math.min(128, Number(search.get("pageSize") ?? 25) || 25));
  const n = Math.max(1, Number(search.get("page") ?? 1) || 1);
  return {
    resultTotal: values.length,
    pageCount: Math.max(1, Math.ceil(values.length / size)),
    page: n,
    pageSize: size,
    associations: null,
    values: values.slice((n - 1) * size, n * size),
  };
}

/** FIQL `a==b;c==d` as pairs (only `==` and `;`, what the clients here send). */
function filterOf(search: URLSearchParams): [string, string][] {
  const f = search.get("filter");
  if (f === null || f === "") return [];
  return f.split(";").map((c) => {
    const i = c.indexOf("==");
    if (i <= 0) throw bad(`unsupported filter ${c}`);
    return [c.slice(0, i), c.slice(i + 2)];
  });
}

function field(o: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((v, k) => (v as Json | undefined)?.[k], o);
}

function matching<T>(values: Iterable<T>, search: URLSearchParams): T[] {
  const conditions = filterOf(search);
  return [...values].filter((v) => conditions.every(([k, want]) => String(field(v, k)) === want));
}

function serviceJson(s: FakeExternalService): Json {
  const base = `topic/extension/${s.vendor}/${s.name}/${s.version}`;
  return { ...s, mqttTopics: { monitor: `${base}/ext`, respond: `${base}/vcd` } };
}

function serviceFields(o: Json, id?: string): Omit<FakeExternalService, "id"> {
  const priority = o.priority ?? 50;
  if (typeof priority !== "number" || !Number.isInteger(priority)) {
    throw bad("priority must be an integer");
  }
  const s = {
    name: text(o, "name"),
    vendor: text(o, "vendor"),
    version: text(o, "version"),
    priority,
    enabled: bool(o, "enabled", true),
    authorizationEnabled: bool(o, "authorizationEnabled", false),
    description: typeof o.description === "string" ? o.description : "",
  };
  for (const part of [s.vendor, s.name, s.version]) {
    if (/[/+#:\s]/.test(part)) throw bad(`${part} cannot be part of a triplet`);
  }
  if (id !== undefined && id !== `urn:vcloud:extension-api:${s.vendor}:${s.name}:${s.version}`) {
    throw bad("vendor, name and version of an external service cannot change");
  }
  return s;
}

function services(cloud: FakeCloudApi, req: Request, rest: string, body: string, v: string) {
  const list = cloud.externalServices;
  if (rest === "") {
    if (req.method === "GET") {
      return reply(
        200,
        v,
        page(matching(list.values(), new URL(req.url).searchParams), new URL(req.url).searchParams),
      );
    }
    if (req.method !== "POST") throw new Reply(405, "METHOD_NOT_ALLOWED", "use GET or POST");
    const fields = serviceFields(jsonBody(req, body));
    const id = `urn:vcloud:extension-api:${fields.vendor}:${fields.name}:${fields.version}`;
    if (list.has(id)) throw bad(`external service ${id} exists`, "DUPLICATE_NAME");
    const s = { id, ...fields };
    list.set(id, s);
    return reply(201, v, serviceJson(s), { location: `${SERVICES}/${id}` });
  }
  const id = decodeURIComponent(rest.slice(1));
  const s = list.get(id);
  if (s === undefined) throw new Reply(404, "NOT_FOUND", `no external service ${id}`);
  if (req.method === "GET") {
    const uuid = s.id.replace(/[^A-Za-z0-9]/g, "").slice(-32);
    const legacy = `/api/admin/extension/service/${uuid}`;
    return reply(200, v, serviceJson(s), {
      link: [`<${legacy}>;rel="alternate"`, `<${legacy}/rights>;rel="rights"`].join(", "),
    });
  }
  if (req.method === "PUT") {
    Object.assign(s, serviceFields(jsonBody(req, body), id));
    return reply(200, v, serviceJson(s));
  }
  if (req.method === "DELETE") {
    if (s.enabled) throw bad(`disable external service ${id} before deleting it`);
    list.delete(id);
    for (const [k, t] of cloud.extensionTokens) {
      if (t.extensionId === id) cloud.extensionTokens.delete(k);
    }
    for (const [k, f] of cloud.apiFilters) {
      if (f.externalSystem.id === id) cloud.apiFilters.delete(k);
    }
    return reply(204, v);
  }
  throw new Reply(405, "METHOD_NOT_ALLOWED", `${req.method} not allowed`);
}

function tokens(cloud: FakeCloudApi, req: Request, rest: string, body: string, v: string) {
  const list = cloud.extensionTokens;
  if (rest === "") {
    if (req.method === "GET") {
      const search = new URL(req.url).searchParams;
      const shown = [...list.values()].map(({ token: _hidden, ...t }) => t);
      return reply(200, v, page(matching(shown, search), search));
    }
    if (req.method !== "POST") throw new Reply(405, "METHOD_NOT_ALLOWED", "use GET or POST");
    const o = jsonBody(req, body);
    if (o.type !== "EXTENSION") throw bad("only EXTENSION tokens are supported here");
    const extensionId = text(o, "extensionId");
    if (!cloud.externalServices.has(extensionId)) throw bad(`no external service ${extensionId}`);
    const t: FakeExtensionToken = {
      id: `urn:vcloud:token:${crypto.randomUUID()}`,
      name: text(o, "name"),
      type: "EXTENSION",
      extensionId,
      token: crypto.randomUUID().replaceAll("-", "") + crypto.randomUUID().replaceAll("-", ""),
    };
    list.set(t.id, t);
    return reply(200, v, {
      ...t,
      expirationTimeUtc: null,
      owner: { name: "administrator", id: "urn:vcloud:user:00000000-0000-4000-8000-000000000001" },
      org: { name: "System", id: "urn:vcloud:org:00000000-0000-4000-8000-000000000002" },
    });
  }
  const id = decodeURIComponent(rest.slice(1));
  if (!list.has(id)) throw new Reply(404, "NOT_FOUND", `no token ${id}`);
  if (req.method !== "DELETE") throw new Reply(405, "METHOD_NOT_ALLOWED", "use DELETE");
  list.delete(id);
  return reply(204, v);
}

function filters(cloud: FakeCloudApi, req: Request, rest: string, body: string, v: string) {
  const list = cloud.apiFilters;
  if (rest === "") {
    if (req.method === "GET") {
      const search = new URL(req.url).searchParams;
      return reply(200, v, page(matching(list.values(), search), search));
    }
    if (req.method !== "POST") throw new Reply(405, "METHOD_NOT_ALLOWED", "use GET or POST");
    const o = jsonBody(req, body);
    const system = (o.externalSystem ?? {}) as Json;
    const matcher = (o.urlMatcher ?? {}) as Json;
    const systemId = text(system, "id");
    const service = cloud.externalServices.get(systemId);
    if (service === undefined) throw bad(`no external service ${systemId}`);
    const urlPattern = text(matcher, "urlPattern");
    try {
      new RegExp(urlPattern);
    } catch {
      throw bad(`urlPattern ${urlPattern} is not a regular expression`);
    }
    const urlScope = text(matcher, "urlScope");
    if (!SCOPES.has(urlScope)) throw bad(`unknown urlScope ${urlScope}`);
    const f: FakeApiFilter = {
      id: `urn:vcloud:apiFilter:${crypto.randomUUID()}`,
      externalSystem: { id: systemId, name: service.name },
      urlMatcher: { urlPattern, urlScope },
    };
    list.set(f.id, f);
    return reply(201, v, f);
  }
  const id = decodeURIComponent(rest.slice(1));
  const f = list.get(id);
  if (f === undefined) throw new Reply(404, "NOT_FOUND", `no API filter ${id}`);
  if (req.method === "GET") return reply(200, v, f);
  if (req.method !== "DELETE") throw new Reply(405, "METHOD_NOT_ALLOWED", "use GET or DELETE");
  list.delete(id);
  return reply(204, v);
}

/** Answers a request under `/cloudapi/`: authenticated, JSON, errors in cloudapi's shape. */
export function cloudApiRoute(
  state: FakeVcdState,
  cloud: FakeCloudApi,
  req: Request,
  path: string,
  body: string,
): Response {
  const version = jsonVersion(req.headers.get("accept"));
  const v = version ?? "36.0";
  try {
    authenticate(state, req, version ?? "");
    if (version === undefined) {
      throw new Reply(406, "NOT_ACCEPTABLE", "Accept needs application/json;version=<v>");
    }
    for (
      const [prefix, route] of [[SERVICES, services], [TOKENS, tokens], [FILTERS, filters]] as const
    ) {
      if (path === prefix || path.startsWith(`${prefix}/`)) {
        return route(cloud, req, path.slice(prefix.length), body, v);
      }
    }
    throw new Reply(404, "NOT_FOUND", `No resource at ${path}`);
  } catch (e) {
    if (!(e instanceof Reply)) throw e;
    return reply(e.status, v, { minorErrorCode: e.minor, message: e.message, stackTrace: null });
  }
}
