/**
 * Load-time checks that teach (issue 15, item 6): each mistake in a route is a TypeError at
 * `defineExtension()` naming the extension, the route and the fix.
 */

import assert from "node:assert/strict";
import { type AnyRoute, defineExtension } from "../lib/core/extension.ts";

const handle = () => ({});

function define(...routes: AnyRoute[]) {
  return () => defineExtension({ name: "quota", namespace: "q", routingKey: "quota", routes });
}

/** The message of the TypeError `fn` throws. */
function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TypeError, `not a TypeError: ${e}`);
    return e.message;
  }
  assert.fail("did not throw");
}

Deno.test("an :org parameter is refused with the {org} spelling to use", () => {
  const m = messageOf(define({ method: "GET", path: "/api/org/:org/quota", handle }));
  assert.match(m, /^Extension "quota": route 1 \(GET \/api\/org\/:org\/quota\)/);
  assert.match(m, /use \{org\}, not :org/);
});

Deno.test("a * in a path template is refused: there are no wildcards", () => {
  const m = messageOf(define({ method: "GET", path: "/api/org/{org}/quota/*", handle }));
  assert.match(m, /^Extension "quota": route 1 \(GET \/api\/org\/\{org\}\/quota\/\*\)/);
  assert.match(m, /\* is not allowed: there are no wildcards/);
  assert.match(messageOf(define({ method: "GET", path: "/api/**", handle })), /no wildcards/);
});

Deno.test("unbalanced braces are refused, whichever way", () => {
  for (const path of ["/api/org/{org/quota", "/api/org/org}/quota", "/api/{{org}}", "/api/{org"]) {
    const m = messageOf(define({ method: "GET", path, handle }));
    assert.match(m, /unbalanced \{ or \}: .*\{name\}/, path);
    assert.ok(m.includes(`(GET ${path})`), m);
  }
});

Deno.test("a parameter inside a segment is refused with the whole-segment form", () => {
  const m = messageOf(define({ method: "GET", path: "/api/quota-{id}", handle }));
  assert.match(m, /a \{param\} is one whole segment: write \/x\/\{id\}/);
});

Deno.test("a route without handle is refused, naming it and what to add", () => {
  const noHandle = { method: "PUT", path: "/api/org/{org}/quota" } as unknown as AnyRoute;
  const m = messageOf(define({ method: "GET", path: "/api/org/{org}/quota", handle }, noHandle));
  assert.match(
    m,
    /^Extension "quota": route 2 \(PUT \/api\/org\/\{org\}\/quota\) has no handle\(\)/,
  );
  assert.match(m, /add handle\(ctx\)/);
});

Deno.test("duplicate routes are refused, naming both and the way out", () => {
  const same = messageOf(define(
    { method: "GET", path: "/api/org/{org}/quota", handle },
    { method: "GET", path: "/api/org/{org}/quota", handle },
  ));
  assert.match(same, /declares GET \/api\/org\/\{org\}\/quota twice: routes 1 and 2 .*remove one/);
  const shape = messageOf(define(
    { method: "GET", path: "/api/org/{org}/quota", handle },
    { method: "PUT", path: "/api/org/{org}/quota", handle },
    { method: "GET", path: "/api/org/{id}/quota", handle },
  ));
  assert.match(
    shape,
    /declares GET \/api\/org\/\{id\}\/quota twice \(as GET \/api\/org\/\{org\}\/quota\): routes 1 and 3/,
  );
});

Deno.test("good templates still load, colons and literal segments included", () => {
  const ext = define(
    { method: "GET", path: "/api/org/{org}/quota", handle },
    { method: "GET", path: "/api/admin/urn:vcloud:x/{id}", handle },
    { method: "DELETE", path: "/api/org/{org}/quota/{vm_id}", handle },
  )();
  assert.equal(ext.routes.length, 3);
});
