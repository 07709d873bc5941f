/**
 * What an error reply may echo of the request: client input cut to a short quote, never the
 * caller's own credentials (whatever the status), Content-Type parameters quoted, and lone
 * surrogates as U+FFFD in JSON and XML alike.
 */

import assert from "node:assert/strict";
import ticketing from "../handlers/ticketing.ts";
import { compile, dispatch, MAX_MESSAGE, wellFormedJson } from "../lib/core/dispatch.ts";
import type { Reply } from "../lib/core/envelope.ts";
import { HttpError } from "../lib/core/errors.ts";
import { defineExtension, route } from "../lib/core/extension.ts";
import { CLIP_MARK, QUOTE_LIMIT } from "../lib/core/redact.ts";
import { el, parseXml } from "../lib/core/xml.ts";
import { ORG, type RequestSpec, TOKENS, vcdRequest } from "./fixtures.ts";

const decoder = new TextDecoder();
const text = (r: Reply) => typeof r.body === "string" ? r.body : decoder.decode(r.body);

/** The `message` of an error reply, JSON or XML. */
function messageOf(reply: Reply): string {
  const body = text(reply);
  return body.startsWith("{") ? JSON.parse(body).message : parseXml(body).attrs.message ?? "";
}

const app = compile(defineExtension({
  name: "q",
  namespace: "q",
  routingKey: "q",
  routes: [
    route({
      method: "POST",
      path: "/api/q",
      produces: { json: (v: unknown) => v, xml: (v: string) => el("Q", {}, v) },
      consumes: { xml: (n) => n.name },
      handle: (ctx) => ({ body: ctx.body }),
    }),
    route({
      method: "GET",
      path: "/api/q/{text}",
      produces: { json: (v: unknown) => v, xml: (v: string) => el("Q", { v }, v) },
      handle: (ctx) => ({ body: decodeURIComponent(ctx.params.text) }),
    }),
    route({
      method: "GET",
      path: "/api/fail/{text}",
      handle: (ctx) => {
        throw new HttpError(400, `cannot ${decodeURIComponent(ctx.params.text)}`);
      },
    }),
  ],
}));

/** The caller's credentials, in every header that carries one. */
const CREDENTIALS = {
  "x-vcloud-authorization": TOKENS.session,
  "x-auth-token": "X-4uth-T0ken-0123456789",
  cookie: "vcloud-token=c00k1e-s3cr3t-value",
  authorization: `Bearer ${TOKENS.jwt}`,
} as const;
const VALUES = [TOKENS.session, "X-4uth-T0ken-0123456789", "c00k1e-s3cr3t-value", TOKENS.jwt];

/** The request of each status, with `input` where it quotes client input. */
const BY_STATUS: readonly [status: number, (input: string) => RequestSpec][] = [
  [400, (input) => ({
    method: "POST",
    path: "/api/q",
    body: `<${input}></b>`,
    headers: { "content-type": "application/xml" },
  })],
  [404, (input) => ({ method: "GET", path: `/api/nothing/${input}` })],
  // A malformed range is skipped, image/png is not produced: 406, quoting the whole header.
  [406, (input) => ({
    method: "GET",
    path: "/api/q/x",
    headers: { accept: `image/png, text/${input}` },
  })],
  [415, (input) => ({
    method: "POST",
    path: "/api/q",
    body: "x",
    headers: { "content-type": `text/${input}` },
  })],
];

for (const [status, make] of BY_STATUS) {
  for (const [header, value] of Object.entries(CREDENTIALS)) {
    Deno.test(`a ${status} never echoes the caller's own ${header}`, async () => {
      // As the credential alone, and straddling the cut, where a quote would keep its start.
      const inputs = [value, `${"x".repeat(QUOTE_LIMIT - 30)}-${value.replace(/\W/g, "-")}`];
      for (const input of inputs) {
        for (const accept of ["application/json", "application/xml"]) {
          const spec = make(input);
          const headers = { accept, ...spec.headers, ...CREDENTIALS };
          const { reply } = await dispatch(app, vcdRequest({ ...spec, headers }));
          assert.equal(reply.status, status, text(reply));
          const body = text(reply);
          for (const v of VALUES) {
            for (let i = 0; i + 8 <= v.length; i++) {
              assert.ok(!body.includes(v.slice(i, i + 8)), `${v.slice(i, i + 8)} in ${body}`);
            }
          }
          if (input === value && status === 404) assert.match(messageOf(reply), /\[redacted\]/);
        }
      }
    });
  }
}

Deno.test("a handler's own message is scrubbed with the caller's credentials too", async () => {
  const { reply } = await dispatch(
    app,
    vcdRequest({
      path: `/api/fail/${encodeURIComponent(TOKENS.session)}`,
      headers: { ...CREDENTIALS, accept: "application/json" },
    }),
  );
  assert.equal(messageOf(reply), "cannot [redacted]");
});

for (const [status, make] of BY_STATUS) {
  Deno.test(`a ${status} quotes at most ${QUOTE_LIMIT} characters of a 100,000-character input`, async () => {
    const input = "a-".repeat(50_000);
    const { reply } = await dispatch(app, vcdRequest(make(input)));
    assert.equal(reply.status, status);
    const message = messageOf(reply);
    assert.ok(message.length < QUOTE_LIMIT + 120, `${message.length}: ${message}`);
    assert.ok(message.includes(CLIP_MARK), message);
    assert.ok(text(reply).length < 600, `reply of ${text(reply).length} characters`);
  });
}

Deno.test("the 404 of a missing ticket quotes the id short", async () => {
  const id = "7".repeat(10_000);
  const { reply } = await dispatch(
    compile(ticketing),
    vcdRequest({
      path: `/api/org/${ORG.id}/ticketing/${id}`,
      headers: { accept: "application/json" },
    }),
  );
  assert.equal(reply.status, 404);
  assert.equal(
    messageOf(reply),
    `No ticket ${"7".repeat(QUOTE_LIMIT)}${CLIP_MARK} in this organisation`,
  );
});

Deno.test("a handler's message is cut to MAX_MESSAGE characters", async () => {
  const { reply } = await dispatch(
    app,
    vcdRequest({
      path: `/api/fail/${"b".repeat(50_000)}`,
      headers: { accept: "application/json" },
    }),
  );
  assert.equal(messageOf(reply).length, MAX_MESSAGE + CLIP_MARK.length);
});

// ---------------------------------------------------------------------------------------------
// Content-Type parameters
// ---------------------------------------------------------------------------------------------

Deno.test("an error's Content-Type quotes a version that is not a token", async () => {
  const accept = 'application/*+json;version="36.0;charset=UTF-7"';
  for (const path of ["/api/nowhere", "/api/fail/x"]) {
    const { reply } = await dispatch(app, vcdRequest({ path, headers: { accept } }));
    assert.equal(
      reply.headers["Content-Type"],
      'application/vnd.vmware.vcloud.error+json;version="36.0;charset=UTF-7"',
    );
  }
  // Nothing acceptable (406): the error still keeps the client's version, quoted.
  const { reply } = await dispatch(
    app,
    vcdRequest({ path: "/api/q/x", headers: { accept: 'image/png;version="1 \\"x\\";q=1"' } }),
  );
  assert.equal(reply.status, 406);
  assert.equal(
    reply.headers["Content-Type"],
    'application/vnd.vmware.vcloud.error+xml;version="1 \\"x\\";q=1"',
  );
});

Deno.test("a success's Content-Type quotes a version that is not a token, and keeps a token bare", async () => {
  const quoted = await dispatch(
    app,
    vcdRequest({ path: "/api/q/x", headers: { accept: 'application/json;version="1;a=b"' } }),
  );
  assert.equal(quoted.reply.headers["Content-Type"], 'application/json;version="1;a=b"');
  const bare = await dispatch(
    app,
    vcdRequest({ path: "/api/q/x", headers: { accept: "application/json;version=36.0" } }),
  );
  assert.equal(bare.reply.headers["Content-Type"], "application/json;version=36.0");
});

// ---------------------------------------------------------------------------------------------
// Lone surrogates
// ---------------------------------------------------------------------------------------------

Deno.test("JSON and XML bodies render lone surrogates as U+FFFD", async () => {
  const lone = "a\uD800b\uDC00c😀";
  const want = "a\uFFFDb\uFFFDc😀";
  for (const accept of ["application/json", "application/xml"]) {
    const { reply } = await dispatch(
      compile(defineExtension({
        name: "s",
        namespace: "s",
        routingKey: "s",
        routes: [route({
          method: "GET",
          path: "/api/s",
          produces: { json: (v: string) => ({ v }), xml: (v: string) => el("S", { v }, v) },
          handle: () => ({ body: lone }),
        })],
      })),
      vcdRequest({ path: "/api/s", headers: { accept } }),
    );
    const body = text(reply);
    assert.ok(body.isWellFormed(), body);
    assert.ok(!/\\ud[89a-f]/i.test(body), body);
    if (accept === "application/json") assert.equal(JSON.parse(body).v, want);
    else {
      const root = parseXml(body);
      assert.equal(root.text, want);
      assert.equal(root.attrs.v, want);
    }
  }
});

Deno.test("error messages render lone surrogates as U+FFFD in JSON and XML", async () => {
  for (const accept of ["application/json", "application/xml"]) {
    const { reply } = await dispatch(
      app,
      vcdRequest({ path: "/api/nowhere/\uDC00x", headers: { accept } }),
    );
    assert.equal(messageOf(reply), "No resource at /api/nowhere/\uFFFDx");
  }
});

Deno.test("wellFormedJson() replaces only escapes of lone surrogates", () => {
  const cases: [unknown, string][] = [
    ["\uD800", '"\uFFFD"'],
    ["x\uDFFFy", '"x\uFFFDy"'],
    ["\\ud800", '"\\\\ud800"'], // a backslash and text, not an escape
    ["\\\uD800", '"\\\\\uFFFD"'], // a backslash, then a lone surrogate
    ["😀", '"😀"'],
    ["\u0001", '"\\u0001"'],
    [{ "\uDBFF": ["\uDC00\uD800"] }, '{"\uFFFD":["\uFFFD\uFFFD"]}'],
  ];
  for (const [value, want] of cases) {
    assert.equal(wellFormedJson(JSON.stringify(value)), want, JSON.stringify(value));
  }
});
