/**
 * Reliability rules of the pure core, without a broker: the handler timeout (with fake timers),
 * back-pressure, duplicate and expired redeliveries.
 */

import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { decodeReply } from "../lib/sim/cell.ts";
import { compile, dispatch } from "../lib/core/dispatch.ts";
import { systemClock } from "../lib/transport/clock.ts";
import { defineExtension, route } from "../lib/core/extension.ts";
import { type Decision, type Delivery, endpoint, type ReplyDecision } from "../lib/core/service.ts";
import {
  type AmqpAddress,
  amqpDelivery,
  type AmqpMessageParts,
} from "../lib/transport/amqp/delivery.ts";

import { envelopeBytes, httpElement, vcdRequest } from "./fixtures.ts";

/** A promise with its resolver, to hold a handler open. */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

function slowExtension(opts: { wait: () => Promise<void>; calls: { n: number; aborted: number } }) {
  return defineExtension({
    name: "slow",
    namespace: "com.example.slow",
    routingKey: "slow",
    routes: [
      route({
        method: "GET",
        path: "/api/slow",
        produces: { json: (n: number) => ({ n }) },
        async handle(ctx) {
          opts.calls.n++;
          ctx.signal.addEventListener("abort", () => opts.calls.aborted++);
          await opts.wait();
          return { body: opts.calls.n };
        },
      }),
      route({
        method: "GET",
        path: "/api/boom",
        handle() {
          throw new Error("kaboom with internals");
        },
      }),
      route({ method: "GET", path: "/api/ok", handle: () => ({ body: { ok: true } }) }),
    ],
  });
}

function delivery(
  id: string,
  path: string,
  extra: Partial<AmqpMessageParts> = {},
): Delivery<AmqpAddress> {
  return amqpDelivery({
    content: envelopeBytes(
      httpElement({ id, requestUri: path, headers: { Accept: "application/json" } }),
    ),
    correlationId: `c-${id}`,
    replyTo: "reply.q",
    headers: { replyToExchange: "vcd.replies" },
    ...extra,
  });
}

function reply(d: Decision<AmqpAddress>): ReplyDecision<AmqpAddress> {
  assert.equal(d.kind, "reply");
  return d as ReplyDecision<AmqpAddress>;
}

const FAKED = [
  "setTimeout",
  "clearTimeout",
  "setInterval",
  "clearInterval",
  "performance",
] as const;

Deno.test("dispatch() answers 504 when a handler outlives its timeout, aborts it and drops the late result", async () => {
  const clock = FakeTimers.install({ toFake: [...FAKED] });
  try {
    const held = gate();
    const calls = { n: 0, aborted: 0 };
    const app = compile(slowExtension({ wait: () => held.promise, calls }));
    const pending = dispatch(
      app,
      vcdRequest({ path: "/api/slow", headers: { accept: "application/json" } }),
      { timeoutMs: 8000, clock: systemClock },
    );
    await clock.tickAsync(7999);
    let settled = false;
    pending.then(() => (settled = true));
    await Promise.resolve();
    assert.equal(settled, false, "answered before the timeout");
    await clock.tickAsync(50); // deadlines are swept every 50 ms
    const { reply } = await pending;
    assert.equal(reply.status, 504);
    assert.match(reply.body as string, /"minorErrorCode":"GATEWAY_TIMEOUT"/);
    assert.equal(calls.aborted, 1, "the handler's signal was not aborted");
    held.open(); // the late result arrives and must change nothing
    await clock.tickAsync(10);
    assert.equal(reply.status, 504);
  } finally {
    clock.uninstall();
  }
});

Deno.test("dispatch() with a timeout still answers a fast handler, and a throwing one with 500", async () => {
  const clock = FakeTimers.install({ toFake: [...FAKED] });
  try {
    const app = compile(
      slowExtension({ wait: () => Promise.resolve(), calls: { n: 0, aborted: 0 } }),
    );
    const ok = await dispatch(app, vcdRequest({ path: "/api/slow" }), {
      timeoutMs: 8000,
      clock: systemClock,
    });
    assert.equal(ok.reply.status, 200);
    const boom = await dispatch(app, vcdRequest({ path: "/api/boom" }), {
      timeoutMs: 8000,
      clock: systemClock,
    });
    assert.equal(boom.reply.status, 500);
    assert.doesNotMatch(boom.reply.body as string, /kaboom/);
    await clock.tickAsync(50); // the sweeper stops itself once nothing is pending
    assert.equal(clock.countTimers(), 0, "a timer was left behind");
  } finally {
    clock.uninstall();
  }
});

Deno.test("endpoint() answers 429 at once when maxInFlight handlers are running, then serves again", async () => {
  const held = gate();
  const calls = { n: 0, aborted: 0 };
  const ep = endpoint(slowExtension({ wait: () => held.promise, calls }), { maxInFlight: 2 });
  const first = ep.handle(delivery("a", "/api/slow"));
  const second = ep.handle(delivery("b", "/api/slow"));
  const third = reply(await ep.handle(delivery("c", "/api/slow")));
  assert.equal(third.outcome.reply.status, 429);
  assert.equal(third.shortcut, "busy");
  assert.equal(third.outcome.reply.headers["Retry-After"], "1");
  assert.equal(decodeReply(third.body).id, "c");
  assert.equal(calls.n, 2, "the third handler ran");
  held.open();
  assert.equal(reply(await first).outcome.reply.status, 200);
  assert.equal(reply(await second).outcome.reply.status, 200);
  assert.equal(reply(await ep.handle(delivery("d", "/api/slow"))).outcome.reply.status, 200);
});

Deno.test("endpoint() runs a request once when it is redelivered while still being handled", async () => {
  const held = gate();
  const calls = { n: 0, aborted: 0 };
  const ep = endpoint(slowExtension({ wait: () => held.promise, calls }));
  const original = ep.handle(delivery("same", "/api/slow"));
  const again = ep.handle(delivery("same", "/api/slow", { redelivered: true }));
  held.open();
  const [a, b] = [reply(await original), reply(await again)];
  assert.equal(calls.n, 1);
  assert.equal(b.shortcut, "duplicate");
  assert.deepEqual(decodeReply(a.body), decodeReply(b.body));
});

Deno.test("endpoint() replays the recent reply to a redelivery of an answered request", async () => {
  const calls = { n: 0, aborted: 0 };
  const ep = endpoint(slowExtension({ wait: () => Promise.resolve(), calls }));
  const first = reply(await ep.handle(delivery("r1", "/api/slow")));
  const redelivered = reply(await ep.handle(delivery("r1", "/api/slow", { redelivered: true })));
  assert.equal(calls.n, 1);
  assert.equal(redelivered.shortcut, "replayed");
  assert.deepEqual(decodeReply(redelivered.body), decodeReply(first.body));
  // Without the redelivered flag the same id is a new request (ids are the cell's business).
  reply(await ep.handle(delivery("r1", "/api/slow")));
  assert.equal(calls.n, 2);
});

Deno.test("endpoint() forgets replies beyond recentReplies, oldest first", async () => {
  const calls = { n: 0, aborted: 0 };
  const ep = endpoint(slowExtension({ wait: () => Promise.resolve(), calls }), {
    recentReplies: 2,
  });
  for (const id of ["x1", "x2", "x3"]) await ep.handle(delivery(id, "/api/slow"));
  assert.equal(
    reply(await ep.handle(delivery("x3", "/api/slow", { redelivered: true }))).shortcut,
    "replayed",
  );
  assert.equal(
    reply(await ep.handle(delivery("x1", "/api/slow", { redelivered: true }))).shortcut,
    undefined,
  );
  assert.equal(calls.n, 4);
});

Deno.test("endpoint() answers an expired redelivery 504 without running the handler", async () => {
  const calls = { n: 0, aborted: 0 };
  const ep = endpoint(slowExtension({ wait: () => Promise.resolve(), calls }), {
    vcdTimeoutMs: 10_000,
  });
  const now = 1_800_000_000_000;
  const old = reply(
    await ep.handle(
      delivery("old", "/api/slow", { redelivered: true, timestamp: now - 12_000, receivedAt: now }),
    ),
  );
  assert.equal(old.outcome.reply.status, 504);
  assert.equal(old.shortcut, "expired");
  assert.equal(calls.n, 0);
  // A first delivery is handled whatever its age (clocks of cell and service may differ).
  const first = reply(
    await ep.handle(delivery("old2", "/api/slow", { timestamp: now - 12_000, receivedAt: now })),
  );
  assert.equal(first.outcome.reply.status, 200);
  // A fresh redelivery is handled.
  const fresh = reply(
    await ep.handle(
      delivery("new", "/api/slow", { redelivered: true, timestamp: now - 2_000, receivedAt: now }),
    ),
  );
  assert.equal(fresh.outcome.reply.status, 200);
  assert.equal(calls.n, 2);
});
