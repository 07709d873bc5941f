/**
 * @module Path-template routing: compiles an extension's routes once and matches a method and
 * path to a route and its parameters, or tells which methods the path allows (for 405).
 */

/** The part of a route the router needs. */
export interface Routable {
  readonly method: string;
  readonly path: string;
}

/** A match: the route and its percent-decoded parameters. */
export interface RouteMatch<R extends Routable> {
  readonly route: R;
  readonly params: Readonly<Record<string, string>>;
}

/** The outcome of {@linkcode Router.match}. */
export type MatchResult<R extends Routable> =
  | { readonly kind: "found"; readonly match: RouteMatch<R> }
  /** The path exists, not with this method: answer 405 with `Allow`. */
  | { readonly kind: "method"; readonly allow: readonly string[] }
  /** No route has this path: answer 404. */
  | { readonly kind: "none" };

interface Compiled<R> {
  readonly route: R;
  /** Literal segment text, or `undefined` for a parameter. */
  readonly segments: readonly (string | undefined)[];
  readonly names: readonly string[];
  /** Literal-first ordering key: "1" for a literal segment, "0" for a parameter. */
  readonly rank: string;
}

function splitPath(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  return trimmed.split("/").slice(1);
}

function decodeSegment(segment: string): string | undefined {
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * Routes requests by method and path template. Literal segments win over parameters at the
 * same position (`/x/stats` before `/x/{id}`), among the routes with the request's method;
 * when only other methods match the path, the answer lists them for 405. One trailing slash is ignored; a parameter
 * matches one non-empty segment and is percent-decoded (a segment that does not decode does
 * not match).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Router } from "./router.ts";
 * const router = new Router([
 *   { method: "GET", path: "/api/org/{org}/ticketing/{id}" },
 *   { method: "DELETE", path: "/api/org/{org}/ticketing/{id}" },
 * ]);
 * const m = router.match("GET", "/api/org/o1/ticketing/42");
 * assert.equal(m.kind, "found");
 * assert.deepEqual(m.kind === "found" && m.match.params, { org: "o1", id: "42" });
 * assert.deepEqual(router.match("PUT", "/api/org/o1/ticketing/42"), { kind: "method", allow: ["DELETE", "GET"] });
 * assert.deepEqual(router.match("GET", "/api/org/o1"), { kind: "none" });
 * ```
 */
export class Router<R extends Routable> {
  readonly #bySize = new Map<number, Compiled<R>[]>();

  constructor(routes: Iterable<R>) {
    for (const route of routes) {
      const parts = splitPath(route.path);
      const segments = parts.map((p) => (/^\{.+\}$/.test(p) ? undefined : p));
      const names = parts.filter((p) => /^\{.+\}$/.test(p)).map((p) => p.slice(1, -1));
      const rank = segments.map((s) => (s === undefined ? "0" : "1")).join("");
      const list = this.#bySize.get(parts.length) ?? [];
      list.push({ route, segments, names, rank });
      list.sort((a, b) => (a.rank < b.rank ? 1 : a.rank > b.rank ? -1 : 0));
      this.#bySize.set(parts.length, list);
    }
  }

  /** Finds the route for `method` and `path` (path only, no query). */
  match(method: string, path: string): MatchResult<R> {
    // The same segments as splitPath(), read in place: parts[1..n].
    const parts = path.split("/");
    let n = parts.length - 1;
    if (n > 1 && parts[n] === "") n--;
    const candidates = this.#bySize.get(n);
    if (!candidates) return { kind: "none" };
    let allow: Set<string> | undefined;
    for (const c of candidates) {
      if (c.route.method === method) {
        const params = paramsOf(c, parts);
        if (params) return { kind: "found", match: { route: c.route, params } };
      } else if (paramsOf(c, parts)) (allow ??= new Set()).add(c.route.method);
    }
    return allow ? { kind: "method", allow: [...allow].sort() } : { kind: "none" };
  }
}

/**
 * The percent-decoded parameters when `parts[1..]` fit the template, else `undefined`. Own
 * data properties of a plain object: a `{__proto__}` parameter is defined, not assigned, so
 * it cannot touch the prototype (and the result compares equal to an object literal).
 */
function paramsOf<R>(c: Compiled<R>, parts: readonly string[]): Record<string, string> | undefined {
  const segments = c.segments;
  for (let i = 0; i < segments.length; i++) {
    const literal = segments[i];
    if (literal !== undefined && literal !== parts[i + 1]) return undefined;
  }
  const params: Record<string, string> = {};
  let p = 0;
  for (let i = 0; i < segments.length; i++) {
    if (segments[i] !== undefined) continue;
    const part = parts[i + 1] ?? "";
    if (part === "") return undefined;
    const decoded = decodeSegment(part);
    if (decoded === undefined) return undefined;
    const name = c.names[p++]!;
    if (name === "__proto__") {
      Object.defineProperty(params, name, {
        value: decoded,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else params[name] = decoded;
  }
  return params;
}
