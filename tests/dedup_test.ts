/**
 * Which repeated deliveries `endpoint()` answers without running the handler: only the same
 * caller's same message bytes. A reused id from another caller, or with other content, is
 * handled on its own; a request with no security context is refused 403 before any handler.
 */

import assert from "node:assert/strict";
import { decodeReply } from "../lib/sim/cell.ts";
import { defineExtension, type HandlerResult, route } from "../lib/core/extension.ts";
import { type Decision, type Delivery, endpoint, type ReplyDecision } from "../lib/core/service.ts";
import {
  type AmqpAddress,
  amqpDelivery,
  type AmqpMessageParts,
} from "../lib/transport/amqp/delivery.ts";

import { envelopeBytes, httpElement, ORG, OTHER_ORG, securityElement, utf8 } from "./fixtures.ts";

const USER_B = "urn:vcloud:user:0b0b0b0b-0000-4000-8000-000000000000";

/** Answers with the caller's org and user after `hold` opens; counts the calls. */
function whoAmI(hold: () => Promise<void>, calls: { n: number }, size = 0) {
  return defineExtension({
    name: "who",
    namespace: "com.example.who",
    routingKey: "who",
    routes: (["GET", "POST"] as const).map((method) =>
      route({
        method,
        path: "/api/who",
        async handle(ctx): Promise<HandlerResult<unknown>> {
          calls.n++;
          await hold();
          return {
            status: method === "POST" ? 201 : 200,
            body: { org: ctx.security.org, user: ctx.security.user, pad: "p".repeat(size) },
          };
        },
      })
    ),
  });
}

function delivery(
  id: string,
  security: Record<string, unknown> | undefined,
  extra: Partial<AmqpMessageParts> & { method?: string } = {},
): Delivery<AmqpAddress> {
  const http = httpElement({
    id,
    method: extra.method ?? "GET",
    requestUri: "/api/who",
    headers: { Accept: "application/json" },
  });
  return amqpDelivery({
    // Without a security context: the envelope is `[request]` alone.
    content: security === undefined
      ? utf8(JSON.stringify([http]))
      : envelopeBytes(http, securityElement(security), {}),
    correlationId: `c-${id}-${crypto.randomUUID()}`,
    replyTo: "reply.q",
    headers: { replyToExchange: "vcd.replies" },
    ...extra,
  });
}

function reply(d: Decision<AmqpAddress>): ReplyDecision<AmqpAddress> {
  assert.equal(d.kind, "reply");
  return d as ReplyDecision<AmqpAddress>;
}

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const AS_A = { org: ORG.urn };
const AS_B = { org: OTHER_ORG.urn, user: USER_B };

Deno.test("two orgs sending the same id at once each get their own reply", async () => {
  const held = gate();
  const calls = { n: 0 };
  const ep = endpoint(whoAmI(() => held.promise, calls));
  const a = ep.handle(delivery("shared-id", AS_A));
  const b = ep.handle(delivery("shared-id", AS_B));
  // Also when the second one comes flagged as a redelivery.
  const c = ep.handle(delivery("shared-id", AS_B, { redelivered: true }));
  held.open();
  const [ra, rb, rc] = [reply(await a), reply(await b), reply(await c)];
  assert.equal(calls.n, 3, "each request ran its own handler");
  assert.equal(JSON.parse(decodeReply(ra.body).text).org, ORG.urn);
  for (const r of [rb, rc]) {
    assert.equal(r.shortcut, undefined);
    const body = JSON.parse(decodeReply(r.body).text);
    assert.equal(body.org, OTHER_ORG.urn);
    assert.equal(body.user, USER_B);
  }
});

Deno.test("a reused id with other content (same caller) is handled on its own", async () => {
  const held = gate();
  const calls = { n: 0 };
  const ep = endpoint(whoAmI(() => held.promise, calls));
  const get = ep.handle(delivery("same", AS_A));
  const post = ep.handle(delivery("same", AS_A, { method: "POST" }));
  held.open();
  assert.equal(decodeReply(reply(await get).body).status, 200);
  assert.equal(decodeReply(reply(await post).body).status, 201);
  assert.equal(calls.n, 2);
});

Deno.test("a redelivery is replayed only to the caller that sent it", async () => {
  const calls = { n: 0 };
  const ep = endpoint(whoAmI(() => Promise.resolve(), calls));
  const first = delivery("r1", AS_A);
  reply(await ep.handle(first));
  const replayed = reply(await ep.handle({ ...first, redelivered: true }));
  assert.equal(replayed.shortcut, "replayed");
  assert.equal(calls.n, 1);
  const other = reply(await ep.handle(delivery("r1", AS_B, { redelivered: true })));
  assert.equal(other.shortcut, undefined);
  assert.equal(calls.n, 2);
  assert.equal(JSON.parse(decodeReply(other.body).text).org, OTHER_ORG.urn);
});

Deno.test("a redelivered write whose reply was too big to keep is not run again (409)", async () => {
  const calls = { n: 0 };
  const ep = endpoint(whoAmI(() => Promise.resolve(), calls, 100_000));
  const post = delivery("big-post", AS_A, { method: "POST" });
  assert.equal(decodeReply(reply(await ep.handle(post)).body).status, 201);
  const again = reply(await ep.handle({ ...post, redelivered: true }));
  assert.equal(calls.n, 1, "the handler ran again");
  assert.equal(again.shortcut, "replayed");
  const r = decodeReply(again.body);
  assert.equal(r.status, 409);
  assert.match(r.text, /carried out already \(status 201\)/);
  assert.equal(r.id, "big-post");
});

Deno.test("a redelivered read whose reply was too big to keep is run again", async () => {
  const calls = { n: 0 };
  const ep = endpoint(whoAmI(() => Promise.resolve(), calls, 100_000));
  const get = delivery("big-get", AS_A);
  reply(await ep.handle(get));
  const again = reply(await ep.handle({ ...get, redelivered: true }));
  assert.equal(again.shortcut, undefined);
  assert.equal(calls.n, 2);
  assert.equal(decodeReply(again.body).status, 200);
});

Deno.test("a request without a security context is answered 403 before any handler runs", async () => {
  const calls = { n: 0 };
  const ep = endpoint(whoAmI(() => Promise.resolve(), calls));
  const cases: [string, Record<string, unknown> | undefined][] = [
    ["no element 1", undefined],
    ["org empty", { org: "" }],
    ["org missing", { org: undefined }],
    ["org not a string", { org: 42 }],
    ["user empty", { user: "" }],
  ];
  for (const [name, security] of cases) {
    const d = reply(await ep.handle(delivery(`anon-${name}`, security)));
    const r = decodeReply(d.body);
    assert.equal(r.status, 403, name);
    assert.equal(r.id, `anon-${name}`);
    assert.equal(d.shortcut, "anonymous");
    assert.deepEqual(JSON.parse(r.text), {
      majorErrorCode: 403,
      minorErrorCode: "ACCESS_TO_RESOURCE_IS_FORBIDDEN",
      message:
        "The request carries no security context (user and organisation), so it is not served",
    });
  }
  // An element 1 that is not an object at all.
  const http = httpElement({ id: "anon-null", requestUri: "/api/who" });
  const d = reply(
    await ep.handle(amqpDelivery({
      content: envelopeBytes(http, null, {}),
      replyTo: "reply.q",
      headers: { replyToExchange: "vcd.replies" },
    })),
  );
  assert.equal(decodeReply(d.body).status, 403);
  assert.equal(calls.n, 0, "a handler ran");
  assert.equal(decodeReply(reply(await ep.handle(delivery("ok", AS_A))).body).status, 200);
});
