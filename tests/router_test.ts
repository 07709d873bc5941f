import assert from "node:assert/strict";
import { type MatchResult, type Routable, Router } from "../lib/core/router.ts";

/**
 * The routes every case runs against. The literal `/stats` route is declared after the
 * `{id}` routes on purpose: precedence must not depend on declaration order.
 */
const ROUTES: readonly Routable[] = [
  { method: "GET", path: "/api/org/{org}/ticketing" },
  { method: "POST", path: "/api/org/{org}/ticketing" },
  { method: "GET", path: "/api/org/{org}/ticketing/{id}" },
  { method: "PUT", path: "/api/org/{org}/ticketing/{id}" },
  { method: "DELETE", path: "/api/org/{org}/ticketing/{id}" },
  { method: "GET", path: "/api/org/{org}/ticketing/stats" },
  { method: "GET", path: "/api/org/{org}/ticketing/{id}/comments/{comment}" },
  { method: "GET", path: "/api/{area}/fixed/x" },
  { method: "GET", path: "/api/admin/{name}/x" },
  { method: "GET", path: "/" },
];

/** What a case expects: the matched template and parameters, a 405 `Allow` list, or 404. */
type Expect =
  | { readonly found: string; readonly params: Readonly<Record<string, string>> }
  | { readonly allow: readonly string[] }
  | "none";

interface Case {
  readonly method: string;
  readonly path: string;
  /** Why this case exists, for the test name. */
  readonly why: string;
  readonly expect: Expect;
}

const T = "/api/org/{org}/ticketing";

// One line per case, so the table reads as a table.
// deno-fmt-ignore
const CASES: readonly Case[] = [
  // Plain matches and parameter names.
  { method: "GET", path: "/api/org/o1/ticketing", why: "matches a one-parameter template", expect: { found: `GET ${T}`, params: { org: "o1" } } },
  { method: "POST", path: "/api/org/o1/ticketing", why: "picks the route of the request's method", expect: { found: `POST ${T}`, params: { org: "o1" } } },
  { method: "GET", path: "/api/org/o1/ticketing/42", why: "names each parameter after its template", expect: { found: `GET ${T}/{id}`, params: { org: "o1", id: "42" } } },
  { method: "GET", path: "/api/org/o1/ticketing/42/comments/7", why: "reads three parameters", expect: { found: `GET ${T}/{id}/comments/{comment}`, params: { org: "o1", id: "42", comment: "7" } } },
  { method: "GET", path: "/", why: "matches the root template", expect: { found: "GET /", params: {} } },

  // Literal versus parameter precedence.
  { method: "GET", path: "/api/org/o1/ticketing/stats", why: "prefers a literal segment to a parameter", expect: { found: `GET ${T}/stats`, params: { org: "o1" } } },
  { method: "PUT", path: "/api/org/o1/ticketing/stats", why: "falls back to a parameter when the literal route lacks the method", expect: { found: `PUT ${T}/{id}`, params: { org: "o1", id: "stats" } } },
  { method: "GET", path: "/api/admin/fixed/x", why: "prefers the route whose first literal comes earlier", expect: { found: "GET /api/admin/{name}/x", params: { name: "fixed" } } },
  { method: "GET", path: "/api/other/fixed/x", why: "uses the other template when the earlier literal does not match", expect: { found: "GET /api/{area}/fixed/x", params: { area: "other" } } },

  // Trailing slash.
  { method: "GET", path: "/api/org/o1/ticketing/", why: "ignores one trailing slash", expect: { found: `GET ${T}`, params: { org: "o1" } } },
  { method: "GET", path: "/api/org/o1/ticketing/42/", why: "ignores one trailing slash after a parameter", expect: { found: `GET ${T}/{id}`, params: { org: "o1", id: "42" } } },
  { method: "GET", path: "/api/org/o1/ticketing//", why: "does not ignore two trailing slashes", expect: "none" },

  // Percent-decoding.
  { method: "GET", path: "/api/org/o%201/ticketing/a%2Fb", why: "percent-decodes parameters, %2F included", expect: { found: `GET ${T}/{id}`, params: { org: "o 1", id: "a/b" } } },
  { method: "GET", path: "/api/org/o1/ticketing/%C3%A9t%C3%A9", why: "decodes UTF-8 percent-escapes", expect: { found: `GET ${T}/{id}`, params: { org: "o1", id: "été" } } },
  { method: "GET", path: "/api/org/o1/ticketing/%E0%A4%A", why: "does not match a segment that does not decode", expect: "none" },
  { method: "GET", path: "/api/org/%ZZ/ticketing", why: "does not match an invalid escape", expect: "none" },
  { method: "GET", path: "/api/org/o1/tick%65ting", why: "compares literal segments without decoding", expect: "none" },

  // Empty segments.
  { method: "GET", path: "/api/org//ticketing", why: "does not let a parameter match an empty segment", expect: "none" },
  { method: "DELETE", path: "/api/org/o1/ticketing//", why: "does not let an empty last segment match {id}", expect: "none" },

  // 405 with a sorted Allow list.
  { method: "PATCH", path: "/api/org/o1/ticketing/42", why: "lists the path's methods, sorted", expect: { allow: ["DELETE", "GET", "PUT"] } },
  { method: "DELETE", path: "/api/org/o1/ticketing", why: "lists GET and POST for the collection", expect: { allow: ["GET", "POST"] } },
  { method: "POST", path: "/api/org/o1/ticketing/stats", why: "lists the methods of every template that matches", expect: { allow: ["DELETE", "GET", "PUT"] } },
  { method: "get", path: "/api/org/o1/ticketing", why: "compares methods exactly (the codec upper-cases them)", expect: { allow: ["GET", "POST"] } },

  // 404 and segment counts.
  { method: "GET", path: "/api/org/o1", why: "does not match a shorter path", expect: "none" },
  { method: "GET", path: "/api/org/o1/ticketing/42/comments", why: "does not match a length no template has", expect: "none" },
  { method: "GET", path: "/api/org/o1/ticketing/42/comments/7/extra", why: "does not match a longer path", expect: "none" },
  { method: "GET", path: "/api/ORG/o1/ticketing", why: "compares literals case-sensitively", expect: "none" },
  { method: "GET", path: "/api/vdc/o1/ticketing", why: "does not match a different literal", expect: "none" },
  { method: "GET", path: "", why: "does not match an empty path", expect: "none" },
];

function describe(expect: Expect): string {
  if (expect === "none") return "none (404)";
  if ("allow" in expect) return `405 Allow ${expect.allow.join(", ")}`;
  return expect.found;
}

/** The result in the shape of the case table, so one deepEqual checks everything. */
function summarise(result: MatchResult<Routable>): Expect {
  switch (result.kind) {
    case "none":
      return "none";
    case "method":
      return { allow: result.allow };
    case "found":
      return {
        found: `${result.match.route.method} ${result.match.route.path}`,
        params: { ...result.match.params },
      };
  }
}

const router = new Router(ROUTES);

for (const c of CASES) {
  Deno.test(
    `Router.match() ${c.why}: ${c.method} ${JSON.stringify(c.path)} → ${describe(c.expect)}`,
    () => {
      assert.deepEqual(summarise(router.match(c.method, c.path)), c.expect);
    },
  );
}

Deno.test("Router.match() returns the route object itself", () => {
  const result = router.match("GET", "/api/org/o1/ticketing/42");
  assert.equal(result.kind, "found");
  assert.equal(result.kind === "found" && result.match.route, ROUTES[2]);
});

Deno.test("Router.match() keeps a {__proto__} parameter as plain data", () => {
  const r = new Router([{ method: "GET", path: "/x/{__proto__}" }]);
  const result = r.match("GET", "/x/polluted");
  assert.equal(result.kind, "found");
  const params = result.kind === "found" ? result.match.params : {};
  assert.equal(Object.getOwnPropertyDescriptor(params, "__proto__")?.value, "polluted");
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("Router.match() answers none when there are no routes", () => {
  assert.deepEqual(new Router([]).match("GET", "/api/x"), { kind: "none" });
});
