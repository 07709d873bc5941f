/**
 * The pure core's refusals of stale requests, without a broker: a redelivery of a request this
 * process first received longer ago than vCD's timeout is answered 504 without its handler
 * (lib/core/receipts.ts), with or without a timestamp; a whole-second timestamp counts a second
 * later; a first delivery is handled whatever its timestamp says (the cell's clock may be off);
 * the AMQP adapter gives every delivery its receipt time.
 */

import assert from "node:assert/strict";
import { defineExtension, route } from "../lib/core/extension.ts";
import { FirstReceipts, RECEIPT_DEFAULTS } from "../lib/core/receipts.ts";
import {
  type Decision,
  type Delivery,
  endpoint,
  type EndpointSettings,
  type ReplyDecision,
} from "../lib/core/service.ts";
import type { ConsumeMessage } from "amqplib";
import { deliveryOf } from "../lib/transport/amqp/consumer.ts";
import { type AmqpAddress, amqpDelivery } from "../lib/transport/amqp/delivery.ts";
import { envelopeBytes, httpElement, securityElement } from "./fixtures.ts";

const NOW = 1_800_000_000_000;
const OTHER_ORG = "urn:vcloud:org:99999999-0000-4000-8000-000000000000";

/** An extension whose one POST counts its runs. */
function counting() {
  const calls = { n: 0 };
  const ext = defineExtension({
    name: "count",
    namespace: "com.example.count",
    routingKey: "count",
    routes: [
      route({
        method: "POST",
        path: "/api/count",
        handle: () => ({ status: 201, body: { n: ++calls.n } }),
      }),
    ],
  });
  return { ext, calls };
}

/** The delivery of request `id` (a POST), with the redelivery facts given. */
function delivery(
  id: string,
  facts: { redelivered?: boolean; timestamp?: number; receivedAt?: number; org?: string },
): Delivery<AmqpAddress> {
  const security = facts.org ? securityElement({ org: facts.org }) : securityElement();
  return amqpDelivery({
    content: envelopeBytes(
      httpElement({ id, method: "POST", requestUri: "/api/count" }),
      security,
      {},
    ),
    correlationId: `c-${id}`,
    replyTo: "reply.q",
    headers: { replyToExchange: "vcd.replies" },
    redelivered: facts.redelivered,
    timestamp: facts.timestamp,
    receivedAt: facts.receivedAt,
  });
}

function reply(d: Decision<AmqpAddress>): ReplyDecision<AmqpAddress> {
  assert.equal(d.kind, "reply");
  return d as ReplyDecision<AmqpAddress>;
}

/**
 * An endpoint that keeps no replies for replay, so a redelivery within vCD's timeout runs its
 * handler again and only the receipts decide.
 */
function noReplay(settings: EndpointSettings = {}) {
  const { ext, calls } = counting();
  const ep = endpoint(ext, { vcdTimeoutMs: 10_000, recentReplies: 0, ...settings });
  return { ep, calls };
}

Deno.test("a redelivery first received here longer ago than vCD's timeout is refused 504, no timestamp needed", async () => {
  const { ep, calls } = noReplay();
  const first = reply(await ep.handle(delivery("r1", { receivedAt: NOW })));
  assert.equal(first.outcome.reply.status, 201);
  const early = reply(
    await ep.handle(delivery("r1", { redelivered: true, receivedAt: NOW + 10_000 })),
  );
  assert.equal(early.outcome.reply.status, 201, "not older than the timeout: handled");
  assert.equal(calls.n, 2);
  const late = reply(
    await ep.handle(delivery("r1", { redelivered: true, receivedAt: NOW + 10_001 })),
  );
  assert.equal(late.outcome.reply.status, 504);
  assert.equal(late.shortcut, "expired");
  assert.match(String(late.outcome.reply.body), /expired before it was handled \(10001 ms old\)/);
  assert.equal(calls.n, 2, "the handler did not run for the stale redelivery");
});

Deno.test("the age counts from the first receipt, not from the last redelivery", async () => {
  const { ep, calls } = noReplay();
  await ep.handle(delivery("r1", { receivedAt: NOW }));
  await ep.handle(delivery("r1", { redelivered: true, receivedAt: NOW + 6_000 }));
  const late = reply(
    await ep.handle(delivery("r1", { redelivered: true, receivedAt: NOW + 12_000 })),
  );
  assert.equal(late.shortcut, "expired");
  assert.equal(calls.n, 2);
});

Deno.test("a first delivery is never refused for its age; a redelivery seen first here starts its clock", async () => {
  const { ep, calls } = noReplay();
  // The timestamp says a minute old: the cell's clock may be a minute behind this host's.
  const first = reply(await ep.handle(delivery("a", { timestamp: NOW - 60_000, receivedAt: NOW })));
  assert.equal(first.outcome.reply.status, 201);
  // Another instance's delivery, redelivered to this one: no receipt here, no timestamp.
  const moved = reply(await ep.handle(delivery("b", { redelivered: true, receivedAt: NOW })));
  assert.equal(moved.outcome.reply.status, 201);
  const again = reply(
    await ep.handle(delivery("b", { redelivered: true, receivedAt: NOW + 10_001 })),
  );
  assert.equal(again.shortcut, "expired");
  assert.equal(calls.n, 2);
});

Deno.test("another request reusing the id (another caller, other bytes) is not refused for the first one's age", async () => {
  const { ep, calls } = noReplay();
  await ep.handle(delivery("r1", { receivedAt: NOW }));
  const other = reply(
    await ep.handle(
      delivery("r1", { redelivered: true, receivedAt: NOW + 20_000, org: OTHER_ORG }),
    ),
  );
  assert.equal(other.outcome.reply.status, 201);
  assert.equal(calls.n, 2);
});

Deno.test("a whole-second timestamp counts a second later; a millisecond one as it reads", async () => {
  const { ep, calls } = noReplay();
  const second = NOW - (NOW % 1000);
  // Published somewhere in [second, second + 1 s): at most 10.5 s old, not provably over 10 s.
  const unsure = reply(
    await ep.handle(
      delivery("s1", { redelivered: true, timestamp: second, receivedAt: second + 10_500 }),
    ),
  );
  assert.equal(unsure.outcome.reply.status, 201);
  const old = reply(
    await ep.handle(
      delivery("s2", { redelivered: true, timestamp: second, receivedAt: second + 11_001 }),
    ),
  );
  assert.equal(old.shortcut, "expired");
  const ms = reply(
    await ep.handle(
      delivery("s3", { redelivered: true, timestamp: second + 1, receivedAt: second + 10_002 }),
    ),
  );
  assert.equal(ms.shortcut, "expired");
  assert.equal(calls.n, 1);
});

Deno.test("without a receipt time nothing is noted or refused (a transport that gives none)", async () => {
  const { ep, calls } = noReplay();
  await ep.handle(delivery("r1", {}));
  const again = reply(await ep.handle(delivery("r1", { redelivered: true })));
  assert.equal(again.outcome.reply.status, 201);
  assert.equal(calls.n, 2);
});

Deno.test("the receipts are bounded: the oldest is forgotten first, and then its redelivery runs", async () => {
  const { ep, calls } = noReplay({ receipts: { entries: 2 } });
  await ep.handle(delivery("r1", { receivedAt: NOW }));
  await ep.handle(delivery("r2", { receivedAt: NOW + 1 }));
  await ep.handle(delivery("r3", { receivedAt: NOW + 2 }));
  const forgotten = reply(
    await ep.handle(delivery("r1", { redelivered: true, receivedAt: NOW + 20_000 })),
  );
  assert.equal(forgotten.outcome.reply.status, 201);
  const kept = reply(
    await ep.handle(delivery("r3", { redelivered: true, receivedAt: NOW + 20_000 })),
  );
  assert.equal(kept.shortcut, "expired");
  assert.equal(calls.n, 4);
});

Deno.test("FirstReceipts stays within its entries and bytes, and keeps no oversized receipt", () => {
  const caller = { org: "urn:vcloud:org:a", user: "urn:vcloud:user:u" };
  const byEntries = new FirstReceipts({ entries: 100 });
  for (let i = 0; i < 1_000; i++) byEntries.note(`id-${i}`, caller, 10, i);
  assert.equal(byEntries.size, 100);
  assert.equal(byEntries.note("id-999", caller, 10, 5_000), 999, "the newest are kept");
  assert.equal(byEntries.note("id-0", caller, 10, 5_000), 5_000, "the oldest are forgotten");

  const byBytes = new FirstReceipts({ entries: 1_000, bytes: 10_000 });
  for (let i = 0; i < 1_000; i++) byBytes.note(`id-${i}`, caller, 10, i);
  assert.ok(byBytes.bytes <= 10_000, `${byBytes.bytes} bytes`);
  assert.ok(byBytes.size > 10 && byBytes.size < 100, `${byBytes.size} receipts`);

  const huge = new FirstReceipts();
  assert.equal(huge.note("x".repeat(10_000), caller, 10, 1), 1);
  assert.equal(huge.size, 0, "a receipt over 4 KiB is not kept");
  assert.equal(RECEIPT_DEFAULTS.entries, 8_192);
});

Deno.test("the AMQP adapter says when it received every delivery, first ones too", () => {
  const msg = {
    content: envelopeBytes(),
    fields: { deliveryTag: 1, redelivered: false, exchange: "x", routingKey: "k" },
    properties: { headers: {}, timestamp: undefined },
  } as unknown as ConsumeMessage;
  const before = Date.now();
  const received = deliveryOf(msg).receivedAt;
  assert.ok(received !== undefined && received >= before && received <= Date.now());
});
