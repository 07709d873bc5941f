import assert from "node:assert/strict";
import {
  decodeRequest,
  encodeReply,
  EnvelopeError,
  type Reply,
  type ReplyMessage,
  type VcdRequest,
} from "../lib/core/envelope.ts";
import { HttpError } from "../lib/core/errors.ts";
import {
  b64,
  envelopeBytes,
  httpElement,
  ORG,
  RIGHTS,
  SAMPLE_REPLY_BODY,
  SAMPLE_REPLY_TEXT,
  SAMPLE_REQUEST,
  SAMPLE_REQUEST_BYTES,
  securityElement,
  USER,
  utf8,
} from "./fixtures.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Decodes a request whose element 0 is the default one with `overrides`. */
function decodeWith(overrides: Record<string, unknown>): VcdRequest {
  return decodeRequest(envelopeBytes(httpElement(overrides)));
}

/** The EnvelopeError that decoding `bytes` throws. */
function decodeError(bytes: Uint8Array, limits = {}): EnvelopeError {
  try {
    decodeRequest(bytes, limits);
  } catch (e) {
    assert.ok(e instanceof EnvelopeError, `expected an EnvelopeError, got ${String(e)}`);
    return e;
  }
  assert.fail("decodeRequest() did not throw");
}

// ---------------------------------------------------------------------------------------------
// Decoding: the section 2.3 sample
// ---------------------------------------------------------------------------------------------

Deno.test("decodeRequest() decodes the wire-format sample's HTTP request", () => {
  const req = decodeRequest(SAMPLE_REQUEST_BYTES);
  assert.equal(req.id, SAMPLE_REQUEST.id);
  assert.equal(req.method, "POST");
  assert.equal(req.path, SAMPLE_REQUEST.path);
  assert.equal(req.queryString, "");
  assert.equal(req.headers.get("accept"), SAMPLE_REQUEST.accept);
  assert.equal(req.headers.get("content-type"), "application/json");
  assert.equal(req.headers.get("authorization"), SAMPLE_REQUEST.authorization);
  assert.equal(req.headers.get("user-agent"), "python-requests/2.28.1");
  assert.equal(req.headers.size, 4);
  assert.equal(text(req.body), SAMPLE_REQUEST.bodyText);
});

Deno.test("decodeRequest() decodes the wire-format sample's security context and context", () => {
  const req = decodeRequest(SAMPLE_REQUEST_BYTES);
  assert.equal(req.security.user, SAMPLE_REQUEST.user);
  assert.equal(req.security.org, SAMPLE_REQUEST.org);
  assert.deepEqual([...req.security.rights], [SAMPLE_REQUEST.right]);
  assert.equal(req.security.parameters, undefined);
  assert.deepEqual(req.context, {});
});

// ---------------------------------------------------------------------------------------------
// Decoding: element 0, field by field
// ---------------------------------------------------------------------------------------------

Deno.test("decodeRequest() echoes the id unchanged", () => {
  assert.equal(decodeWith({ id: "Ab-9f/x y" }).id, "Ab-9f/x y");
});

Deno.test("decodeRequest() accepts a numeric id as its decimal text", () => {
  assert.equal(decodeWith({ id: 42 }).id, "42");
});

Deno.test("decodeRequest() normalises the method to upper case", () => {
  assert.equal(decodeWith({ method: "post" }).method, "POST");
  assert.equal(decodeWith({ method: "Delete" }).method, "DELETE");
});

Deno.test("decodeRequest() keeps requestUri as the path", () => {
  const req = decodeWith({ requestUri: "/api/org/o1/ticketing/42" });
  assert.equal(req.path, "/api/org/o1/ticketing/42");
  assert.equal(req.queryString, "");
});

Deno.test("decodeRequest() treats queryString null as empty", () => {
  assert.equal(decodeWith({ queryString: null }).queryString, "");
});

Deno.test("decodeRequest() treats a missing queryString as empty", () => {
  const http = httpElement();
  delete http.queryString;
  assert.equal(decodeRequest(envelopeBytes(http)).queryString, "");
});

Deno.test("decodeRequest() keeps queryString raw, without a leading ?", () => {
  assert.equal(
    decodeWith({ queryString: "status=open&q=a%20b" }).queryString,
    "status=open&q=a%20b",
  );
  assert.equal(decodeWith({ queryString: "?status=open" }).queryString, "status=open");
});

Deno.test("decodeRequest() keeps a ? inside queryString", () => {
  assert.equal(decodeWith({ queryString: "next=/x?y=1" }).queryString, "next=/x?y=1");
});

Deno.test("decodeRequest() splits a query embedded in requestUri when queryString is null", () => {
  const req = decodeWith({ requestUri: "/api/org/o1/ticketing?status=open?x", queryString: null });
  assert.equal(req.path, "/api/org/o1/ticketing");
  assert.equal(req.queryString, "status=open?x");
});

Deno.test("decodeRequest() prefers queryString over a query embedded in requestUri", () => {
  const req = decodeWith({ requestUri: "/api/x?from=uri", queryString: "from=field" });
  assert.equal(req.path, "/api/x");
  assert.equal(req.queryString, "from=field");
});

Deno.test("decodeRequest() reduces a full URL in requestUri to its path and query", () => {
  const req = decodeWith({
    requestUri: "https://vcd.example.com:443/api/org/o1/ticketing?status=open#frag",
    queryString: null,
  });
  assert.equal(req.path, "/api/org/o1/ticketing");
  assert.equal(req.queryString, "status=open");
});

Deno.test("decodeRequest() reads a URL with no path as /", () => {
  assert.equal(decodeWith({ requestUri: "https://vcd.example.com" }).path, "/");
});

Deno.test("decodeRequest() headers: get() answers as the lower-cased Map would, non-ASCII names too", () => {
  // U+0130 lower-cases to two characters; Kelvin sign U+212A to ASCII "k"; "É" to "é".
  const raw = { "X-\u0130d": "1", "\u212Aey": "2", "Café": "3", "x-i\u0307d": "4", Accept: "5" };
  const req = decodeWith({ headers: raw });
  const lowered = new Map<string, string>();
  for (const [k, v] of Object.entries(raw)) {
    const key = k.toLowerCase();
    lowered.set(key, lowered.has(key) ? `${lowered.get(key)}, ${v}` : v);
  }
  for (const name of ["x-i\u0307d", "key", "café", "accept", "x-id", "Accept", "kelvin"]) {
    assert.equal(req.headers.get(name), lowered.get(name), name);
  }
  assert.deepEqual([...req.headers], [...lowered]);
});

Deno.test("decodeRequest() looks header names up case-insensitively", () => {
  const req = decodeWith({
    headers: { ACCEPT: "application/*+xml;version=36.0", "content-TYPE": "application/xml" },
  });
  assert.equal(req.headers.get("accept"), "application/*+xml;version=36.0");
  assert.equal(req.headers.get("content-type"), "application/xml");
  assert.equal(req.headers.get("ACCEPT"), undefined, "keys are stored in lower case");
});

Deno.test("decodeRequest() joins headers that differ only by case", () => {
  const req = decodeWith({ headers: { "X-Trace": "a", "x-trace": "b", "X-TRACE": "c" } });
  assert.equal(req.headers.get("x-trace"), "a, b, c");
  assert.equal(req.headers.size, 1);
});

Deno.test("decodeRequest() turns non-string header values into text", () => {
  const req = decodeWith({
    headers: { "X-Count": 5, "X-Flag": true, "X-Null": null, "X-List": ["a", "b"] },
  });
  assert.equal(req.headers.get("x-count"), "5");
  assert.equal(req.headers.get("x-flag"), "true");
  assert.equal(req.headers.get("x-null"), "");
  assert.equal(req.headers.get("x-list"), "a, b");
});

Deno.test("decodeRequest() treats headers that are not an object as none", () => {
  assert.equal(decodeWith({ headers: ["Accept: */*"] }).headers.size, 0);
  assert.equal(decodeWith({ headers: null }).headers.size, 0);
});

Deno.test("decodeRequest() decodes a base64 body to bytes", () => {
  const req = decodeWith({ body: "AAEC/f7/" });
  assert.deepEqual([...req.body], [0, 1, 2, 253, 254, 255]);
  assert.equal(text(decodeWith({ body: b64("é€😀") }).body), "é€😀");
});

Deno.test('decodeRequest() decodes body "" as an empty entity', () => {
  assert.equal(decodeWith({ body: "" }).body.byteLength, 0);
});

Deno.test("decodeRequest() decodes a null or missing body as an empty entity", () => {
  assert.equal(decodeWith({ body: null }).body.byteLength, 0);
  const http = httpElement();
  delete http.body;
  assert.equal(decodeRequest(envelopeBytes(http)).body.byteLength, 0);
});

Deno.test("decodeRequest() answers 400 for a body that is not valid base64", () => {
  const e = decodeError(envelopeBytes(httpElement({ id: "r-b64", body: "not*base64!" })));
  assert.equal(e.status, 400);
  assert.match(e.message, /request body is not valid base64/);
  assert.equal(e.requestId, "r-b64");
});

Deno.test("decodeRequest() answers 400 for a body that is not a string", () => {
  const e = decodeError(envelopeBytes(httpElement({ body: [1, 2, 3] })));
  assert.equal(e.status, 400);
  assert.match(e.message, /request body is not a base64 string/);
});

// ---------------------------------------------------------------------------------------------
// Decoding: elements 1 and 2, and tolerance
// ---------------------------------------------------------------------------------------------

Deno.test("decodeRequest() reads user, org, rights and parameters of the security context", () => {
  const req = decodeRequest(envelopeBytes(
    httpElement(),
    securityElement({
      rights: [RIGHTS.view, RIGHTS.manage, 7, null],
      parameters: { tenant: "t1", n: [1, 2] },
    }),
  ));
  assert.equal(req.security.user, USER);
  assert.equal(req.security.org, ORG.urn);
  assert.deepEqual([...req.security.rights].sort(), [RIGHTS.manage, RIGHTS.view].sort());
  assert.ok(req.security.rights.has(RIGHTS.manage));
  assert.ok(!req.security.rights.has(RIGHTS.admin));
  assert.deepEqual(req.security.parameters, { tenant: "t1", n: [1, 2] });
});

Deno.test("decodeRequest() tolerates a missing security context as an anonymous one", () => {
  const req = decodeRequest(utf8(JSON.stringify([httpElement()])));
  assert.equal(req.security.user, "");
  assert.equal(req.security.org, "");
  assert.equal(req.security.rights.size, 0);
  assert.equal(req.context, undefined);
});

Deno.test("decodeRequest() tolerates a security context of the wrong types", () => {
  const req = decodeRequest(envelopeBytes(httpElement(), { user: 1, org: [], rights: "x" }, {}));
  assert.equal(req.security.user, "");
  assert.equal(req.security.org, "");
  assert.equal(req.security.rights.size, 0);
});

Deno.test("decodeRequest() tolerates a missing context element", () => {
  const req = decodeRequest(envelopeBytes(httpElement(), securityElement()));
  assert.equal(req.context, undefined);
  assert.equal(req.security.org, ORG.urn);
});

Deno.test("decodeRequest() keeps the context element opaque", () => {
  const ctx = { trace: { span: "abc" }, list: [1] };
  assert.deepEqual(
    decodeRequest(envelopeBytes(httpElement(), securityElement(), ctx)).context,
    ctx,
  );
});

Deno.test("decodeRequest() ignores extra elements and extra fields", () => {
  const req = decodeRequest(envelopeBytes(
    httpElement({ futureField: { a: 1 }, request: "yes" }),
    securityElement({ sessionId: "s", roles: ["x"] }),
    {},
    "extra",
    42,
  ));
  assert.equal(req.id, "req-0001");
  assert.equal(req.security.user, USER);
  assert.equal(Object.hasOwn(req, "futureField"), false);
});

Deno.test("decodeRequest() drops __proto__ keys so nothing is polluted", () => {
  const raw = `[{"id":"r-proto","method":"GET","requestUri":"/api/x","__proto__":{"isAdmin":true},
    "headers":{"__proto__":{"polluted":"yes"},"Accept":"application/json"}},
    {"user":"u","__proto__":{"rights":["urn:vcloud:right:x"]},
     "parameters":{"__proto__":{"polluted":true},"k":"v"}},
    {"__proto__":{"polluted":1}}]`;
  const req = decodeRequest(utf8(raw));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  assert.deepEqual([...req.headers.keys()], ["accept"]);
  assert.equal(req.security.rights.size, 0);
  const params = req.security.parameters as Record<string, unknown>;
  assert.deepEqual(Object.keys(params), ["k"]);
  assert.equal(Object.getPrototypeOf(params), Object.prototype);
  assert.equal(params.polluted, undefined);
  assert.equal((req.context as Record<string, unknown>).polluted, undefined);
});

// ---------------------------------------------------------------------------------------------
// Decoding: malformed input
// ---------------------------------------------------------------------------------------------

Deno.test("decodeRequest() rejects a body that is not JSON with a 400 saying so", () => {
  const e = decodeError(utf8("[{oops"));
  assert.equal(e.status, 400);
  assert.equal(e.minorCode, "BAD_REQUEST");
  assert.match(e.message, /^Cannot decode request: body is not JSON/);
  assert.equal(e.requestId, "");
  assert.equal(e.accept, undefined);
  assert.ok(e instanceof HttpError);
});

Deno.test("decodeRequest() rejects an empty message", () => {
  assert.match(decodeError(new Uint8Array()).message, /body is not JSON/);
});

Deno.test("decodeRequest() rejects JSON that is not an array", () => {
  const e = decodeError(utf8(JSON.stringify(httpElement())));
  assert.equal(e.status, 400);
  assert.match(e.message, /body is not a JSON array/);
});

Deno.test("decodeRequest() rejects an element 0 that is not an object", () => {
  for (const raw of ["[]", '["GET /api/x"]', "[null]", "[[{}]]"]) {
    const e = decodeError(utf8(raw));
    assert.equal(e.status, 400, raw);
    assert.match(e.message, /element 0 \(the HTTP request\) is not an object/, raw);
  }
});

Deno.test("decodeRequest() rejects a request without id, keeping the Accept header", () => {
  const http = httpElement({ headers: { Accept: "application/*+json;version=36.0" } });
  delete http.id;
  const e = decodeError(envelopeBytes(http));
  assert.equal(e.status, 400);
  assert.match(e.message, /request has no id/);
  assert.equal(e.requestId, "");
  assert.equal(e.accept, "application/*+json;version=36.0");
});

Deno.test("decodeRequest() rejects an empty or non-string id", () => {
  assert.match(decodeError(envelopeBytes(httpElement({ id: "" }))).message, /no id/);
  assert.match(decodeError(envelopeBytes(httpElement({ id: { v: 1 } }))).message, /no id/);
});

Deno.test("decodeRequest() rejects a request without method, keeping its id and Accept", () => {
  const http = httpElement({ id: "r-nomethod", headers: { accept: "application/xml" } });
  delete http.method;
  const e = decodeError(envelopeBytes(http));
  assert.equal(e.status, 400);
  assert.match(e.message, /request has no valid method/);
  assert.equal(e.requestId, "r-nomethod");
  assert.equal(e.accept, "application/xml");
});

Deno.test("decodeRequest() rejects a method that is not a token of letters", () => {
  for (const method of ["", "GE T", "GET\r\n", 7]) {
    const e = decodeError(envelopeBytes(httpElement({ method })));
    assert.match(e.message, /no valid method/, JSON.stringify(method));
  }
});

Deno.test("decodeRequest() rejects a request without requestUri, keeping its id", () => {
  const http = httpElement({ id: "r-nouri" });
  delete http.requestUri;
  const e = decodeError(envelopeBytes(http));
  assert.equal(e.status, 400);
  assert.match(e.message, /request has no requestUri/);
  assert.equal(e.requestId, "r-nouri");
  assert.equal(e.accept, "application/*+json;version=36.0");
});

Deno.test("decodeRequest() rejects a requestUri that is not a path", () => {
  const e = decodeError(envelopeBytes(httpElement({ requestUri: "api/org/o1" })));
  assert.match(e.message, /requestUri is not a path/);
});

// ---------------------------------------------------------------------------------------------
// Decoding: size limits
// ---------------------------------------------------------------------------------------------

Deno.test("decodeRequest() answers 413 for a message over maxEnvelopeBytes", () => {
  const limit = SAMPLE_REQUEST_BYTES.byteLength - 1;
  const e = decodeError(SAMPLE_REQUEST_BYTES, { maxEnvelopeBytes: limit });
  assert.equal(e.status, 413);
  assert.equal(e.minorCode, "REQUEST_ENTITY_TOO_LARGE");
  assert.match(
    e.message,
    new RegExp(`${SAMPLE_REQUEST_BYTES.byteLength} bytes.*limit of ${limit}`),
  );
});

Deno.test("decodeRequest() accepts a message of exactly maxEnvelopeBytes", () => {
  const req = decodeRequest(SAMPLE_REQUEST_BYTES, {
    maxEnvelopeBytes: SAMPLE_REQUEST_BYTES.byteLength,
  });
  assert.equal(req.id, SAMPLE_REQUEST.id);
});

Deno.test("decodeRequest() answers 413 for an entity over maxBodyBytes, keeping the id", () => {
  const e = decodeError(SAMPLE_REQUEST_BYTES, { maxBodyBytes: 28 });
  assert.equal(e.status, 413);
  assert.equal(e.requestId, SAMPLE_REQUEST.id);
  assert.equal(e.accept, SAMPLE_REQUEST.accept);
  assert.match(e.message, /limit of 28 bytes/);
});

Deno.test("decodeRequest() accepts an entity of exactly maxBodyBytes despite base64 padding", () => {
  // The sample entity is 29 bytes; its base64 is 40 characters ending in "=".
  const req = decodeRequest(SAMPLE_REQUEST_BYTES, { maxBodyBytes: 29 });
  assert.equal(req.body.byteLength, 29);
  assert.equal(
    decodeRequest(envelopeBytes(httpElement({ body: "AA==" })), { maxBodyBytes: 1 })
      .body.byteLength,
    1,
  );
});

// ---------------------------------------------------------------------------------------------
// Encoding replies
// ---------------------------------------------------------------------------------------------

Deno.test("encodeReply() reproduces the wire-format sample reply exactly", () => {
  const bytes = encodeReply({
    id: SAMPLE_REQUEST.id,
    status: 201,
    headers: { "Content-Type": "application/json" },
    body: SAMPLE_REPLY_BODY,
  });
  const sample = JSON.parse(SAMPLE_REPLY_TEXT);
  assert.deepEqual(JSON.parse(text(bytes)), sample);
  // Same fields in the same order, nothing else.
  assert.equal(text(bytes), JSON.stringify(sample));
  assert.equal(sample.headers["Content-Length"], 26);
  assert.equal(sample.body, "eyJzdGF0dXMiOiJvayIsIml0ZW1zIjpbXX0=");
});

/** The reply message as decoded from what encodeReply() writes. */
function message(reply: Reply): ReplyMessage {
  return JSON.parse(text(encodeReply(reply)));
}

/** The reply message built as an object, the plain way: the oracle for encodeReply()'s text. */
function expectedMessage(reply: Reply): ReplyMessage {
  const headers: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(reply.headers)) {
    if (name.toLowerCase() !== "content-length") headers[name] = value;
  }
  const bytes = typeof reply.body === "string" ? new TextEncoder().encode(reply.body) : reply.body;
  headers["Content-Length"] = bytes.byteLength;
  const body = bytes.byteLength === 0 ? "" : bytes.toBase64();
  return { id: reply.id, statusCode: reply.status, headers, body, request: false };
}

Deno.test("encodeReply() writes exactly JSON.stringify of the message built as an object", () => {
  const replies = [
    { id: "r1", status: 200, headers: {}, body: "" },
    { id: 'q"uote\\', status: 404, headers: { "Content-Type": "a/b" }, body: "é€😀" },
    {
      id: "r3",
      status: 201,
      headers: { Location: "https://x/\u2028", "content-length": "99", "X-Ünï": '\n\t"' },
      body: new Uint8Array([0, 255, 10]),
    },
    { id: "r4", status: 504, headers: { "Retry-After": "1", "2": "numeric key" }, body: "{}" },
    // A handler that slips in a non-string value: kept, or left out as JSON.stringify does.
    {
      id: "r5",
      status: 200,
      headers: { "X-N": 5, "X-U": undefined } as unknown as Record<string, string>,
      body: "x",
    },
  ];
  for (const r of replies) {
    assert.equal(text(encodeReply(r)), JSON.stringify(expectedMessage(r)), `reply ${r.id}`);
  }
});

Deno.test("encodeReply() counts Content-Length in UTF-8 bytes, not characters", () => {
  const m = message({ id: "r1", status: 200, headers: {}, body: "é€😀" });
  assert.equal(m.headers["Content-Length"], 9);
  assert.equal(m.body, "w6nigqzwn5iA");
});

Deno.test('encodeReply() sends an empty body as "" with Content-Length 0', () => {
  const m = message({ id: "r1", status: 204, headers: {}, body: "" });
  assert.equal(m.body, "");
  assert.equal(m.headers["Content-Length"], 0);
  assert.equal(
    message({ id: "r1", status: 204, headers: {}, body: new Uint8Array() }).body,
    "",
  );
});

Deno.test("encodeReply() encodes a byte body as given", () => {
  const m = message({
    id: "r1",
    status: 200,
    headers: {},
    body: new Uint8Array([0, 255, 10]),
  });
  assert.equal(m.body, "AP8K");
  assert.equal(m.headers["Content-Length"], 3);
});

Deno.test("encodeReply() replaces a Content-Length given by the caller, whatever its case", () => {
  const m = message({
    id: "r1",
    status: 200,
    headers: { "content-length": "999", "Content-Length": "1", "Content-Type": "text/plain" },
    body: "hello",
  });
  assert.deepEqual(m.headers, { "Content-Type": "text/plain", "Content-Length": 5 });
});

Deno.test("encodeReply() keeps extra headers such as Location", () => {
  const m = message({
    id: "r1",
    status: 201,
    headers: { "Content-Type": "application/json", Location: "/api/x/1" },
    body: "{}",
  });
  assert.equal(m.headers.Location, "/api/x/1");
  assert.equal(m.headers["Content-Type"], "application/json");
});

Deno.test("encodeReply() marks the reply request:false with a numeric statusCode and the id", () => {
  const m = JSON.parse(text(encodeReply({ id: "r-77", status: 404, headers: {}, body: "x" })));
  assert.equal(m.request, false);
  assert.equal(m.statusCode, 404);
  assert.equal(typeof m.statusCode, "number");
  assert.equal(typeof m.headers["Content-Length"], "number");
  assert.equal(m.id, "r-77");
  assert.deepEqual(Object.keys(m), ["id", "statusCode", "headers", "body", "request"]);
});
