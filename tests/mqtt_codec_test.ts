/**
 * The MQTT codec (wire-format document, section 12): the section 12.3/12.4 samples decode and
 * encode as the document says, the caller's `apiAccessToken` reaches handlers as its credential
 * and is scrubbed like one, the size limits hold, and 6,000 generated malformed messages go
 * through classify + decode + the ticketing endpoint with no crash, no 500, a 400 for every
 * malformed `API_REQUEST` that names a requestId and "ignore" for everything else.
 */

import assert from "node:assert/strict";
import { EnvelopeError } from "../lib/core/envelope.ts";
import { endpoint } from "../lib/core/service.ts";
import {
  classify,
  decodeApiRequest,
  encodeApiResponse,
  MQTT_CODEC,
  outerLimit,
} from "../lib/transport/mqtt/codec.ts";
import type { MqttAddress } from "../lib/transport/mqtt/service.ts";
import { MemoryTicketStore, ticketing } from "../handlers/ticketing.ts";
import { fakeJwt, ORG, prng, RIGHTS, SAMPLE_REQUEST_TEXT, USER, utf8 } from "./fixtures.ts";

const REQUEST_ID = "21c9ed76-036d-45c4-a122-ca2f623dca2a";
const API_TOKEN = fakeJwt({ sub: "alice", org: ORG.id, purpose: "apiAccessToken" });
const PATH = `/api/org/${ORG.id}/ticketing`;
const json = (v: unknown) => utf8(JSON.stringify(v));
const read = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));

/** Element 0 of the section 2.3 sample, as section 12.3 carries it (with `statusCode: 0`). */
function sampleMessage(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...JSON.parse(SAMPLE_REQUEST_TEXT)[0], statusCode: 0, ...overrides };
}

function securityContext(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    user: USER,
    org: ORG.urn,
    rights: [RIGHTS.view],
    parameters: null,
    apiAccessToken: API_TOKEN,
    ...overrides,
  };
}

/** A section 12.3 `API_REQUEST` message around `httpRequest` (given as an object or raw text). */
function apiRequest(
  inner: unknown = { message: sampleMessage(), securityContext: securityContext(), context: {} },
  outer: Record<string, unknown> = {},
): Uint8Array {
  const httpRequest = typeof inner === "string" ? inner : json(inner).toBase64();
  return json({
    type: "API_REQUEST",
    headers: {
      requestId: REQUEST_ID,
      context: { apiAccessToken: API_TOKEN, user: USER, org: ORG.urn, rights: null },
    },
    httpRequest,
    linkApiBaseUrl: "https://vcd.example.com/api",
    ...outer,
  });
}

Deno.test("mqtt codec: the section 12.3 sample decodes into the core's request", () => {
  const bytes = apiRequest();
  assert.deepEqual(classify(bytes), { kind: "request", requestId: REQUEST_ID });
  const req = decodeApiRequest(bytes);
  assert.equal(req.id, REQUEST_ID, "the reply is matched by requestId, so it is the id");
  assert.equal(req.method, "POST");
  assert.equal(req.path, PATH);
  assert.equal(req.queryString, "");
  assert.equal(req.headers.get("content-type"), "application/json");
  assert.equal(req.headers.get("accept"), "application/*+xml;version=36.0");
  assert.equal(new TextDecoder().decode(req.body), '{"ticket_msg":"disk is full"}');
  assert.equal(req.security.user, USER);
  assert.equal(req.security.org, ORG.urn);
  assert.deepEqual([...req.security.rights], [RIGHTS.view]);
  assert.deepEqual(req.context, {});
  // The sample forwards the client's own Authorization: it is kept as sent.
  assert.equal(req.headers.get("authorization"), "Bearer eyJhbGciOi…");
  assert.ok(!JSON.stringify(req.security).includes(API_TOKEN), "the token is not in security");
});

Deno.test("mqtt codec: apiAccessToken reaches the handler as the caller's Authorization", () => {
  const { Authorization: _, ...headers } = sampleMessage().headers as Record<string, string>;
  const req = decodeApiRequest(
    apiRequest({ message: sampleMessage({ headers }), securityContext: securityContext() }),
  );
  assert.equal(req.headers.get("authorization"), `Bearer ${API_TOKEN}`);
  // Without a securityContext the message's headers.context stands in, token included.
  const fallback = decodeApiRequest(apiRequest({ message: sampleMessage({ headers }) }));
  assert.equal(fallback.headers.get("authorization"), `Bearer ${API_TOKEN}`);
  assert.equal(fallback.security.org, ORG.urn);
  assert.equal(fallback.security.rights.size, 0, "rights null: no rights");
});

Deno.test("mqtt codec: the token is scrubbed from error replies like a forwarded credential", async () => {
  const ep = endpoint(ticketing(new MemoryTicketStore()), { codec: MQTT_CODEC });
  const message = sampleMessage({
    method: "GET",
    requestUri: `${PATH}/${API_TOKEN}`,
    headers: { Accept: "application/json" },
    body: "",
  });
  const d = await ep.handle<MqttAddress>({
    content: apiRequest({ message, securityContext: securityContext() }),
    reply: { to: { topic: "t", requestId: REQUEST_ID } },
    headers: {},
  });
  assert.equal(d.kind, "reply");
  const text = new TextDecoder().decode(d.kind === "reply" ? d.body : new Uint8Array());
  const body = atob(JSON.parse(text).httpResponse.body);
  assert.equal(JSON.parse(text).httpResponse.statusCode, 404);
  assert.ok(!body.includes(API_TOKEN) && !body.includes(API_TOKEN.split(".")[2]!), body);
});

Deno.test("mqtt codec: API_RESPONSE as section 12.4, Content-Length in UTF-8 bytes", () => {
  const body = JSON.stringify({ id: "7", message: "disque plein ✓" });
  const m = read(encodeApiResponse({
    id: REQUEST_ID,
    status: 201,
    headers: {
      "Content-Type": "application/vnd.example.ticket+json;version=36.0",
      "content-length": "1",
      Location: `${PATH}/7`,
    },
    body,
  }));
  assert.deepEqual(m, {
    type: "API_RESPONSE",
    headers: { requestId: REQUEST_ID },
    httpResponse: {
      statusCode: 201,
      headers: {
        "Content-Type": "application/vnd.example.ticket+json;version=36.0",
        Location: `${PATH}/7`,
        "Content-Length": utf8(body).byteLength,
      },
      body: utf8(body).toBase64(),
    },
  });
  assert.notEqual(utf8(body).byteLength, body.length, "the sample has multi-byte characters");
  const empty = read(encodeApiResponse({ id: "r", status: 204, headers: {}, body: "" }));
  assert.deepEqual(empty.httpResponse, {
    statusCode: 204,
    headers: { "Content-Length": 0 },
    body: "",
  });
});

Deno.test("mqtt codec: what is no API_REQUEST naming a requestId is ignored", () => {
  const cases: [Uint8Array, RegExp][] = [
    [utf8("not json"), /not JSON/],
    [utf8("[1,2]"), /not a JSON object/],
    [json({ type: "BEHAVIOR_INVOCATION", headers: { taskId: "t" } }), /BEHAVIOR_INVOCATION/],
    [json({ headers: { requestId: "r" } }), /no type/],
    [json({ type: "API_REQUEST", headers: {} }), /requestId/],
    [json({ type: "API_REQUEST", headers: { requestId: "" } }), /requestId/],
    [json({ type: "API_REQUEST", headers: { requestId: "x".repeat(300) } }), /requestId/],
    [json({ type: "API_REQUEST" }), /requestId/],
  ];
  for (const [bytes, why] of cases) {
    const c = classify(bytes);
    assert.equal(c.kind, "ignore");
    assert.match(c.kind === "ignore" ? c.why : "", why);
    // decode agrees: nothing to reply to.
    assert.throws(
      () => decodeApiRequest(bytes),
      (e) => e instanceof EnvelopeError && e.requestId === "",
    );
  }
});

Deno.test("mqtt codec: a malformed API_REQUEST with a requestId throws 400 carrying it", () => {
  const cases: Uint8Array[] = [
    apiRequest("!!!not base64!!!"),
    apiRequest(utf8("not json").toBase64()),
    apiRequest(json([1]).toBase64()),
    apiRequest({ message: "nope" }),
    apiRequest({ message: sampleMessage({ method: 42 }) }),
    apiRequest({ message: sampleMessage({ requestUri: "" }) }),
    apiRequest({ message: sampleMessage({ body: "%%%" }) }),
    apiRequest("", {}),
    json({ type: "API_REQUEST", headers: { requestId: REQUEST_ID }, httpRequest: 7 }),
  ];
  for (const bytes of cases) {
    assert.equal(classify(bytes).kind, "request");
    assert.throws(
      () => decodeApiRequest(bytes),
      (e) => e instanceof EnvelopeError && e.status === 400 && e.requestId === REQUEST_ID,
    );
  }
});

Deno.test("mqtt codec: size limits answer 413 with the requestId, before decoding", () => {
  const big = sampleMessage({ body: utf8("x".repeat(80_000)).toBase64() });
  const bytes = apiRequest({ message: big, securityContext: securityContext() });
  const is413 = (e: unknown) =>
    e instanceof EnvelopeError && e.status === 413 && e.requestId === REQUEST_ID;
  assert.throws(() => decodeApiRequest(bytes, { maxBodyBytes: 79_999 }), is413);
  assert.equal(decodeApiRequest(bytes, { maxBodyBytes: 80_000 }).body.byteLength, 80_000);
  assert.throws(() => decodeApiRequest(bytes, { maxEnvelopeBytes: 60_000 }), is413);
  // Far over: not parsed at all, yet the requestId is found for the 413.
  const limits = { maxEnvelopeBytes: 100 };
  assert.ok(bytes.byteLength > outerLimit(limits));
  assert.deepEqual(classify(bytes, limits), { kind: "request", requestId: REQUEST_ID });
  assert.throws(() => decodeApiRequest(bytes, limits), is413);
  const anonymous = json({ type: "EVENT", pad: "y".repeat(70_000) });
  assert.equal(classify(anonymous, limits).kind, "ignore");
});

/** One generated malformed message, and whether it must be a 400 when it names a requestId. */
function generate(rand: () => number, n: number): { bytes: Uint8Array; malformed: boolean } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const junk = () =>
    pick<unknown>([null, 0, -1, 1e309, "", "x", [], {}, [1, "a"], { a: 1 }, true, "%%", "🎫"]);
  const message = sampleMessage({ id: `m${n}`, headers: { Accept: "application/json" } });
  const inner: Record<string, unknown> = {
    message,
    securityContext: securityContext(),
    context: {},
  };
  switch (n % 12) {
    case 0: { // random bytes
      const b = new Uint8Array(Math.floor(rand() * 200));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
      return { bytes: b, malformed: true };
    }
    case 1: { // a valid message cut short
      const b = apiRequest(inner);
      return { bytes: b.slice(0, Math.floor(rand() * b.length)), malformed: true };
    }
    case 2: { // bytes flipped in a valid message
      const b = apiRequest(inner).slice();
      for (let i = 0; i < 1 + rand() * 4; i++) {
        b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      }
      return { bytes: b, malformed: false };
    }
    case 3: // httpRequest of junk type
      return { bytes: apiRequest("", { httpRequest: junk() }), malformed: true };
    case 4: { // httpRequest base64 of random bytes
      const b = new Uint8Array(Math.floor(rand() * 100) + 1);
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
      return { bytes: apiRequest(b.toBase64()), malformed: true };
    }
    case 5: // inner not an object, or no message
      return {
        bytes: apiRequest(pick<unknown>([[], "s", 1, null, { context: {} }])),
        malformed: true,
      };
    case 6: { // a message field of the wrong type (method, requestUri or body)
      const field = pick(["method", "requestUri", "body"]);
      const value = pick<unknown>([null, 42, [], {}, "", "%%%", "GET POST"]);
      if (field === "requestUri" && typeof value === "string" && value === "%%%") break;
      return {
        bytes: apiRequest({ ...inner, message: { ...message, [field]: value } }),
        // A body of null or "" is no body; "GET POST" is loose base64 of some bytes.
        malformed: field !== "body" || !(value === null || value === "" || value === "GET POST"),
      };
    }
    case 7: // junk headers, security context, context: still a request
      return {
        bytes: apiRequest({
          message: { ...message, headers: junk() },
          securityContext: pick<unknown>([
            junk(),
            securityContext({ rights: junk(), apiAccessToken: junk() }),
          ]),
          context: junk(),
        }),
        malformed: false,
      };
    case 8: // other types and shapes: ignored
      return {
        bytes: json(pick<unknown>([
          {
            type: pick(["EVENT", "BEHAVIOR_INVOCATION", "api_request", 1, null]),
            headers: { requestId: "r" },
          },
          { type: "API_REQUEST", headers: pick<unknown>([null, [], "r", { requestId: junk() }]) },
          junk(),
        ])),
        malformed: true,
      };
    case 9: // hostile JSON
      return {
        bytes: pick([
          utf8(`{"type":"API_REQUEST","headers":{"requestId":"r${n}"},"__proto__":{"x":1}}`),
          utf8(`${"[".repeat(5_000)}${"]".repeat(5_000)}`),
          apiRequest(utf8(`{"message":${"[".repeat(5_000)}${"]".repeat(5_000)}}`).toBase64()),
          apiRequest({ ...inner, message: { ...message, __proto__: { method: "DELETE" } } }),
        ]),
        malformed: true,
      };
    case 10: // oversized
      return {
        bytes: apiRequest({ ...inner, message: { ...message, body: "A".repeat(40_000) } }),
        malformed: true,
      };
  }
  // case 11 and leftovers: a valid request of a random method and path
  return {
    bytes: apiRequest({
      ...inner,
      message: {
        ...message,
        method: pick(["GET", "POST", "PUT", "DELETE", "PATCH"]),
        requestUri: pick([PATH, `${PATH}/1`, "/api/other", `${PATH}/%ZZ`]),
      },
    }),
    malformed: false,
  };
}

Deno.test("mqtt codec: 6,000 malformed messages: no crash, no 500, 400 or ignored", async () => {
  const ep = endpoint(ticketing(new MemoryTicketStore()), {
    codec: MQTT_CODEC,
    maxEnvelopeBytes: 16_384,
    maxBodyBytes: 8_192,
  });
  const limits = { maxEnvelopeBytes: 16_384 };
  const rand = prng(0x5eed13);
  const counts = { ignored: 0, status400: 0, status413: 0, other: 0 };
  for (let n = 0; n < 6_000; n++) {
    const { bytes, malformed } = generate(rand, n);
    const c = classify(bytes, limits);
    if (c.kind === "ignore") {
      counts.ignored++;
      assert.throws(() => decodeApiRequest(bytes, limits), EnvelopeError, `#${n}`);
      continue;
    }
    const d = await ep.handle<MqttAddress>({
      content: bytes,
      reply: { to: { topic: "t", requestId: c.requestId } },
      headers: {},
    });
    assert.equal(d.kind, "reply", `#${n}`);
    if (d.kind !== "reply") continue;
    const m = read(d.body);
    assert.equal(m.type, "API_RESPONSE");
    assert.equal(m.headers.requestId, c.requestId, `#${n}: the reply names the request`);
    const status = m.httpResponse.statusCode;
    assert.ok(
      status < 500,
      `#${n}: ${status} for ${new TextDecoder().decode(bytes).slice(0, 300)}`,
    );
    if (status === 400) counts.status400++;
    else if (status === 413) counts.status413++;
    else {
      counts.other++;
      assert.ok(!malformed, `#${n}: a malformed request got ${status}`);
    }
  }
  assert.ok(
    counts.ignored > 500 && counts.status400 > 1_000 && counts.status413 > 300,
    JSON.stringify(counts),
  );
});
