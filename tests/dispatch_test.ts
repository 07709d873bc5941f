import assert from "node:assert/strict";
import {
  compile,
  dispatch,
  ERROR_BASE,
  errorReply,
  undecodableReply,
} from "../lib/core/dispatch.ts";
import { EnvelopeError, type Reply } from "../lib/core/envelope.ts";
import { HttpError } from "../lib/core/errors.ts";
import { defineExtension, representation, route } from "../lib/core/extension.ts";
import { childText, el, type XmlNode } from "../lib/core/xml.ts";
import { AUTH_HEADERS, leaksCredential, RIGHTS, security, TOKENS, vcdRequest } from "./fixtures.ts";

const XML_PROLOG = '<?xml version="1.0" encoding="UTF-8"?>';
const VCLOUD_NS = "http://www.vmware.com/vcloud/v1.5";
const XML_36 = "application/*+xml;version=36.0";
const JSON_36 = "application/*+json;version=36.0";

interface Thing {
  readonly id: string;
  readonly name: string;
}

const thingType = representation<Thing>({
  base: "application/vnd.example.thing",
  json: (t) => ({ id: t.id, name: t.name }),
  xml: (t) =>
    el(
      "Thing",
      { xmlns: "urn:example:things", "xmlns:ext": "urn:example:ext", id: t.id, label: t.name },
      el("Name", {}, t.name),
      el("ext:Note", {}, "a & b"),
    ),
});

const thingInput = {
  json(value: unknown): { name: string } {
    const name = (value as { name?: unknown } | null)?.name;
    if (typeof name !== "string") throw new HttpError(400, "name must be a string");
    return { name };
  },
  xml(root: XmlNode): { name: string } {
    return { name: childText(root, "Name") ?? "" };
  },
};

/** Calls of the rights-protected handler. */
let securedCalls = 0;

const app = compile(defineExtension({
  name: "things",
  namespace: "com.example.things",
  routingKey: "things",
  routes: [
    route({
      method: "GET",
      path: "/api/things/{id}",
      produces: thingType,
      handle: (c) => ({ body: { id: c.params.id, name: `Tom & "Jerry" <'x'>` } }),
    }),
    route({
      method: "DELETE",
      path: "/api/things/{id}",
      produces: thingType,
      handle: () => ({}),
    }),
    route({
      method: "POST",
      path: "/api/things",
      produces: thingType,
      consumes: thingInput,
      handle: (c) => ({
        status: 201,
        body: { id: "7", name: c.body.name },
        headers: { Location: "https://vcd.example.com/api/things/7" },
      }),
    }),
    route({
      method: "PUT",
      path: "/api/things/{id}/note",
      consumes: { ...thingInput, optional: true },
      handle: (c) => ({ body: { got: c.body ?? null } }),
    }),
    route({
      method: "GET",
      path: "/api/plain",
      handle: (c) => ({ body: { query: c.query.get("q"), list: [1, "two"] } }),
    }),
    route({
      method: "GET",
      path: "/api/json-only",
      produces: { base: "application/vnd.example.stat", json: (n: number) => ({ n }) },
      handle: () => ({ body: 1 }),
    }),
    route({
      method: "GET",
      path: "/api/fail/plain",
      handle: (c) => {
        throw new Error(
          `upstream call with ${c.request.headers.get("authorization")} failed at db.ts:42`,
        );
      },
    }),
    route({
      method: "GET",
      path: "/api/fail/http",
      handle: (c) => {
        const token = c.request.headers.get("x-vcloud-authorization");
        throw new HttpError(409, `session ${token} conflicts with Bearer ${TOKENS.jwt}`, {
          headers: { "Retry-After": "3" },
        });
      },
    }),
    route({
      method: "GET",
      path: "/api/fail/minor",
      handle: () => {
        throw new HttpError(400, "quota reached", { minorCode: "QUOTA_EXCEEDED" });
      },
    }),
    route({
      method: "GET",
      path: "/api/fail/status",
      handle: () => ({ status: 42, body: { x: 1 } }),
    }),
    route({
      method: "GET",
      path: "/api/fail/render",
      produces: representation<number>({
        json: () => {
          throw new RangeError("renderer exploded");
        },
      }),
      handle: () => ({ body: 1 }),
    }),
    route({
      method: "GET",
      path: "/api/fail/async",
      handle: () => Promise.reject(new TypeError("boom")),
    }),
    route({
      method: "GET",
      path: "/api/secure",
      rights: [RIGHTS.view, RIGHTS.manage],
      handle: () => {
        securedCalls++;
        return { body: { ok: true } };
      },
    }),
  ],
}));

const text = (reply: Reply) =>
  typeof reply.body === "string" ? reply.body : new TextDecoder().decode(reply.body);

/** Dispatches a request built from `spec` and returns the reply. */
async function call(spec: Parameters<typeof vcdRequest>[0]): Promise<Reply> {
  return (await dispatch(app, vcdRequest(spec))).reply;
}

/** Asserts a JSON vCloud Error document and returns its message. */
function jsonError(reply: Reply, status: number, minor: string): string {
  assert.equal(reply.status, status);
  assert.match(reply.headers["Content-Type"] ?? "", new RegExp(`^${ERROR_BASE}\\+json`));
  const doc = JSON.parse(text(reply));
  assert.deepEqual(Object.keys(doc), ["majorErrorCode", "minorErrorCode", "message"]);
  assert.equal(doc.majorErrorCode, status);
  assert.equal(doc.minorErrorCode, minor);
  return doc.message;
}

// ---------------------------------------------------------------------------------------------
// Rendering through representations
// ---------------------------------------------------------------------------------------------

Deno.test("dispatch() renders XML for application/*+xml with the vendor type and version", async () => {
  const reply = await call({ path: "/api/things/5", headers: { Accept: XML_36 } });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers["Content-Type"], "application/vnd.example.thing+xml;version=36.0");
  assert.equal(
    text(reply),
    XML_PROLOG +
      '<Thing xmlns="urn:example:things" xmlns:ext="urn:example:ext" id="5"' +
      ' label="Tom &amp; &quot;Jerry&quot; &lt;&apos;x&apos;&gt;">' +
      "<Name>Tom &amp; &quot;Jerry&quot; &lt;&apos;x&apos;&gt;</Name>" +
      "<ext:Note>a &amp; b</ext:Note></Thing>",
  );
});

Deno.test("dispatch() renders JSON for application/*+json with the vendor type and version", async () => {
  const reply = await call({ path: "/api/things/5", headers: { Accept: JSON_36 } });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers["Content-Type"], "application/vnd.example.thing+json;version=36.0");
  assert.deepEqual(JSON.parse(text(reply)), { id: "5", name: `Tom & "Jerry" <'x'>` });
});

Deno.test("dispatch() renders the route's first format when Accept is missing", async () => {
  const reply = await call({ path: "/api/things/5" });
  assert.equal(reply.headers["Content-Type"], "application/vnd.example.thing+xml");
  assert.ok(text(reply).startsWith(`${XML_PROLOG}<Thing `));
});

Deno.test("dispatch() keeps a concrete Accept type as the Content-Type", async () => {
  const reply = await call({ path: "/api/things/5", headers: { Accept: "application/json" } });
  assert.equal(reply.headers["Content-Type"], "application/json");
  assert.equal(JSON.parse(text(reply)).id, "5");
});

Deno.test("dispatch() renders a route without produces as plain JSON whatever the Accept", async () => {
  const reply = await call({ path: "/api/plain?q=a%20b", headers: { Accept: XML_36 } });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers["Content-Type"], "application/json");
  assert.equal(text(reply), '{"query":"a b","list":[1,"two"]}');
});

Deno.test("dispatch() defaults the status to 204 with an empty body when there is no body", async () => {
  const reply = await call({
    method: "DELETE",
    path: "/api/things/5",
    headers: { Accept: XML_36 },
  });
  assert.equal(reply.status, 204);
  assert.equal(text(reply), "");
});

Deno.test("dispatch() merges handler headers such as Location and keeps its status", async () => {
  const reply = await call({
    method: "POST",
    path: "/api/things",
    headers: { Accept: JSON_36, "Content-Type": "application/json" },
    body: '{"name":"kettle"}',
  });
  assert.equal(reply.status, 201);
  assert.deepEqual(reply.headers, {
    "Content-Type": "application/vnd.example.thing+json;version=36.0",
    Location: "https://vcd.example.com/api/things/7",
  });
  assert.deepEqual(JSON.parse(text(reply)), { id: "7", name: "kettle" });
});

Deno.test("dispatch() decodes an XML body under a vendor Content-Type", async () => {
  const reply = await call({
    method: "POST",
    path: "/api/things",
    headers: { Accept: JSON_36, "Content-Type": "application/vnd.example.thing+xml;version=36.0" },
    body: "<Thing><Name>tea &amp; cake</Name></Thing>",
  });
  assert.equal(reply.status, 201);
  assert.equal(JSON.parse(text(reply)).name, "tea & cake");
});

Deno.test("dispatch() passes undefined for an empty optional body", async () => {
  const reply = await call({ method: "PUT", path: "/api/things/1/note" });
  assert.equal(reply.status, 200);
  assert.equal(text(reply), '{"got":null}');
});

// ---------------------------------------------------------------------------------------------
// Error documents
// ---------------------------------------------------------------------------------------------

Deno.test("dispatch() answers an unknown path 404 with an XML Error document", async () => {
  const reply = await call({ path: "/api/nowhere", headers: { Accept: XML_36 } });
  assert.equal(reply.status, 404);
  assert.equal(reply.headers["Content-Type"], `${ERROR_BASE}+xml;version=36.0`);
  assert.equal(
    text(reply),
    `${XML_PROLOG}<Error xmlns="${VCLOUD_NS}" majorErrorCode="404" minorErrorCode="NOT_FOUND"` +
      ' message="No resource at /api/nowhere"/>',
  );
});

Deno.test("dispatch() answers an unknown path 404 with a JSON Error document", async () => {
  const reply = await call({ path: "/api/nowhere", headers: { Accept: JSON_36 } });
  assert.equal(reply.headers["Content-Type"], `${ERROR_BASE}+json;version=36.0`);
  assert.equal(jsonError(reply, 404, "NOT_FOUND"), "No resource at /api/nowhere");
});

Deno.test("dispatch() escapes the Error message in XML attributes", async () => {
  const reply = await call({ path: `/api/a&b<c>"d"'e`, headers: { Accept: XML_36 } });
  assert.match(
    text(reply),
    / message="No resource at \/api\/a&amp;b&lt;c&gt;&quot;d&quot;&apos;e"\/>$/,
  );
});

Deno.test("dispatch() answers a wrong method 405 with a sorted Allow header", async () => {
  const reply = await call({
    method: "PATCH",
    path: "/api/things/5",
    headers: { Accept: JSON_36 },
  });
  assert.equal(reply.headers.Allow, "DELETE, GET");
  assert.equal(
    jsonError(reply, 405, "METHOD_NOT_ALLOWED"),
    "PATCH is not allowed here; use DELETE, GET",
  );
});

Deno.test("dispatch() answers 406 in the route's format when nothing acceptable is produced", async () => {
  const reply = await call({ path: "/api/json-only", headers: { Accept: XML_36 } });
  assert.equal(reply.headers["Content-Type"], `${ERROR_BASE}+json;version=36.0`);
  assert.match(jsonError(reply, 406, "NOT_ACCEPTABLE"), /this returns JSON/);
});

Deno.test("dispatch() answers 406 in XML when the client asks for XML", async () => {
  const reply = await call({
    path: "/api/things/5",
    headers: { Accept: "image/png, application/xml;q=0" },
  });
  assert.equal(reply.status, 406);
  assert.equal(reply.headers["Content-Type"], `${ERROR_BASE}+xml`);
  assert.match(text(reply), /majorErrorCode="406" minorErrorCode="NOT_ACCEPTABLE"/);
});

Deno.test("dispatch() answers 415 for an unsupported Content-Type", async () => {
  const reply = await call({
    method: "POST",
    path: "/api/things",
    headers: { Accept: JSON_36, "Content-Type": "text/plain" },
    body: "name=kettle",
  });
  assert.match(
    jsonError(reply, 415, "UNSUPPORTED_MEDIA_TYPE"),
    /"text\/plain" is not supported here; send XML or JSON$/,
  );
});

Deno.test("dispatch() answers 400 for a body that is not valid JSON", async () => {
  const reply = await call({
    method: "POST",
    path: "/api/things",
    headers: { Accept: JSON_36, "Content-Type": "application/json" },
    body: '{"name":',
  });
  assert.equal(jsonError(reply, 400, "BAD_REQUEST"), "The request body is not valid JSON");
});

Deno.test("dispatch() answers 400 for a body that is not valid XML", async () => {
  const reply = await call({
    method: "POST",
    path: "/api/things",
    headers: { Accept: JSON_36, "Content-Type": "application/xml" },
    body: "<Thing><Name>x</Thing>",
  });
  assert.match(jsonError(reply, 400, "BAD_REQUEST"), /^Cannot parse XML: /);
});

Deno.test("dispatch() answers 400 for an empty body where one is required", async () => {
  const reply = await call({
    method: "POST",
    path: "/api/things",
    headers: { Accept: JSON_36, "Content-Type": "application/json" },
  });
  assert.equal(jsonError(reply, 400, "BAD_REQUEST"), "The request body is required");
});

Deno.test("dispatch() answers a decoder's HttpError with its status", async () => {
  const reply = await call({
    method: "POST",
    path: "/api/things",
    headers: { Accept: JSON_36, "Content-Type": "application/json" },
    body: '{"name":5}',
  });
  assert.equal(jsonError(reply, 400, "BAD_REQUEST"), "name must be a string");
});

Deno.test("dispatch() answers a handler's HttpError with its status, minor code and headers", async () => {
  const reply = await call({ path: "/api/fail/minor", headers: { Accept: XML_36 } });
  assert.equal(reply.status, 400);
  assert.equal(
    text(reply),
    `${XML_PROLOG}<Error xmlns="${VCLOUD_NS}" majorErrorCode="400" minorErrorCode="QUOTA_EXCEEDED"` +
      ' message="quota reached"/>',
  );
  const conflict = await call({ path: "/api/fail/http", headers: { Accept: JSON_36 } });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.headers["Retry-After"], "3");
});

// ---------------------------------------------------------------------------------------------
// Credentials and internals never reach the client
// ---------------------------------------------------------------------------------------------

Deno.test("dispatch() answers a plain Error 500 without internals or the caller's token", async () => {
  const outcome = await dispatch(
    app,
    vcdRequest({ path: "/api/fail/plain", headers: { Accept: JSON_36, ...AUTH_HEADERS } }),
  );
  const body = text(outcome.reply);
  assert.equal(
    jsonError(outcome.reply, 500, "INTERNAL_SERVER_ERROR"),
    "The extension failed to handle the request",
  );
  assert.equal(leaksCredential(body), false);
  assert.doesNotMatch(body, /db\.ts|upstream|Error:/);
  // The original error is kept for the log only.
  assert.ok(outcome.error instanceof Error);
  assert.equal(outcome.route, "GET /api/fail/plain");
});

Deno.test("dispatch() scrubs the caller's tokens from an HttpError message", async () => {
  const reply = await call({
    path: "/api/fail/http",
    headers: { Accept: XML_36, ...AUTH_HEADERS },
  });
  const body = text(reply);
  assert.equal(reply.status, 409);
  assert.equal(leaksCredential(body), false);
  assert.match(body, /message="session \[redacted\] conflicts with \[redacted\]"/);
});

Deno.test("dispatch() answers 500 when a representation throws", async () => {
  const outcome = await dispatch(app, vcdRequest({ path: "/api/fail/render" }));
  assert.equal(outcome.reply.status, 500);
  assert.ok(outcome.error instanceof RangeError);
  assert.doesNotMatch(text(outcome.reply), /exploded/);
});

Deno.test("dispatch() answers 500 when a handler rejects", async () => {
  const outcome = await dispatch(app, vcdRequest({ path: "/api/fail/async" }));
  assert.equal(outcome.reply.status, 500);
  assert.ok(outcome.error instanceof TypeError);
});

Deno.test("dispatch() answers 500 for a handler status outside 100-599", async () => {
  const outcome = await dispatch(
    app,
    vcdRequest({ path: "/api/fail/status", headers: { Accept: JSON_36 } }),
  );
  jsonError(outcome.reply, 500, "INTERNAL_SERVER_ERROR");
  assert.match(String(outcome.error), /invalid status 42/);
});

// ---------------------------------------------------------------------------------------------
// Rights
// ---------------------------------------------------------------------------------------------

Deno.test("dispatch() runs the handler when the caller holds every declared right", async () => {
  const before = securedCalls;
  const reply = await call({
    path: "/api/secure",
    security: security([RIGHTS.view, RIGHTS.manage, RIGHTS.admin]),
  });
  assert.equal(reply.status, 200);
  assert.equal(securedCalls, before + 1);
});

Deno.test("dispatch() answers 403 and never calls the handler when one right is missing", async () => {
  const before = securedCalls;
  for (const rights of [[RIGHTS.view], [RIGHTS.manage], []]) {
    const reply = await call({
      path: "/api/secure",
      headers: { Accept: JSON_36 },
      security: security(rights),
    });
    jsonError(reply, 403, "ACCESS_TO_RESOURCE_IS_FORBIDDEN");
  }
  assert.equal(securedCalls, before);
});

// ---------------------------------------------------------------------------------------------
// errorReply() and undecodableReply()
// ---------------------------------------------------------------------------------------------

Deno.test("errorReply() answers in the route's default format when the client accepts neither", () => {
  const reply = errorReply("r1", "image/png", new HttpError(404, "gone"), ["json", "xml"]);
  assert.equal(reply.headers["Content-Type"], `${ERROR_BASE}+json`);
  assert.equal(reply.id, "r1");
});

Deno.test("errorReply() keeps the version of an unacceptable Accept and follows its suffix", () => {
  const reply = errorReply(
    "r1",
    "application/vnd.vmware.vcloud.task+xml;version=37.1",
    new HttpError(500, "x"),
    ["json", "xml"],
  );
  assert.equal(reply.headers["Content-Type"], `${ERROR_BASE}+xml;version=37.1`);
});

Deno.test("undecodableReply() echoes the id and answers in the client's format", () => {
  const error = new EnvelopeError("request has no valid method", {
    requestId: "r9",
    accept: JSON_36,
  });
  const reply = undecodableReply(error);
  assert.equal(reply.id, "r9");
  assert.equal(
    jsonError(reply, 400, "BAD_REQUEST"),
    "Cannot decode request: request has no valid method",
  );
});
