/**
 * @module Registers an extension for vCD's MQTT bus through the cloudapi (wire-format document,
 * section 12.2), as system administrator, JSON bodies with `Accept:
 * application/json;version=<api>`: the external service (`/cloudapi/extensions/api`, id
 * `urn:vcloud:extension-api:<vendor>:<name>:<version>`), its API filters
 * (`/cloudapi/1.0.0/apiFilters`, one per route pattern, the same Java regexes as the AMQP
 * registration) and an `EXTENSION` token (`/cloudapi/1.0.0/tokens`). Re-running changes
 * nothing that is already right: the service is updated in place, only missing filters are
 * created (and filters of templates no longer declared removed), and a token is created only
 * when the caller has none for the triplet or vCD no longer lists one. The HTTP client is
 * injected ({@linkcode RestClient}), so this module has no network of its own.
 *
 * The token value is in {@linkcode CloudApiResult.token} only: the caller stores it (a
 * credential: never printed, never logged; {@linkcode describeCloudApiResult} leaves it out).
 */

import type { Extension } from "../core/extension.ts";
import { apiFilters } from "../core/register.ts";
import { DEFAULT_EXTENSION_VERSION, DEFAULT_VENDOR } from "../core/vcloud.ts";
import { inStep, VcdError } from "./errors.ts";
import type { RestClient } from "./registrar.ts";

/** The external services (`POST` creates one; `/<id>` reads, updates, deletes it). */
export const EXTENSIONS_API_PATH = "/cloudapi/extensions/api";
/** API filters (`POST` creates one; `GET ?filter=externalSystem.id==<id>` lists a service's). */
export const API_FILTERS_PATH = "/cloudapi/1.0.0/apiFilters";
/** API tokens (`POST` with `type: EXTENSION` creates an extension token). */
export const TOKENS_PATH = "/cloudapi/1.0.0/tokens";

/** Pages of a cloudapi list followed at most, and the page size asked for. */
const MAX_PAGES = 50;
const PAGE_SIZE = 128;

/** The external service as `POST /cloudapi/extensions/api` takes it. */
export interface ExternalServiceBody {
  name: string;
  version: string;
  vendor: string;
  priority: number;
  enabled: boolean;
  authorizationEnabled: boolean;
  description: string;
}

/** One API filter as `POST /cloudapi/1.0.0/apiFilters` takes it. */
export interface ApiFilterBody {
  externalSystem: { id: string; name: string };
  urlMatcher: { urlPattern: string; urlScope: "API" };
}

/** The token request of `POST /cloudapi/1.0.0/tokens`. */
export interface TokenBody {
  name: string;
  type: "EXTENSION";
  extensionId: string;
}

/** Options of the documents and of {@linkcode registerExternalService}. */
export interface CloudApiOptions {
  /** Priority among services matching the same path; an integer, default 50. */
  readonly priority?: number;
  /** Whether vCD checks the service's rights before forwarding; default false. */
  readonly authorizationEnabled?: boolean;
}

type Named = Pick<Extension, "name" | "vendor" | "version" | "description" | "routes">;

/** The triplet's parts with their defaults. */
function parts(ext: Pick<Extension, "name" | "vendor" | "version">) {
  return {
    vendor: ext.vendor ?? DEFAULT_VENDOR,
    name: ext.name,
    version: ext.version ?? DEFAULT_EXTENSION_VERSION,
  };
}

/**
 * The external service's id, `urn:vcloud:extension-api:<vendor>:<name>:<version>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { externalServiceId } from "./cloudapi.ts";
 * assert.equal(
 *   externalServiceId({ vendor: "example", name: "gcp-ticketing" }),
 *   "urn:vcloud:extension-api:example:gcp-ticketing:1.0.0",
 * );
 * ```
 */
export function externalServiceId(ext: Pick<Extension, "name" | "vendor" | "version">): string {
  const p = parts(ext);
  return `urn:vcloud:extension-api:${p.vendor}:${p.name}:${p.version}`;
}

/** The documents registration sends for one extension, as `register --print` shows them. */
export interface CloudApiDocuments {
  readonly id: string;
  readonly service: ExternalServiceBody;
  readonly apiFilters: ApiFilterBody[];
  /** The token request (it holds no token: vCD answers with one). */
  readonly token: TokenBody;
}

/**
 * Every document registration sends for `ext`. Throws `RangeError` for a priority that is not
 * an integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cloudApiDocuments } from "./cloudapi.ts";
 * const ext = { name: "t", vendor: "v", routes: [
 *   { method: "GET", path: "/api/t/{id}", handle: () => ({}) },
 * ] } as const;
 * const docs = cloudApiDocuments(ext);
 * assert.deepEqual(docs.service, { name: "t", version: "1.0.0", vendor: "v", priority: 50,
 *   enabled: true, authorizationEnabled: false, description: "t" });
 * assert.deepEqual(docs.apiFilters[0]?.urlMatcher, { urlPattern: "/api/t/[^/]+/?", urlScope: "API" });
 * assert.deepEqual(docs.token, { name: "v/t/1.0.0", type: "EXTENSION", extensionId: docs.id });
 * ```
 */
export function cloudApiDocuments(ext: Named, options: CloudApiOptions = {}): CloudApiDocuments {
  const priority = options.priority ?? 50;
  if (!Number.isSafeInteger(priority)) {
    throw new RangeError(`Cannot register ${ext.name}: priority ${priority} is not an integer`);
  }
  const p = parts(ext);
  const id = externalServiceId(ext);
  return {
    id,
    service: {
      name: p.name,
      version: p.version,
      vendor: p.vendor,
      priority,
      enabled: true,
      authorizationEnabled: options.authorizationEnabled ?? false,
      description: ext.description ?? ext.name,
    },
    apiFilters: apiFilters(ext).map((urlPattern) => ({
      externalSystem: { id, name: p.name },
      urlMatcher: { urlPattern, urlScope: "API" },
    })),
    token: { name: `${p.vendor}/${p.name}/${p.version}`, type: "EXTENSION", extensionId: id },
  };
}

/** What {@linkcode registerExternalService} does. */
export type CloudApiAction = "register" | "disable" | "unregister";

/** The outcome for one extension. */
export interface CloudApiResult {
  readonly extension: string;
  /** `vendor/name/version`. */
  readonly triplet: string;
  readonly id: string;
  readonly action:
    | "created"
    | "staged"
    | "updated"
    | "disabled"
    | "deleted"
    | "absent"
    | "skipped";
  /** API filters created, kept as they were, and removed (templates no longer declared). */
  readonly filters?: { created: number; kept: number; removed: number };
  /** The topics vCD named for the service, when it answered with them. */
  readonly mqttTopics?: { monitor: string; respond: string };
  /** A new token's value (a credential: store it, never print it); absent when one was kept. */
  readonly token?: string;
  /** Whether an existing token was kept (the caller holds one and vCD still lists it). */
  readonly tokenKept?: boolean;
  readonly reason?: string;
}

/** What the caller knows besides the options. */
export interface RegisterContext extends CloudApiOptions {
  /** The API version for `Accept: application/json;version=<v>`. */
  readonly apiVersion: string;
  readonly action?: CloudApiAction;
  /** Whether the caller already holds a token for this triplet (then none is created if vCD lists it). */
  readonly haveToken?: boolean;
}

type Json = Record<string, unknown>;

/** One JSON request; resolves to the status and the parsed body (`undefined` when empty). */
async function call(
  client: RestClient,
  apiVersion: string,
  method: string,
  path: string,
  body: unknown,
  expect: readonly number[],
): Promise<{ status: number; json: unknown }> {
  const response = await client.request(method, path, {
    accept: `application/json;version=${apiVersion}`,
    expect,
    ...(body === undefined ? {} : { body: JSON.stringify(body), contentType: "application/json" }),
  });
  if (response.text.trim() === "") return { status: response.status, json: undefined };
  try {
    return { status: response.status, json: JSON.parse(response.text) };
  } catch {
    throw new VcdError(`Cannot ${method} ${path}: vCD's answer is not JSON`);
  }
}

/** Every `values` entry of a paged cloudapi list. */
async function listAll(
  client: RestClient,
  apiVersion: string,
  path: string,
  filter: string,
): Promise<Json[]> {
  const out: Json[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const query = `?filter=${encodeURIComponent(filter)}&page=${page}&pageSize=${PAGE_SIZE}`;
    const { json } = await call(client, apiVersion, "GET", `${path}${query}`, undefined, [200]);
    const values = (json as Json | undefined)?.values;
    if (Array.isArray(values)) out.push(...values.filter((v): v is Json => typeof v === "object"));
    const pageCount = Number((json as Json | undefined)?.pageCount ?? 1);
    if (!(page < pageCount)) return out;
  }
  throw new VcdError(`Cannot list ${path}: more than ${MAX_PAGES} pages`);
}

function topicsOf(json: unknown): { monitor: string; respond: string } | undefined {
  const t = (json as Json | undefined)?.mqttTopics as Json | undefined;
  return typeof t?.monitor === "string" && typeof t?.respond === "string"
    ? { monitor: t.monitor, respond: t.respond }
    : undefined;
}

/**
 * Registers `ext` as an MQTT external service (`action` `"register"`, the default): reads
 * `GET /cloudapi/extensions/api/<id>`; `POST`s the service when it is absent (404), else `PUT`s
 * it enabled; lists its API filters, creates the missing ones and deletes those of templates no
 * longer declared; creates an `EXTENSION` token unless `haveToken` and vCD still lists one named
 * after the triplet for this service. `"disable"` `PUT`s it with `enabled: false`; on a service
 * that does not exist yet it registers it disabled (`staged`: filters and token too, but vCD
 * routes nothing to it), the first step of a cutover from AMQP;
 * `"unregister"` disables it (when enabled) and `DELETE`s it, which also removes its tokens and
 * filters. An extension without routes is `skipped` by `"register"`. Rejects with a
 * `VcdError` naming the step.
 */
export async function registerExternalService(
  client: RestClient,
  ext: Named,
  context: RegisterContext,
): Promise<CloudApiResult> {
  const action = context.action ?? "register";
  const docs = cloudApiDocuments(ext, context);
  const base = { extension: ext.name, triplet: docs.token.name, id: docs.id };
  if (action !== "unregister" && ext.routes.length === 0) {
    return { ...base, action: "skipped", reason: "no API routes: nothing for vCD to forward" };
  }
  const step = <T>(what: string, fn: () => Promise<T>) =>
    inStep(`${action} extension ${ext.name} over MQTT`, what, fn);
  const json = (method: string, path: string, body: unknown, expect: readonly number[]) =>
    call(client, context.apiVersion, method, path, body, expect);
  const item = `${EXTENSIONS_API_PATH}/${docs.id}`;

  const found = await step("find the service", () => json("GET", item, undefined, [200, 404]));
  const existing = found.status === 200 ? found.json as Json : undefined;
  // `disable` of a service not registered yet stages it: created disabled, filters and token.
  const staging = action === "disable" && existing === undefined;
  if (action !== "register" && !staging) {
    if (existing === undefined) return { ...base, action: "absent" };
    if (action === "disable" || existing.enabled !== false) {
      const body = { ...docs.service, ...pick(existing), id: docs.id, enabled: false };
      await step("disable the service", () => json("PUT", item, body, [200, 202]));
    }
    if (action === "disable") return { ...base, action: "disabled" };
    await step("delete the service", () => json("DELETE", item, undefined, [204, 200, 202]));
    return { ...base, action: "deleted" };
  }
  const saved = existing === undefined
    ? await step(
      "create the service",
      () =>
        json(
          "POST",
          EXTENSIONS_API_PATH,
          staging ? { ...docs.service, enabled: false } : docs.service,
          [201, 200],
        ),
    )
    : await step(
      "update the service",
      () => json("PUT", item, { ...docs.service, id: docs.id }, [200, 202]),
    );
  const filters = await step("API filters", () => syncFilters(client, context.apiVersion, docs));
  const kept = context.haveToken === true &&
    await step("find the token", () => hasToken(client, context.apiVersion, docs));
  const token = kept ? undefined : await step("create the token", async () => {
    const { json: created } = await json("POST", TOKENS_PATH, docs.token, [200, 201]);
    const value = (created as Json | undefined)?.token;
    if (typeof value !== "string" || value === "") {
      throw new VcdError(`Cannot POST ${TOKENS_PATH}: vCD's answer has no token`);
    }
    return value;
  });
  const mqttTopics = topicsOf(saved.json);
  return {
    ...base,
    action: staging ? "staged" : existing === undefined ? "created" : "updated",
    filters,
    ...(mqttTopics ? { mqttTopics } : {}),
    ...(token === undefined ? { tokenKept: true } : { token }),
  };
}

/** The fields of a service vCD answered that a PUT sends back unchanged. */
function pick(existing: Json): Partial<ExternalServiceBody> {
  const out: Partial<ExternalServiceBody> = {};
  if (typeof existing.priority === "number") out.priority = existing.priority;
  if (typeof existing.description === "string") out.description = existing.description;
  if (typeof existing.authorizationEnabled === "boolean") {
    out.authorizationEnabled = existing.authorizationEnabled;
  }
  return out;
}

/** Creates the missing filters and deletes those whose pattern is no longer wanted. */
async function syncFilters(
  client: RestClient,
  apiVersion: string,
  docs: CloudApiDocuments,
): Promise<{ created: number; kept: number; removed: number }> {
  const listed = await listAll(
    client,
    apiVersion,
    API_FILTERS_PATH,
    `externalSystem.id==${docs.id}`,
  );
  const wanted = new Set(docs.apiFilters.map((f) => f.urlMatcher.urlPattern));
  const have = new Set<string>();
  let removed = 0;
  for (const f of listed) {
    const pattern = (f.urlMatcher as Json | undefined)?.urlPattern;
    if (typeof pattern === "string" && wanted.has(pattern) && !have.has(pattern)) {
      have.add(pattern);
      continue;
    }
    if (typeof f.id !== "string") continue;
    await call(client, apiVersion, "DELETE", `${API_FILTERS_PATH}/${f.id}`, undefined, [204, 200]);
    removed++;
  }
  let created = 0;
  for (const body of docs.apiFilters) {
    if (have.has(body.urlMatcher.urlPattern)) continue;
    await call(client, apiVersion, "POST", API_FILTERS_PATH, body, [201, 200]);
    created++;
  }
  return { created, kept: have.size, removed };
}

/** Whether vCD lists an `EXTENSION` token named after the triplet (for this service, when said). */
async function hasToken(
  client: RestClient,
  apiVersion: string,
  docs: CloudApiDocuments,
): Promise<boolean> {
  const tokens = await listAll(
    client,
    apiVersion,
    TOKENS_PATH,
    `type==EXTENSION;name==${docs.token.name}`,
  );
  return tokens.some((t) =>
    t.name === docs.token.name && (t.extensionId === undefined || t.extensionId === docs.id)
  );
}

/**
 * One line saying what {@linkcode registerExternalService} did, for the CLI; never the token.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeCloudApiResult } from "./cloudapi.ts";
 * const line = describeCloudApiResult({ extension: "t", triplet: "v/t/1.0.0", id: "urn:x",
 *   action: "created", filters: { created: 2, kept: 0, removed: 0 }, token: "s3cret" }, "tokens");
 * assert.equal(line, "t: created urn:x (MQTT v/t/1.0.0; API filters 2 created, 0 kept, 0 removed; new token written to tokens)");
 * ```
 */
export function describeCloudApiResult(result: CloudApiResult, tokenFile?: string): string {
  const head = `${result.extension}: ${result.action}`;
  if (result.action === "skipped") return `${head}: ${result.reason ?? ""}`;
  if (result.action === "absent") return `${head} (no MQTT service ${result.id} in vCD)`;
  const f = result.filters;
  const details = [`MQTT ${result.triplet}`];
  if (f) details.push(`API filters ${f.created} created, ${f.kept} kept, ${f.removed} removed`);
  if (result.token !== undefined) {
    details.push(`new token written to ${tokenFile ?? "the token file"}`);
  } else if (result.tokenKept) details.push("token kept");
  return `${head} ${result.id} (${details.join("; ")})`;
}
