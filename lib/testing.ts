/**
 * @module The test kit for extension authors: call an extension as vCD would, without a broker,
 * a vCD or any permission. {@linkcode request} answers one API request (like Hono's
 * `app.request()`), {@linkcode notify} delivers one notification to the subscriptions and
 * {@linkcode decide} asks the blocking-task rules about one task. Each runs the host's own
 * code: the request is written as the envelope a cell publishes and read back by the real
 * decoder, then routed, checked for rights, negotiated, decoded, handled and rendered by the
 * real dispatcher, and the reply is encoded for the bus and read back as a cell would; the
 * notification goes through the real decoder and event processor. {@linkcode configure} gives
 * an extension configuration values, checked as `serve` checks them.
 *
 * Handlers import only `lib/sdk.ts`; their tests import this module too. It needs no
 * `--allow-*` flag: a test of an extension runs with plain `deno test`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExtension, el, route } from "./sdk.ts";
 * import { request, TEST_ORG } from "./testing.ts";
 * const hello = defineExtension({
 *   name: "hello",
 *   namespace: "com.example.hello",
 *   routingKey: "hello",
 *   routes: [route({
 *     method: "GET",
 *     path: "/api/org/{org}/hello",
 *     produces: { json: (s: string) => ({ s }), xml: (s: string) => el("Hello", {}, s) },
 *     handle: (ctx) => ({ body: `hello, ${ctx.security.user}` }),
 *   })],
 * });
 * const res = await request(hello, { path: `/api/org/${TEST_ORG.id}/hello`, accept: "application/json" });
 * assert.equal(res.status, 200);
 * assert.equal(res.headers.get("content-type"), "application/json");
 * assert.deepEqual(res.json(), { s: "hello, urn:vcloud:user:5b0c6d41-0000-4c7e-9d1a-2b3c4d5e6f70" });
 * const xml = await request(hello, { path: `/api/org/${TEST_ORG.id}/hello`, accept: "application/*+xml" });
 * assert.equal(xml.xml().name, "Hello");
 * ```
 */

import { withRightIds as resolveRightIds } from "./core/rights.ts";
import { BLOCKING_TASK_CREATE, type EventOutcome, eventProcessor } from "./core/events.ts";
import {
  type BlockingTask,
  type Decision,
  parseBlockingTask,
  type Reference,
} from "./core/blocking.ts";
import { type App, compile, dispatch } from "./core/dispatch.ts";
import { ENVELOPE_CODEC } from "./core/envelope.ts";
import { type Extension, withConfig } from "./core/extension.ts";
import { type ConfigValue, resolveConfig } from "./core/config_schema.ts";
import { errorFields, type Logger } from "./core/logger.ts";
import { VCLOUD_NS } from "./core/vcloud.ts";
import { el, parseXml, renderXml, type XmlNode } from "./core/xml.ts";

/** The organisation a test calls as unless it names one: its bare id (for paths) and URN. */
export const TEST_ORG = {
  id: "7c1f3a2e-0000-4b8d-9e6f-1a2b3c4d5e6f",
  urn: "urn:vcloud:org:7c1f3a2e-0000-4b8d-9e6f-1a2b3c4d5e6f",
} as const;

/** The user a test calls as unless it names one. */
export const TEST_USER = "urn:vcloud:user:5b0c6d41-0000-4c7e-9d1a-2b3c4d5e6f70";

/** What {@linkcode request} sends. */
export interface RequestOptions {
  /** HTTP method; default `GET`. */
  readonly method?: string;
  /** The path as the client called it, with `?query` if any, e.g. `/api/org/<id>/quota?page=2`. */
  readonly path: string;
  /** The `Accept` header; default none (the route's first format). */
  readonly accept?: string;
  /** The `Content-Type` header; default `application/json` when `body` is a JSON value. */
  readonly contentType?: string;
  /**
   * The request entity: text or bytes as they are, or any other value as JSON (`contentType`
   * then defaults to `application/json`). Build XML with `renderXml(el(…))` or write it out.
   */
  readonly body?: unknown;
  /** More request headers, by any case (`Authorization`, `Host`, …). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The caller's organisation: a URN or a bare id; default {@linkcode TEST_ORG}. */
  readonly org?: string;
  /** The caller: a URN or a bare id; default {@linkcode TEST_USER}. */
  readonly user?: string;
  /** Rights the caller holds (`urn:vcloud:right:<uuid>`); default none. */
  readonly rights?: Iterable<string>;
  /** The request id vCD gives it; default `test-request`. */
  readonly id?: string;
  /** Aborts the handler (`ctx.signal`). */
  readonly signal?: AbortSignal;
}

/** The reply as the API client sees it. */
export interface TestResponse {
  readonly status: number;
  /** The reply headers, `Content-Length` included; names are case-insensitive. */
  readonly headers: Headers;
  /** The entity as text (UTF-8). */
  readonly text: string;
  /** The entity parsed as JSON; throws when it is not JSON. */
  json(): unknown;
  /** The root element of the entity parsed as XML; throws when it is not XML. */
  xml(): XmlNode;
}

const compiled = new WeakMap<Extension, App>();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function urn(kind: string, value: string): string {
  return value.startsWith("urn:") ? value : `urn:vcloud:${kind}:${value}`;
}

/** The entity's bytes and the Content-Type it implies. */
function entity(body: unknown): { bytes: Uint8Array; type?: string } {
  if (body === undefined) return { bytes: new Uint8Array() };
  if (body instanceof Uint8Array) return { bytes: body };
  if (typeof body === "string") return { bytes: encoder.encode(body) };
  return { bytes: encoder.encode(JSON.stringify(body)), type: "application/json" };
}

/**
 * Sends one API request to `ext` as a vCD cell would, and returns the reply as the client
 * sees it. Never throws for what a handler does: a throw is a 500, as in production.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExtension, HttpError } from "./sdk.ts";
 * import { request } from "./testing.ts";
 * const ext = defineExtension({ name: "x", namespace: "x", routingKey: "x", routes: [{
 *   method: "PUT", path: "/api/x", rights: ["urn:vcloud:right:1"],
 *   consumes: { json: (v) => v as { n: number } },
 *   handle: (ctx) => { if (ctx.body.n < 0) throw new HttpError(400, "n < 0"); return { body: ctx.body }; },
 * }] });
 * assert.equal((await request(ext, { method: "PUT", path: "/api/x", body: { n: 1 } })).status, 403);
 * const ok = await request(ext, { method: "PUT", path: "/api/x", body: { n: 1 }, rights: ["urn:vcloud:right:1"] });
 * assert.deepEqual(ok.json(), { n: 1 });
 * assert.equal(ok.headers.get("content-length"), "7");
 * ```
 */
export async function request(ext: Extension, options: RequestOptions): Promise<TestResponse> {
  let app = compiled.get(ext);
  if (!app) compiled.set(ext, app = compile(ext));
  const q = options.path.indexOf("?");
  const { bytes, type } = entity(options.body);
  const headers: Record<string, string> = {};
  if (options.accept !== undefined) headers.Accept = options.accept;
  const contentType = options.contentType ?? type;
  if (contentType !== undefined) headers["Content-Type"] = contentType;
  Object.assign(headers, options.headers);
  const envelope = [
    {
      id: options.id ?? "test-request",
      method: options.method ?? "GET",
      scheme: "https",
      protocol: "HTTP/1.1",
      requestUri: q >= 0 ? options.path.slice(0, q) : options.path,
      queryString: q >= 0 ? options.path.slice(q + 1) : null,
      headers,
      request: true,
      body: bytes.toBase64(),
    },
    {
      user: urn("user", options.user ?? TEST_USER),
      org: urn("org", options.org ?? TEST_ORG.urn),
      rights: [...(options.rights ?? [])],
    },
    {},
  ];
  const req = ENVELOPE_CODEC.decode(encoder.encode(JSON.stringify(envelope)), {});
  const { reply } = await dispatch(app, req, options.signal ? { signal: options.signal } : {});
  const sent = JSON.parse(decoder.decode(ENVELOPE_CODEC.encode(reply))) as {
    statusCode: number;
    headers: Record<string, string | number>;
    body: string;
  };
  const text = decoder.decode(Uint8Array.fromBase64(sent.body));
  return {
    status: sent.statusCode,
    headers: new Headers(Object.entries(sent.headers).map(([k, v]) => [k, String(v)])),
    text,
    json: () => JSON.parse(text),
    xml: () => parseXml(text),
  };
}

/**
 * `ext` configured with `values` as if they came from its `<name>.json`: checked against its
 * declared `config` the way `serve` checks them (a wrong or missing value throws the same
 * error), defaults filled in. Pass the result to {@linkcode request}, {@linkcode notify} or
 * {@linkcode decide}; without it handlers get the defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExtension, route } from "./sdk.ts";
 * import { configure, request } from "./testing.ts";
 * const config = { defaultVms: { type: "number", default: 10 } } as const;
 * const ext = defineExtension({ name: "quota", namespace: "q", routingKey: "quota", config, routes: [
 *   route({ method: "GET", path: "/api/quota", config, handle: (ctx) => ({ body: { vms: ctx.config.defaultVms } }) }),
 * ] });
 * assert.deepEqual((await request(ext, { path: "/api/quota" })).json(), { vms: 10 });
 * assert.deepEqual((await request(configure(ext, { defaultVms: 3 }), { path: "/api/quota" })).json(), { vms: 3 });
 * assert.throws(() => configure(ext, { defaultVms: "3" }), /config key defaultVms: .* must give a number/);
 * ```
 */
export function configure(
  ext: Extension,
  values: Readonly<Record<string, ConfigValue>> = {},
): Extension {
  return withConfig(ext, resolveConfig(ext.name, ext.config ?? {}, { file: values }));
}

/** One line a handler logged through `ctx.log`: its level, message and fields. */
export interface LogRecord {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly msg: string | undefined;
  readonly [field: string]: unknown;
}

/** A logger keeping every line as a {@linkcode LogRecord}, errors as `errorFields()`. */
function recorder(records: LogRecord[], bindings: Record<string, unknown> = {}): Logger {
  const at = (level: LogRecord["level"]) => (fields: object, msg?: string) => {
    const err = (fields as { err?: unknown }).err;
    records.push({
      ...bindings,
      ...fields,
      ...(err === undefined ? {} : { err: errorFields(err) }),
      level,
      msg,
    });
  };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (more) => recorder(records, { ...bindings, ...more }),
    isLevelEnabled: () => true,
  };
}

/** What {@linkcode notify} sends: the fields of vCD's JSON notification. */
export interface NotifyOptions {
  /** The event type: `vapp/create` (short for `com/vmware/vcloud/event/vapp/create`) or in full. */
  readonly type: string;
  /** The entity's URN, e.g. `urn:vcloud:vapp:<uuid>`. */
  readonly entity?: string;
  /** The organisation (URN or bare id); default {@linkcode TEST_ORG}. */
  readonly org?: string;
  /** Who caused it (URN or bare id); default {@linkcode TEST_USER}. */
  readonly user?: string;
  /** Whether the operation succeeded; default true. */
  readonly operationSuccess?: boolean;
  /** The event id; default `test-event`. */
  readonly eventId?: string;
  /** ISO-8601; default none. */
  readonly timestamp?: string;
  /** For task events: the task URN and the object it works on. */
  readonly task?: string;
  readonly taskOwner?: string;
}

/** What became of a notification, and what the handlers logged. */
export interface EventResult {
  /** `handled` (every matching subscription succeeded), `ignored` (none matched) or `failed`. */
  readonly outcome: EventOutcome;
  /** The lines logged through `ctx.log`, and the host's own lines about failures. */
  readonly logs: readonly LogRecord[];
}

/** Runs one JSON notification body through the real event processor. */
async function deliver(
  ext: Extension,
  body: Record<string, unknown>,
  gateway?: Parameters<typeof eventProcessor>[1]["gateway"],
): Promise<EventResult> {
  const logs: LogRecord[] = [];
  let outcome: EventOutcome = "ignored";
  const events = eventProcessor([ext], {
    log: recorder(logs),
    gateway,
    retries: 0,
    sleep: () => Promise.resolve(),
    onEvent: (_type, o) => void (outcome = o),
  });
  const content = encoder.encode(JSON.stringify(body));
  await events.handle({ content, topic: "", headers: {} }, new AbortController().signal);
  return { outcome, logs };
}

/**
 * Delivers one notification to `ext`'s subscriptions, as vCD publishes it (JSON), without
 * retries: a handler that throws makes the outcome `failed` at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExtension } from "./sdk.ts";
 * import { notify } from "./testing.ts";
 * const seen: string[] = [];
 * const ext = defineExtension({ name: "audit", namespace: "x", routingKey: "audit", routes: [],
 *   notifications: [{ type: "vapp/delete", handle: (e) => void seen.push(e.entity) }] });
 * const r = await notify(ext, { type: "vapp/delete", entity: "urn:vcloud:vapp:1" });
 * assert.equal(r.outcome, "handled");
 * assert.deepEqual(seen, ["urn:vcloud:vapp:1"]);
 * assert.equal((await notify(ext, { type: "vapp/create" })).outcome, "ignored");
 * ```
 */
export function notify(ext: Extension, event: NotifyOptions): Promise<EventResult> {
  const type = /^com[./]/.test(event.type) ? event.type : `com/vmware/vcloud/event/${event.type}`;
  return deliver(ext, {
    eventId: event.eventId ?? "test-event",
    type,
    entity: event.entity,
    org: urn("org", event.org ?? TEST_ORG.urn),
    user: urn("user", event.user ?? TEST_USER),
    operationSuccess: event.operationSuccess ?? true,
    timestamp: event.timestamp,
    task: event.task,
    taskOwner: event.taskOwner,
  });
}

/** The blocking task {@linkcode decide} asks about, as vCD's `BlockingTask` document says it. */
export interface TaskSpec {
  /** The blocked operation, e.g. `vdcComposeVapp`. */
  readonly operation: string;
  /** The task's bare id; default `1`. */
  readonly id?: string;
  /** The object the blocked operation works on (`TaskOwner`), e.g. `{ name: "prod-web" }`. */
  readonly owner?: Reference;
  /** Who started it. */
  readonly user?: Reference;
  /** Where it runs. */
  readonly organization?: Reference;
}

/** A rule's decision (`undefined` when no rule covers the operation), and the log. */
export interface DecideResult extends EventResult {
  readonly decision: Decision | undefined;
}

/** The `BlockingTask` document vCD would return for `spec`, parsed by the host's parser. */
function blockingTask(spec: TaskSpec, id: string): BlockingTask {
  const href = `https://vcd.test/api/admin/extension/blockingTask/${id}`;
  const ref = (name: string, r: Reference | undefined) => r && el(name, { ...r });
  return parseBlockingTask(renderXml(el(
    "BlockingTask",
    {
      xmlns: VCLOUD_NS,
      id: `urn:vcloud:blockingTask:${id}`,
      href,
      status: "active",
      operationName: spec.operation,
    },
    ...["resume", "abort", "fail", "updateProgress"].map((rel) =>
      el("Link", { rel, href: `${href}/action/${rel}` })
    ),
    ref("TaskOwner", spec.owner),
    ref("User", spec.user),
    ref("Organization", spec.organization),
  )));
}

/**
 * Asks `ext`'s blocking-task rules about one blocked operation, as the host does on a
 * `blockingtask/create` notification: the task is read (here: built from `task`), the rule for
 * its operation decides, and the decision is what would be posted to vCD.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExtension } from "./sdk.ts";
 * import { decide } from "./testing.ts";
 * const ext = defineExtension({ name: "p", namespace: "x", routingKey: "p", routes: [],
 *   blockingTasks: [{ operation: "vdcComposeVapp",
 *     decide: (t) => ({ action: t.owner?.name === "ok" ? "resume" : "abort", message: "by name" }) }] });
 * const r = await decide(ext, { operation: "vdcComposeVapp", owner: { name: "ok" } });
 * assert.deepEqual(r.decision, { action: "resume", message: "by name" });
 * assert.equal((await decide(ext, { operation: "vdcDeleteVapp" })).decision, undefined);
 * ```
 */
export async function decide(ext: Extension, task: TaskSpec): Promise<DecideResult> {
  const id = task.id ?? "1";
  let decision: Decision | undefined;
  const result = await deliver(ext, {
    eventId: "test-event",
    type: BLOCKING_TASK_CREATE,
    entity: `urn:vcloud:blockingTask:${id}`,
    operationSuccess: true,
  }, {
    fetch: () => Promise.resolve(blockingTask(task, id)),
    act(_task, d) {
      decision = d;
      return Promise.resolve();
    },
  });
  return { ...result, decision };
}

/**
 * The extension with its rights declared by name replaced by ids, as `serve` hands it to the
 * dispatcher after looking the names up in vCD: `ids` maps `{namespace}:Name` to
 * `urn:vcloud:right:<uuid>`. A test of a route with a named right gives the caller that id.
 */
export function withRightIds(ext: Extension, ids: Readonly<Record<string, string>>): Extension {
  return resolveRightIds(ext, new Map(Object.entries(ids)));
}
