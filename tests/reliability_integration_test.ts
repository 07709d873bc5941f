/**
 * Reliability through the shared broker: handler timeouts and saturation as a cell sees them.
 */

import assert from "node:assert/strict";
import { buildRequest, decodeReply } from "../lib/cell.ts";
import { defineExtension, type HandlerResult, route } from "../lib/extension.ts";
import { withService } from "./broker.ts";

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

Deno.test("saturation is answered 429 at once, with no request left to time out", async () => {
  await withService(testExtension(800), async (h) => {
    const started = performance.now();
    const replies = await Promise.all(
      Array.from(
        { length: 40 },
        () =>
          h.cell.send(
            h.exchange,
            h.routingKey,
            buildRequest({ method: "GET", path: "/api/slow" }),
            { timeoutMs: 9_000 },
          )
            .then(decodeReply),
      ),
    );
    const elapsed = performance.now() - started;
    const by = (s: number) => replies.filter((r) => r.status === s).length;
    assert.equal(by(200) + by(429), 40, `statuses: ${replies.map((r) => r.status).join(",")}`);
    assert.equal(by(200), 8, "exactly maxInFlight requests ran");
    assert.equal(by(429), 32);
    assert.ok(elapsed < 5_000, `took ${elapsed.toFixed(0)} ms`);
    assert.equal(h.cell.pending, 0);
  }, { maxInFlight: 8, timeoutMs: 5_000, prefetch: 64 });
});
