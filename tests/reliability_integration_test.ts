/**
 * Reliability through the shared broker: handler timeouts and saturation as a cell sees them.
 */

import assert from "node:assert/strict";
import { buildRequest, decodeReply } from "../lib/sim/cell.ts";
import { defineExtension, type HandlerResult, route } from "../lib/core/extension.ts";
import { eventually, withService } from "./broker.ts";

function testExtension(slowMs: number) {
  return defineExtension({
    name: "flaky",
    namespace: "com.example.flaky",
    routingKey: "flaky",
    routes: [
      route({
        method: "GET",
        path: "/api/slow",
        handle: (ctx) =>
          new Promise<HandlerResult<unknown>>((resolve) => {
            const t = setTimeout(() => resolve({ body: { late: true } }), slowMs);
            ctx.signal.addEventListener("abort", () => clearTimeout(t));
          }),
      }),
      route({
        method: "GET",
        path: "/api/throw",
        handle: () => {
          throw new Error("handler bug");
        },
      }),
      route({ method: "GET", path: "/api/ok", handle: () => ({ body: { ok: true } }) }),
    ],
  });
}

Deno.test("a slow handler is answered 504 before vCD's 10 s, a throwing one 500, and the next one normally", async () => {
  await withService(testExtension(30_000), async (h) => {
    const ask = (path: string) =>
      h.cell.send(h.exchange, h.routingKey, buildRequest({ method: "GET", path }), {
        timeoutMs: 10_000,
      })
        .then(decodeReply);
    const started = performance.now();
    const slow = await ask("/api/slow");
    const ms = performance.now() - started;
    assert.equal(slow.status, 504);
    assert.match(slow.text, /GATEWAY_TIMEOUT/);
    assert.ok(ms >= 1_400 && ms < 10_000, `504 came after ${ms.toFixed(0)} ms`);
    assert.equal((await ask("/api/throw")).status, 500);
    assert.equal((await ask("/api/ok")).status, 200);
  }, { timeoutMs: 1_500 });
});

/** One route whose handler waits until the test opens the gate (or the request is aborted). */
function gatedExtension(gate: Promise<void>) {
  return defineExtension({
    name: "gated",
    namespace: "com.example.gated",
    routingKey: "gated",
    routes: [
      route({
        method: "GET",
        path: "/api/gated",
        handle: async () => {
          await gate;
          return { body: { ok: true } };
        },
      }),
    ],
  });
}

// "At once" is checked by order, not by the clock: the 32 requests past --max-in-flight must be
// answered 429 while the 8 running handlers are still held, so none of them waited for a slot.
Deno.test("saturation is answered 429 at once, with no request left to time out", async () => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  await withService(gatedExtension(gate), async (h) => {
    const replies: number[] = [];
    const all = Promise.all(
      Array.from(
        { length: 40 },
        () =>
          h.cell.send(
            h.exchange,
            h.routingKey,
            buildRequest({ method: "GET", path: "/api/gated" }),
            { timeoutMs: 30_000 },
          )
            .then(decodeReply).then((r) => void replies.push(r.status)),
      ),
    );
    await eventually(() => replies.length === 32, 30_000);
    assert.deepEqual(replies, Array(32).fill(429), "answered while the 8 handlers were held");
    open();
    await all;
    assert.deepEqual(replies.slice(32), Array(8).fill(200), "exactly maxInFlight requests ran");
    assert.equal(h.cell.pending, 0);
  }, { maxInFlight: 8, timeoutMs: 20_000, prefetch: 64 });
});
