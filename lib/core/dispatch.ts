/**
 * @module The error boundary between a decoded request and its reply: routing, rights,
 * content negotiation, body decoding, the handler call and rendering. `dispatch()` never
 * throws; every failure becomes a vCloud `Error` document in the negotiated format.
 */

import { EnvelopeError, parseJson, type Reply, type VcdRequest } from "./envelope.ts";
import { HttpError } from "./errors.ts";
import type {
  AnyRoute,
  BodyDecoder,
  Extension,
  HandlerResult,
  Representation,
} from "./extension.ts";
import {
  type Format,
  negotiate,
  type Negotiated,
  type Offer,
  parseAccept,
  withParameter,
} from "./negotiate.ts";
import { clip, quote, scrub, secretsOf } from "./redact.ts";
import { type Deadline, DeadlineQueue } from "./deadlines.ts";
import { Router } from "./router.ts";
import { el, parseXml, renderXml, XmlError } from "./xml.ts";

/** Base media type of vCloud error documents. */
export const ERROR_BASE = "application/vnd.vmware.vcloud.error";
/** The vCloud API namespace of the `Error` element. */
export const VCLOUD_NS = "http://www.vmware.com/vcloud/v1.5";

const ALL_FORMATS: readonly Format[] = ["xml", "json"];
const NEVER = new AbortController().signal;
const decoder = new TextDecoder();

interface CompiledRoute {
  readonly method: string;
  readonly path: string;
  readonly def: AnyRoute;
  /** What negotiation offers; `undefined` when the route declares no representation. */
  readonly offer: Offer | undefined;
  /** Formats for error documents of this route, default first. */
  readonly errorFormats: readonly Format[];
  /** `METHOD /path/{template}`, as outcomes name the route. */
  readonly template: string;
}

/** An extension compiled for dispatch: its routes behind a router. */
export interface App {
  readonly extension: Extension;
  readonly router: Router<CompiledRoute>;
}

/** A reply and what the shell logs and counts about it. */
export interface Outcome {
  readonly reply: Reply;
  /** The matched route's template, e.g. `GET /api/org/{org}/ticketing`. */
  readonly route?: string;
  /** An unexpected error behind a 500, for the log (never sent to the client). */
  readonly error?: unknown;
}

/** Options of {@linkcode dispatch}. */
export interface DispatchOptions {
  /** Aborts the handler from outside (shutdown); the handler sees it in `ctx.signal`. */
  readonly signal?: AbortSignal;
  /**
   * How long a handler may take. Past it (swept every 50 ms) the reply is a 504
   * `GATEWAY_TIMEOUT`, the handler's `ctx.signal` is aborted and its late result is discarded.
   * This timer is the only clock dispatch reads (tests fake it). Default: no limit.
   */
  readonly timeoutMs?: number;
}

function formatsOf(rep: Representation<unknown>): readonly Format[] {
  return rep.formats ?? ALL_FORMATS.filter((f) => rep[f] !== undefined);
}

/**
 * Compiles an extension's routes for {@linkcode dispatch}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compile } from "./dispatch.ts";
 * import { defineExtension } from "./extension.ts";
 * const app = compile(defineExtension({ name: "x", namespace: "x", routingKey: "x", routes: [
 *   { method: "GET", path: "/api/x", handle: () => ({}) },
 * ] }));
 * assert.equal(app.router.match("GET", "/api/x").kind, "found");
 * ```
 */
export function compile(extension: Extension): App {
  const routes: CompiledRoute[] = extension.routes.map((def) => {
    const formats = def.produces ? formatsOf(def.produces) : undefined;
    return {
      method: def.method,
      path: def.path,
      def,
      offer: formats ? { base: def.produces?.base, formats } : undefined,
      errorFormats: formats ?? ALL_FORMATS,
      template: `${def.method} ${def.path}`,
    };
  });
  return { extension, router: new Router(routes) };
}

/** Format and concrete Content-Type of an error document for this Accept header. */
/** Error-document offers by format list (routes keep theirs), so negotiation can cache them. */
const errorOffers = new WeakMap<readonly Format[], Offer>();

function errorNegotiation(accept: string | undefined, formats: readonly Format[]): Negotiated {
  let offer = errorOffers.get(formats);
  if (!offer) errorOffers.set(formats, offer = { base: ERROR_BASE, formats });
  const found = negotiate(accept, offer);
  if (found) return found;
  // Nothing acceptable: still answer in a format the client understands, by the suffix it asked
  // for, else the route's default; keep its version parameter.
  const ranges = accept ? parseAccept(accept).filter((r) => r.q > 0) : [];
  const wanted = ranges.map((
    r,
  ) => (/json$/.test(r.subtype) ? "json" : /xml$/.test(r.subtype) ? "xml" : undefined))
    .find((f): f is Format => f !== undefined && formats.includes(f));
  const format = wanted ?? formats[0] ?? "xml";
  const version = ranges.find((r) => r.params.version !== undefined)?.params.version;
  // Quoted when it is not a token: `version="36.0;charset=UTF-7"` must not become two parameters.
  return { format, contentType: withParameter(`${ERROR_BASE}+${format}`, "version", version) };
}

/**
 * JSON text with every lone surrogate as U+FFFD, as XML output has it. `JSON.stringify`
 * writes a lone surrogate as the escape `\udXXX` (a paired one it writes as is), so any such
 * escape (one not preceded by an escaped backslash) is a lone surrogate. A scan, not a
 * regular expression: linear, and a single `indexOf` when there is none.
 */
export function wellFormedJson(json: string): string {
  let at = json.indexOf("\\ud");
  if (at === -1) return json;
  let out = "";
  let copied = 0;
  let floor = 0;
  while (at !== -1) {
    // An even number of backslashes before this one means it starts an escape. The run stops
    // at the previous hit, so the count is linear overall.
    let k = at;
    while (k > floor && json.charCodeAt(k - 1) === 0x5c) k--;
    const h = json.charCodeAt(at + 3);
    if ((at - k) % 2 === 0 && ((h >= 0x38 && h <= 0x39) || (h >= 0x61 && h <= 0x66))) {
      out += json.slice(copied, at) + "\uFFFD";
      copied = at + 6;
    }
    floor = at + 1;
    at = json.indexOf("\\ud", at + 1);
  }
  return out + json.slice(copied);
}

/** `JSON.stringify` for a reply body: lone surrogates become U+FFFD. */
function toJson(value: unknown): string {
  return wellFormedJson(JSON.stringify(value));
}

/**
 * Renders a vCloud `Error` document reply in the format the client accepts (or, when it
 * accepts none, the first of `formats`). `majorErrorCode` equals the status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorReply } from "./dispatch.ts";
 * import { HttpError } from "./errors.ts";
 * const r = errorReply("r1", "application/*+json;version=36.0", new HttpError(404, "no ticket 42"));
 * assert.equal(r.status, 404);
 * assert.equal(r.headers["Content-Type"], "application/vnd.vmware.vcloud.error+json;version=36.0");
 * assert.deepEqual(JSON.parse(r.body as string), { majorErrorCode: 404, minorErrorCode: "NOT_FOUND", message: "no ticket 42" });
 * ```
 */
export function errorReply(
  id: string,
  accept: string | undefined,
  error: HttpError,
  formats: readonly Format[] = ALL_FORMATS,
): Reply {
  const { format, contentType } = errorNegotiation(accept, formats);
  const doc = {
    majorErrorCode: error.status,
    minorErrorCode: error.minorCode,
    message: error.message,
  };
  const body = format === "json"
    ? toJson(doc)
    : renderXml(el("Error", { xmlns: VCLOUD_NS, ...doc }));
  return {
    id,
    status: error.status,
    headers: { ...error.headers, "Content-Type": contentType },
    body,
  };
}

/**
 * The reply to a message whose body could not be decoded but which can still be answered: a
 * 400 (or 413) error document that echoes whatever id could be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { undecodableReply } from "./dispatch.ts";
 * import { EnvelopeError } from "./envelope.ts";
 * const r = undecodableReply(new EnvelopeError("body is not JSON"));
 * assert.equal(r.status, 400);
 * assert.match(r.body as string, /Cannot decode request: body is not JSON/);
 * ```
 */
export function undecodableReply(error: EnvelopeError): Reply {
  return errorReply(error.requestId, error.accept, error);
}

function contentFormat(contentType: string | undefined, body: Uint8Array): Format | undefined {
  if (contentType === undefined || contentType.trim() === "") {
    // No Content-Type: sniff the first significant byte, the lenient choice for a header
    // some clients omit.
    const first = decoder.decode(body.subarray(0, 64)).trimStart()[0];
    return first === "<" ? "xml" : first === "{" || first === "[" ? "json" : undefined;
  }
  const essence = contentType.split(";")[0]!.trim().toLowerCase();
  if (/^(application|text)\/json$|^[a-z0-9.+-]+\/[^;]*\+json$/.test(essence)) return "json";
  if (/^(application|text)\/xml$|^[a-z0-9.+-]+\/[^;]*\+xml$/.test(essence)) return "xml";
  return undefined;
}

function decodeBody(consumes: BodyDecoder<unknown> | undefined, req: VcdRequest): unknown {
  if (!consumes) return undefined;
  if (req.body.byteLength === 0) {
    if (consumes.optional) return undefined;
    throw new HttpError(400, "The request body is required");
  }
  const contentType = req.headers.get("content-type");
  const format = contentFormat(contentType, req.body);
  const accepted = ALL_FORMATS.filter((f) => consumes[f] !== undefined).map((f) => f.toUpperCase())
    .join(" or ");
  if (format === undefined || consumes[format] === undefined) {
    throw new HttpError(
      415,
      `Content-Type "${quote(contentType ?? "")}" is not supported here; send ${accepted}`,
    );
  }
  const text = decoder.decode(req.body);
  if (format === "json") {
    let value: unknown;
    try {
      value = parseJson(text);
    } catch {
      throw new HttpError(400, "The request body is not valid JSON");
    }
    return consumes.json!(value);
  }
  try {
    return consumes.xml!(parseXml(text));
  } catch (e) {
    if (e instanceof XmlError) throw new HttpError(400, e.message);
    throw e;
  }
}

function render(rep: Representation<unknown>, format: Format, value: unknown): string {
  return format === "json" ? toJson(rep.json!(value)) : renderXml(rep.xml!(value));
}

function successReply(
  id: string,
  route: CompiledRoute,
  negotiated: Negotiated | undefined,
  result: { status?: number; body?: unknown; headers?: Readonly<Record<string, string>> },
): Reply {
  const hasBody = result.body !== undefined;
  const status = result.status ?? (hasBody ? 200 : 204);
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new TypeError(`handler returned an invalid status ${String(status)}`);
  }
  const rep = route.def.produces;
  let body = "";
  if (hasBody) {
    body = rep && negotiated ? render(rep, negotiated.format, result.body) : toJson(result.body);
  }
  const headers: Record<string, string> = {
    "Content-Type": negotiated?.contentType ?? "application/json",
  };
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    headers[name.toLowerCase() === "content-type" ? "Content-Type" : name] = value;
  }
  return { id, status, headers, body };
}

type Context = Parameters<AnyRoute["handle"]>[0];

/**
 * Handler deadlines, swept by one interval timer (every 50 ms while any is pending) rather
 * than a timer per request: a 504 may come up to 50 ms after the limit, which is far inside
 * vCD's margin, and the hot path arms no timer of its own.
 */
const deadlines = new DeadlineQueue<void>();
let sweeper: ReturnType<typeof setInterval> | undefined;
const SWEEP_MS = 50;

function sweep(): void {
  deadlines.expire(performance.now());
  if (deadlines.empty && sweeper !== undefined) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/** Arms a deadline; cancel it when the handler settles. */
function arm(ms: number, fire: () => void): Deadline<void> {
  const deadline = deadlines.add(performance.now() + ms, fire);
  if (sweeper === undefined) {
    // Unref'd: the sweeper never keeps a process alive; it stops itself once nothing is
    // pending, so a request arms no timer of its own however they arrive.
    sweeper = setInterval(sweep, SWEEP_MS);
    try {
      Deno.unrefTimer(sweeper);
    } catch { /* a fake timer (tests) */ }
  }
  return deadline;
}

/**
 * What a handler receives. A class rather than an object literal with getters: a literal's
 * getters are fresh closures, V8 then gives every such object its own hidden class, and that
 * kept several KB per request alive across garbage collections.
 */
class RequestContext implements Context {
  /** Aborts from outside (shutdown). */
  readonly #outer: AbortSignal | undefined;
  /** Whether a deadline applies, so `signal` needs a controller of its own. */
  readonly #bounded: boolean;
  #query: URLSearchParams | undefined;
  #controller: AbortController | undefined;
  #expired: HttpError | undefined;
  #forward: (() => void) | undefined;

  constructor(
    readonly params: Readonly<Record<string, string>>,
    readonly body: unknown,
    readonly request: VcdRequest,
    outer: AbortSignal | undefined,
    bounded: boolean,
  ) {
    this.#outer = outer;
    this.#bounded = bounded;
  }

  get security(): VcdRequest["security"] {
    return this.request.security;
  }

  get query(): URLSearchParams {
    return (this.#query ??= new URLSearchParams(this.request.queryString));
  }

  /** The AbortController is made only when the handler looks at `signal`. */
  get signal(): AbortSignal {
    const outer = this.#outer;
    if (!this.#bounded) return outer ?? NEVER;
    if (!this.#controller) {
      const controller = (this.#controller = new AbortController());
      if (this.#expired) controller.abort(this.#expired);
      else if (outer?.aborted) controller.abort(outer.reason);
      else if (outer) {
        this.#forward = () => controller.abort(outer.reason);
        outer.addEventListener("abort", this.#forward, { once: true });
      }
    }
    return this.#controller.signal;
  }

  /** The deadline passed: abort the handler's signal with the 504. */
  expire(error: HttpError): void {
    this.#expired = error;
    this.#controller?.abort(error);
  }

  /** The handler settled: stop listening to the outer signal. */
  release(): void {
    if (this.#forward) this.#outer?.removeEventListener("abort", this.#forward);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

/**
 * Runs the handler, bounded by `options.timeoutMs` when given. A handler that answers
 * synchronously (or throws) needs no deadline; a pending one is raced against it.
 */
function callHandler(
  def: AnyRoute,
  options: DispatchOptions,
  ctx: RequestContext,
): Promise<HandlerResult<unknown>> {
  let result: HandlerResult<unknown> | PromiseLike<HandlerResult<unknown>>;
  try {
    result = def.handle(ctx);
  } catch (e) {
    return Promise.reject(e);
  }
  const { timeoutMs } = options;
  if (timeoutMs === undefined || !isThenable(result)) return Promise.resolve(result);
  const pending = result;
  return new Promise<HandlerResult<unknown>>((resolve, reject) => {
    const deadline = arm(timeoutMs, () => {
      const expired = new HttpError(504, `The extension did not answer within ${timeoutMs} ms`);
      ctx.expire(expired);
      reject(expired);
    });
    // The handler's own promise may settle after the deadline: that late result is dropped.
    pending.then((value) => {
      deadlines.cancel(deadline);
      ctx.release();
      resolve(value);
    }, (e) => {
      deadlines.cancel(deadline);
      ctx.release();
      reject(e);
    });
  });
}

/** The longest message an error reply carries; a handler's longer message is cut. */
export const MAX_MESSAGE = 1024;

/**
 * The error as the caller may see it. Every error reply of {@linkcode dispatch} goes through
 * here, whatever its status or origin (dispatch's own 404/405/406/415, the XML parser's 400, a
 * handler's HttpError), so no path scrubs differently: the message is scrubbed with the
 * request's own credential headers (a client's token echoed in a path or an element name
 * included) and cut to {@linkcode MAX_MESSAGE} characters. Input quoted into a message went
 * through {@linkcode quote} already; this is the net for the rest.
 */
function forCaller(e: HttpError, req: VcdRequest): HttpError {
  const secrets = secretsOf(req.headers);
  let message = scrub(e.message, secrets);
  // Cut after scrubbing (a credential the cut splits would escape the patterns), then once
  // more for a caller's secret split by the cut.
  if (message.length > MAX_MESSAGE) message = scrub(clip(message, MAX_MESSAGE), secrets);
  // A copy only when scrubbing changed the message: most errors carry no credential.
  return message === e.message
    ? e
    : new HttpError(e.status, message, { minorCode: e.minorCode, headers: e.headers });
}

/**
 * Answers one request with the app's routes. Never throws: unknown path → 404, wrong method →
 * 405 with `Allow`, missing right → 403, nothing acceptable → 406, unsupported body → 415,
 * `HttpError` from the handler → its status, anything else → 500 without internals. Client
 * input in a message is quoted short, and every message is scrubbed of the caller's
 * credentials the same way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compile, dispatch } from "./dispatch.ts";
 * import { defineExtension, route } from "./extension.ts";
 * const app = compile(defineExtension({ name: "x", namespace: "x", routingKey: "x", routes: [
 *   route({ method: "GET", path: "/api/x/{n}", produces: { json: (n: number) => ({ n }) },
 *     handle: (c) => ({ body: Number(c.params.n) * 2 }) }),
 * ] }));
 * const req = { id: "r1", method: "GET", path: "/api/x/21", queryString: "", headers: new Map(),
 *   body: new Uint8Array(), security: { user: "", org: "", rights: new Set<string>(), parameters: {} }, context: {} };
 * const { reply } = await dispatch(app, req);
 * assert.equal(reply.status, 200);
 * assert.equal(reply.body, '{"n":42}');
 * assert.equal((await dispatch(app, { ...req, method: "PUT" })).reply.headers.Allow, "GET");
 * ```
 */
export async function dispatch(
  app: App,
  req: VcdRequest,
  options: DispatchOptions = {},
): Promise<Outcome> {
  const accept = req.headers.get("accept");
  const found = app.router.match(req.method, req.path);
  if (found.kind === "none") {
    const error = new HttpError(404, `No resource at ${quote(req.path)}`);
    return { reply: errorReply(req.id, accept, forCaller(error, req)) };
  }
  if (found.kind === "method") {
    const allow = found.allow.join(", ");
    const error = new HttpError(405, `${quote(req.method)} is not allowed here; use ${allow}`, {
      headers: { Allow: allow },
    });
    return { reply: errorReply(req.id, accept, forCaller(error, req)) };
  }
  const { route, params } = found.match;
  const template = route.template;
  try {
    for (const right of route.def.rights ?? []) {
      if (!req.security.rights.has(right)) {
        throw new HttpError(403, "The caller does not hold a right this operation requires");
      }
    }
    const negotiated = route.offer ? negotiate(accept, route.offer) : undefined;
    if (route.offer && !negotiated) {
      const offered = route.offer.formats.map((f) => f.toUpperCase()).join(" or ");
      throw new HttpError(
        406,
        `None of the accepted media types ("${
          quote(accept ?? "")
        }") can be produced; this returns ${offered}`,
      );
    }
    const body = decodeBody(route.def.consumes, req);
    const ctx = new RequestContext(
      params,
      body,
      req,
      options.signal,
      options.timeoutMs !== undefined,
    );
    const result = await callHandler(route.def, options, ctx);
    return { reply: successReply(req.id, route, negotiated, result ?? {}), route: template };
  } catch (e) {
    if (e instanceof HttpError) {
      const safe = forCaller(e, req);
      return { reply: errorReply(req.id, accept, safe, route.errorFormats), route: template };
    }
    const error = new HttpError(500, "The extension failed to handle the request");
    return {
      reply: errorReply(req.id, accept, error, route.errorFormats),
      route: template,
      error: e,
    };
  }
}
