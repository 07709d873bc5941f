/**
 * @module The declarative shape of an extension module: `defineExtension()` and `route()`,
 * representations (how a value is rendered as JSON and XML), body decoders, and the configuration
 * an extension declares (its schema in config_schema.ts; `ctx.config` on every context). Handler modules
 * in `handlers/` import only from here, `errors.ts` and `xml.ts`.
 */

import type { BlockingTask, Decision as BlockingDecision } from "./blocking.ts";
import type { SecurityContext, VcdRequest } from "./envelope.ts";
import type { Logger } from "./logger.ts";
import { compileTypePattern, type NotificationEvent } from "./notification.ts";
import type { Format } from "./negotiate.ts";
import { rightsProblem } from "./rights.ts";
import type { XmlElement, XmlNode } from "./xml.ts";
import { DEFAULT_EXTENSION_VERSION, DEFAULT_VENDOR } from "./vcloud.ts";
import {
  type ConfigOf,
  type ConfigSchema,
  type ExtensionConfig,
  isOfType,
} from "./config_schema.ts";

/** HTTP methods a route may declare. */
export type Method = "GET" | "PUT" | "POST" | "DELETE" | "PATCH";

/** The names of the `{param}` segments of a path template, as a string union. */
export type PathParams<S extends string> = S extends `${string}{${infer P}}${infer Rest}`
  ? P | PathParams<Rest>
  : never;

/**
 * How values of type `T` are rendered: a vendor base media type and a JSON and/or XML form.
 * The first of `formats` (default: every form given, XML first) is used when the client
 * does not care.
 */
export interface Representation<T> {
  /** Vendor base type, e.g. `application/vnd.example.ticket` (then `+xml` / `+json`). */
  readonly base?: string;
  /** The JSON form of a value; omit to offer no JSON. */
  readonly json?: (value: T) => unknown;
  /** The XML form of a value; omit to offer no XML. */
  readonly xml?: (value: T) => XmlElement;
  /** Formats in order of preference; the first is the default. */
  readonly formats?: readonly Format[];
}

/**
 * How a request entity becomes the handler's typed `body`, by request Content-Type. A decoder
 * throws an `HttpError(400, …)` for a value it rejects. A form that is omitted answers 415.
 */
export interface BodyDecoder<B> {
  /** Decodes a parsed JSON value. */
  readonly json?: (value: unknown) => B;
  /** Decodes the root element of a parsed XML document. */
  readonly xml?: (root: XmlNode) => B;
  /** When true an empty entity is allowed and `body` is `undefined`; default false (400). */
  readonly optional?: boolean;
}

/**
 * What a handler receives. `C` is the type of `config`: the extension's values, typed when the
 * route names its schema (`route({ config: schema, … })`).
 */
export interface HandlerContext<P extends string, B, C = ExtensionConfig> {
  /** Path parameters, percent-decoded. */
  readonly params: Readonly<Record<P, string>>;
  /** The parsed query string. */
  readonly query: URLSearchParams;
  /** The decoded entity (`undefined` when the route declares no decoder, or it is optional and empty). */
  readonly body: B;
  /** The caller as vCD vouches for it. */
  readonly security: SecurityContext;
  /**
   * The whole request, including headers. `Authorization` and `x-vcloud-authorization` are the
   * caller's live credentials: use them to call vCD as the caller, never log them.
   */
  readonly request: VcdRequest;
  /** Aborted when the reply no longer matters (timeout, shutdown). */
  readonly signal: AbortSignal;
  /** The extension's configuration, read and checked at start (README, "Configuring an extension"). */
  readonly config: C;
}

/** What a handler returns. `status` defaults to 200 with a body, 204 without one. */
export interface HandlerResult<T> {
  readonly status?: number;
  readonly body?: T;
  readonly headers?: Readonly<Record<string, string>>;
}

/** One route of an extension; `K` is the configuration schema its handler reads. */
export interface Route<S extends string, B, T, K extends ConfigSchema = ConfigSchema> {
  readonly method: Method;
  /** Path template, e.g. `/api/org/{org}/ticketing/{id}`; a `{param}` is one whole segment. */
  readonly path: S;
  /** How results (and the negotiation of the reply format) are rendered; default plain JSON. */
  readonly produces?: Representation<T>;
  /** How the request entity is decoded; without it the entity is ignored. */
  readonly consumes?: BodyDecoder<B>;
  /**
   * Rights the caller must hold, all of them; 403 otherwise. Each is a right's id
   * (`urn:vcloud:right:<uuid>`) or the name of one of the extension's own rights, short
   * (`Ticket Admin`) or qualified (`{namespace}:Ticket Admin`): `register` creates named rights
   * in vCD, `serve` looks up their ids at start (it needs `--vcd-url`; see lib/core/rights.ts).
   */
  readonly rights?: readonly string[];
  /**
   * The extension's configuration schema (the same object as the extension's `config`), only
   * to type `ctx.config`; without it `ctx.config` is a plain record of values.
   */
  readonly config?: K;
  /** Produces the result; throw `HttpError` to answer with an error. */
  handle(
    ctx: HandlerContext<PathParams<S>, B, ConfigOf<K>>,
  ): HandlerResult<T> | Promise<HandlerResult<T>>;
}

/** A route with its types erased, as stored in an {@linkcode Extension}. */
// deno-lint-ignore no-explicit-any
export type AnyRoute = Route<string, any, any>;

/** What a notification handler or a blocking-task rule receives besides the event. */
export interface EventContext<C = ExtensionConfig> {
  /** A logger with the event id bound. */
  readonly log: Logger;
  /** Aborted on shutdown. */
  readonly signal: AbortSignal;
  /** The extension's configuration, as handlers get it on `ctx.config`. */
  readonly config: C;
}

/**
 * A subscription to vCD notifications. Types are matched by pattern on the slash form:
 * `*` is one segment, `**` any number; a short form such as `vapp/*` means
 * `com/vmware/vcloud/event/vapp/*`.
 */
export interface Subscription<C = ExtensionConfig> {
  /** Event type pattern(s). */
  readonly type: string | readonly string[];
  /** Only events whose operation succeeded (`true`) or failed (`false`). */
  readonly operationSuccess?: boolean;
  /** Only events about this entity kind, e.g. `vapp`, `vm`. */
  readonly entityKind?: string;
  /** Handles one event; a throw is retried (bounded), then the event is dead-lettered. */
  handle(event: NotificationEvent, ctx: EventContext<C>): void | Promise<void>;
}

/** What a blocking-task rule receives: the event that announced the task, and the context. */
export interface BlockingContext<C = ExtensionConfig> extends EventContext<C> {
  readonly event: NotificationEvent;
}

/** Decides blocked vCD operations: resume, abort, fail, or ask for more time. */
export interface BlockingTaskRule<C = ExtensionConfig> {
  /** The blocked operation name(s), e.g. `vdcComposeVapp`. */
  readonly operation: string | readonly string[];
  /** The decision, from the blocking task as vCD describes it. */
  decide(task: BlockingTask, ctx: BlockingContext<C>): BlockingDecision | Promise<BlockingDecision>;
}

/**
 * An extension module: one vCD extension service, one queue. `K` is its configuration schema,
 * which types `ctx.config` in its notification handlers and blocking-task rules.
 */
export interface Extension<K extends ConfigSchema = ConfigSchema> {
  /** Service name as registered in vCD. */
  readonly name: string;
  /** vCD namespace, e.g. `com.example.ticketing`; rights become `{namespace}:Right`. */
  readonly namespace: string;
  /** Routing key the cell publishes with; also the default queue name. */
  readonly routingKey: string;
  /** Vendor as registered in vCD; default `vcdext`. Over MQTT, the first part of the triplet. */
  readonly vendor?: string;
  /**
   * The extension's version, default `1.0.0`: over MQTT the third part of its triplet
   * `vendor/name/version` (its broker user name and topics, see {@linkcode tripletOf}).
   */
  readonly version?: string;
  /** One line for `vcdext routes` and registration. */
  readonly description?: string;
  /** The API routes (may be empty for an extension that only handles notifications). */
  readonly routes: readonly AnyRoute[];
  /** Notification subscriptions, served from the service's notifications queue. */
  readonly notifications?: readonly Subscription<ConfigOf<K>>[];
  /** Blocking-task rules, decided through vCD's REST API (needs `--vcd-url`). */
  readonly blockingTasks?: readonly BlockingTaskRule<ConfigOf<K>>[];
  /**
   * The configuration the extension reads: key → `{ type, default?, secret? }`. Values come
   * from `<config-dir>/<name>.json` and env `VCDEXT_<NAME>_<KEY>`, checked at start.
   */
  readonly config?: K;
  /**
   * The checked values, set by the host at start ({@linkcode withConfig}); authors leave it
   * out. Without it handlers get the defaults.
   */
  readonly configValues?: ExtensionConfig;
}

/**
 * The extension with its checked configuration values, as the host serves it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExtension, withConfig } from "./extension.ts";
 * const ext = defineExtension({ name: "q", namespace: "q", routingKey: "q", routes: [],
 *   config: { n: { type: "number", default: 1 } } });
 * assert.deepEqual(withConfig(ext, { n: 2 }).configValues, { n: 2 });
 * ```
 */
export function withConfig(ext: Extension, values: ExtensionConfig): Extension {
  return { ...ext, configValues: values };
}

/**
 * Declares a route, inferring the path parameters from the template, so `ctx.params.id`
 * type-checks only when the template has `{id}`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { route } from "./extension.ts";
 * const r = route({ method: "GET", path: "/api/org/{org}/x/{id}", handle: (c) => ({ body: c.params.id }) });
 * assert.equal(r.path, "/api/org/{org}/x/{id}");
 * ```
 */
export function route<
  const S extends string,
  B = undefined,
  T = unknown,
  const K extends ConfigSchema = ConfigSchema,
>(
  def: Route<S, B, T, K>,
): AnyRoute {
  // The return type is erased on purpose: a typed one would let the `routes` array's
  // element type drive inference and widen `S` to `string`.
  return def;
}

/**
 * Declares a representation; an identity helper for type inference.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { representation } from "./extension.ts";
 * const r = representation({ base: "application/vnd.example.n", json: (n: number) => ({ n }) });
 * assert.deepEqual(r.json?.(1), { n: 1 });
 * ```
 */
export function representation<T>(def: Representation<T>): Representation<T> {
  return def;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const TEMPLATE = /^(\/([A-Za-z0-9._~!$&'()*+,;=:@%-]+|\{[A-Za-z_][A-Za-z0-9_]*\}))+$/;

/**
 * Why a path template is not valid, with the fix, or `undefined` when it is. The usual
 * mistakes get their own advice: `:org` (other routers' syntax), `*` (no wildcards), a brace
 * that does not close, a `{param}` inside a segment.
 */
function templateProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return `a path template starts with /, e.g. /api/org/{org}/x`;
  const colon = /\/:([A-Za-z_][A-Za-z0-9_]*)/.exec(path);
  if (colon) return `use {${colon[1]}}, not :${colon[1]} (a path parameter is written {name})`;
  if (path.includes("*")) {
    return "* is not allowed: there are no wildcards; a {param} matches one whole segment, " +
      "so declare one route per path shape";
  }
  let depth = 0;
  for (const c of path) {
    if (c === "{") depth++;
    else if (c === "}") depth--;
    if (depth < 0 || depth > 1) return "unbalanced { or }: write each parameter as {name}";
  }
  if (depth !== 0) return "unbalanced { or }: a { is never closed; write each parameter as {name}";
  if (/[^/]\{|\}[^/]/.test(path)) {
    return "a {param} is one whole segment: write /x/{id}, not /x-{id} or /{id}.json";
  }
  if (/\{(?![A-Za-z_][A-Za-z0-9_]*\})/.test(path)) {
    return "a parameter name is a letter or _ then letters, digits or _, e.g. {org_id}";
  }
  if (path.includes("//") || path.endsWith("/")) {
    return "empty segment: remove the doubled or trailing /";
  }
  return TEMPLATE.test(path)
    ? undefined
    : `${JSON.stringify(path)} has a character a path segment cannot hold`;
}

/** Checks one route's shape; `where` names the extension. Throws a `TypeError` saying the fix. */
function checkRoute(where: string, r: AnyRoute, index: number): void {
  const name = `route ${index + 1}` +
    (typeof r?.method === "string" && typeof r.path === "string" ? ` (${r.method} ${r.path})` : "");
  if (typeof r !== "object" || r === null) {
    throw new TypeError(
      `${where}: ${name} is not a route; declare it with route({ method, path, handle })`,
    );
  }
  if (!METHODS.includes(r.method)) {
    throw new TypeError(`${where}: ${name}: method must be one of ${METHODS.join(", ")}`);
  }
  if (typeof r.path !== "string") throw new TypeError(`${where}: ${name} has no path`);
  const problem = templateProblem(r.path);
  if (problem) throw new TypeError(`${where}: ${name}: path template is not valid: ${problem}`);
  if (typeof r.handle !== "function") {
    throw new TypeError(
      `${where}: ${name} has no handle(); add handle(ctx) { return { body: … }; } to the route`,
    );
  }
  const params = [...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  if (new Set(params).size !== params.length) {
    throw new TypeError(`${where}: ${r.path} repeats a parameter name; give each its own`);
  }
  if (r.produces && !r.produces.json && !r.produces.xml) {
    throw new TypeError(`${where}: ${r.method} ${r.path} produces neither JSON nor XML`);
  }
  for (const f of r.produces?.formats ?? []) {
    if (!r.produces?.[f]) {
      throw new TypeError(`${where}: ${r.method} ${r.path} lists format ${f} without a form`);
    }
  }
  const rights = rightsProblem(r.rights);
  if (rights) throw new TypeError(`${where}: ${r.method} ${r.path}: ${rights}`);
}

const METHODS: readonly string[] = ["GET", "PUT", "POST", "DELETE", "PATCH"];

/**
 * Declares an extension and checks it at load time, so a mistake fails at start-up with a
 * clear message naming the extension, the route and the fix, not on the first request: names
 * and routing key, path templates (`:org` instead of `{org}`, `*`, unbalanced braces), routes
 * without `handle`, duplicate routes (the same method and path shape, whatever the parameter
 * names), duplicate parameter names, and representations without any form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExtension } from "./extension.ts";
 * assert.throws(
 *   () => defineExtension({ name: "x", namespace: "x", routingKey: "x", routes: [
 *     { method: "GET", path: "/api/x", handle: () => ({}) },
 *     { method: "GET", path: "/api/x", handle: () => ({}) },
 *   ] }),
 *   /declares GET \/api\/x twice/,
 * );
 * assert.throws(
 *   () => defineExtension({ name: "x", namespace: "x", routingKey: "x", routes: [
 *     { method: "GET", path: "/api/org/:org/x", handle: () => ({}) },
 *   ] }),
 *   /use \{org\}, not :org/,
 * );
 * ```
 */
export function defineExtension<const K extends ConfigSchema = ConfigSchema>(
  def: Extension<K>,
): Extension {
  const where = `Extension "${def.name}"`;
  if (!NAME.test(def.name)) throw new TypeError(`${where}: name must match ${NAME}`);
  if (!NAME.test(def.routingKey)) throw new TypeError(`${where}: routingKey must match ${NAME}`);
  if (def.namespace.trim() === "") throw new TypeError(`${where}: namespace is empty`);
  if (!Array.isArray(def.routes)) {
    throw new TypeError(`${where}: routes must be an array (use [] for none)`);
  }
  const seen = new Map<string, { path: string; index: number }>();
  def.routes.forEach((r, i) => {
    checkRoute(where, r, i);
    const shape = `${r.method} ${r.path.replace(/\{[^}]+\}/g, "{}")}`;
    const earlier = seen.get(shape);
    if (earlier !== undefined) {
      const same = earlier.path === r.path ? "" : ` (as ${r.method} ${earlier.path})`;
      throw new TypeError(
        `${where}: declares ${r.method} ${r.path} twice${same}: routes ${earlier.index + 1} ` +
          `and ${i + 1} would answer the same requests; remove one, or merge them`,
      );
    }
    seen.set(shape, { path: r.path, index: i });
  });
  for (const [what, value] of [["vendor", def.vendor], ["version", def.version]] as const) {
    if (value !== undefined && !TRIPLET_PART.test(value)) {
      throw new TypeError(`${where}: ${what} must match ${TRIPLET_PART} (one MQTT topic level)`);
    }
  }
  checkConfig(where, def);
  for (const sub of def.notifications ?? []) {
    for (const pattern of typeof sub.type === "string" ? [sub.type] : sub.type) {
      try {
        compileTypePattern(pattern);
      } catch (e) {
        throw new TypeError(`${where}: ${(e as Error).message}`);
      }
    }
  }
  for (const rule of def.blockingTasks ?? []) {
    const ops = typeof rule.operation === "string" ? [rule.operation] : rule.operation;
    if (ops.length === 0 || ops.some((o) => !/^[A-Za-z][A-Za-z0-9_]*$/.test(o))) {
      throw new TypeError(
        `${where}: blocking-task operation names must be words like vdcComposeVapp`,
      );
    }
  }
  return def as unknown as Extension;
}

/** Checks the configuration schema, and that a route's `config` is the extension's own. */
function checkConfig(where: string, def: Extension<ConfigSchema>): void {
  for (const [key, field] of Object.entries(def.config ?? {})) {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(key)) {
      throw new TypeError(`${where}: config key ${key} must be a letter then letters, digits or _`);
    }
    if (!["string", "number", "boolean"].includes(field?.type)) {
      throw new TypeError(`${where}: config key ${key}: type must be string, number or boolean`);
    }
    if (field.default !== undefined && !isOfType(field.default, field.type)) {
      throw new TypeError(`${where}: config key ${key}: default is not a ${field.type}`);
    }
  }
  for (const r of def.routes) {
    if (r.config !== undefined && r.config !== def.config) {
      throw new TypeError(
        `${where}: ${r.method} ${r.path} names a config schema that is not the extension's own`,
      );
    }
  }
}

/** A vendor or version: one plain MQTT topic level (no `/`, `+`, `#`), at most 64 characters. */
const TRIPLET_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The extension's triplet `vendor/name/version` (defaults `vcdext` and `1.0.0`): how vCD names
 * an MQTT extension (its broker user name, its topics, its API id).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExtension, tripletOf } from "./extension.ts";
 * const ext = defineExtension({ name: "t", namespace: "t", routingKey: "t", vendor: "example", routes: [] });
 * assert.equal(tripletOf(ext), "example/t/1.0.0");
 * ```
 */
export function tripletOf(ext: Pick<Extension, "vendor" | "name" | "version">): string {
  return `${ext.vendor ?? DEFAULT_VENDOR}/${ext.name}/${ext.version ?? DEFAULT_EXTENSION_VERSION}`;
}
