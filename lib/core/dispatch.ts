/**
 * @module The error boundary between a decoded request and its reply: routing, rights,
 * content negotiation, body decoding, the handler call and rendering. `dispatch()` never
 * throws; every failure becomes a vCloud `Error` document in the negotiated format. The steps
 * live next to it: request_body.ts (decoding), handler_call.ts (the handler's `ctx` and time
 * limit), render.ts (success replies), error_reply.ts (error documents).
 */

import type { Reply, VcdRequest } from "./envelope.ts";
import { HttpError } from "./errors.ts";
import type { AnyRoute, Extension, Representation } from "./extension.ts";
import { type Format, negotiate, type Offer } from "./negotiate.ts";
import { quote } from "./redact.ts";
import type { Clock } from "./deadlines.ts";
import { ALL_FORMATS, errorReply, forCaller } from "./error_reply.ts";
import { callHandler, RequestContext, type TimeLimit } from "./handler_call.ts";
import { successReply } from "./render.ts";
import { decodeBody } from "./request_body.ts";
import { Router } from "./router.ts";
import { defaultsOf, type ExtensionConfig, secretValues } from "./config_schema.ts";
import { scrub } from "./redact.ts";

export { ERROR_BASE, errorReply, MAX_MESSAGE, undecodableReply } from "./error_reply.ts";
export { wellFormedJson } from "./render.ts";
export { VCLOUD_NS } from "./vcloud.ts";
export type { TimeLimit } from "./handler_call.ts";

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

/** An extension compiled for dispatch: its routes behind a router, and its configuration. */
export interface App {
  readonly extension: Extension;
  readonly router: Router<CompiledRoute>;
  /** What handlers get on `ctx.config`: the host's checked values, else the defaults. */
  readonly config: ExtensionConfig;
  /** The values of secret keys, scrubbed from error replies and from the error logged. */
  readonly secrets: readonly string[];
}

/** A reply and what the shell logs and counts about it. */
export interface Outcome {
  readonly reply: Reply;
  /** The matched route's template, e.g. `GET /api/org/{org}/ticketing`. */
  readonly route?: string;
  /** An unexpected error behind a 500, for the log (never sent to the client). */
  readonly error?: unknown;
}

/**
 * Options of {@linkcode dispatch}: an outer `signal`, and a handler time limit. `timeoutMs`
 * comes with the `clock` that measures it, checked by types (the core reads no clock of its
 * own; pass `systemClock` of lib/transport/clock.ts, or a fake). Past the limit (swept every
 * 50 ms) the reply is a 504 `GATEWAY_TIMEOUT`, the handler's `ctx.signal` is aborted and its
 * late result is discarded. Default: no limit.
 */
export type DispatchOptions =
  & {
    /** Aborts the handler from outside (shutdown); the handler sees it in `ctx.signal`. */
    readonly signal?: AbortSignal;
  }
  & OptionalTimeLimit;

/** A handler time limit with its clock, or none (a clock alone is allowed and unused). */
export type OptionalTimeLimit = TimeLimit | {
  readonly timeoutMs?: undefined;
  readonly clock?: Clock;
};

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
  const config = extension.configValues ?? defaultsOf(extension.config);
  const secrets = secretValues(extension.config, config);
  return { extension, router: new Router(routes), config, secrets };
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
    const limit = options.timeoutMs === undefined ? undefined : options;
    const ctx = new RequestContext(
      params,
      body,
      req,
      options.signal,
      limit !== undefined,
      app.config,
    );
    const result = await callHandler(route.def, limit, ctx);
    return {
      reply: successReply(req.id, route.def.produces, negotiated, result ?? {}),
      route: template,
    };
  } catch (e) {
    if (e instanceof HttpError) {
      const safe = forCaller(e, req, app.secrets);
      return { reply: errorReply(req.id, accept, safe, route.errorFormats), route: template };
    }
    const error = new HttpError(500, "The extension failed to handle the request");
    return {
      reply: errorReply(req.id, accept, error, route.errorFormats),
      route: template,
      error: app.secrets.length === 0 ? e : withoutSecrets(e, app.secrets),
    };
  }
}

/** An unexpected error with the configuration's secrets scrubbed from its message and stack. */
function withoutSecrets(e: unknown, secrets: readonly string[]): unknown {
  if (!(e instanceof Error)) return scrub(String(e), secrets);
  const message = scrub(e.message, secrets);
  const stack = e.stack === undefined ? undefined : scrub(e.stack, secrets);
  if (message === e.message && stack === e.stack) return e;
  const copy = new Error(message);
  copy.name = e.name;
  if (stack !== undefined) copy.stack = stack;
  return copy;
}
