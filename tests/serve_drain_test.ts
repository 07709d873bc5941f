/**
 * `main.ts serve`'s shutdown and concurrency limit, through the real entrypoint with the slow
 * `fixture` extension (tests/fixtures/main_with_fixture.ts): SIGTERM and SIGINT drain what is in
 * flight within `--drain-ms` (default 5 s) and exit 0; past the drain time what is left goes back
 * to the queue; the 101st concurrent request gets 429 (default `--max-in-flight` 100); a signal
 * during start-up (broker unreachable) ends the process at once, exit 0. Waits are on events
 * (the in-flight gauge, log lines, exits), not on sleeps.
 */

import assert from "node:assert/strict";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import { buildRequest } from "../lib/sim/cell.ts";
import { AMQP_URL, eventually } from "./broker.ts";
import { MAIN, MAIN_WITH_FIXTURE, RawCell, replyJson, sample, Serve } from "./entrypoint.ts";
import { Proc } from "./proc.ts";
import { FIXTURE_KEY } from "./fixtures/fixture_extension.ts";

function slow(ms: number) {
  return buildRequest({ method: "GET", path: `/api/fixture/slow?ms=${ms}` });
}

async function untilInFlight(serve: Serve, n: number): Promise<void> {
  await eventually(async () => sample(await serve.metrics(), "vcdext_in_flight") === n, 20_000);
}

async function messagesIn(queue: string): Promise<number | undefined> {
  const admin = await BrokerAdmin.connect(AMQP_URL);
  try {
    return (await admin.queueInfo(queue))?.messages;
  } finally {
    await admin.close();
  }
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal} with slow requests in flight answers each of them, then exits 0 (default --drain-ms)`, async () => {
    const serve = await Serve.start({ entry: MAIN_WITH_FIXTURE, extension: "fixture" });
    const cell = await RawCell.connect();
    try {
      const replies = Array.from(
        { length: 5 },
        () => cell.send(serve.exchange, FIXTURE_KEY, slow(1500), { timeoutMs: 30_000 }),
      );
      await untilInFlight(serve, 5);
      serve.proc.kill(signal);
      const status = await serve.proc.wait();
      const answered = await Promise.allSettled(replies);
      const statuses = answered.map((r) =>
        r.status === "fulfilled" ? replyJson(r.value).statusCode : String(r.reason)
      );
      assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
      assert.equal(status.code, 0, serve.proc.log.slice(-1500));
      assert.equal(serve.lines("stopped")[0]?.drained, true);
      assert.equal(await messagesIn(serve.queue), 0);
    } finally {
      await cell.close();
      await serve.close();
    }
  });
}

Deno.test("past --drain-ms, what is still running goes back to the queue and serve exits 0", async () => {
  const serve = await Serve.start({
    entry: MAIN_WITH_FIXTURE,
    extension: "fixture",
    flags: ["--drain-ms", "200"],
  });
  const cell = await RawCell.connect();
  try {
    cell.send(serve.exchange, FIXTURE_KEY, slow(6000), { timeoutMs: 30_000 }).catch(() => {});
    await untilInFlight(serve, 1);
    serve.proc.kill("SIGTERM");
    const status = await serve.proc.wait();
    assert.equal(status.code, 0, serve.proc.log.slice(-1500));
    assert.equal(serve.lines("drain time over; requeueing what is left").length, 1);
    assert.equal(serve.lines("stopped")[0]?.drained, false);
    await eventually(async () => (await messagesIn(serve.queue)) === 1, 10_000);
  } finally {
    await cell.close();
    await serve.close();
  }
});

Deno.test("with 100 requests in flight (the default --max-in-flight), the next one is answered 429 at once", async () => {
  const serve = await Serve.start({ entry: MAIN_WITH_FIXTURE, extension: "fixture" });
  const cell = await RawCell.connect();
  try {
    const running = Array.from(
      { length: 100 },
      () => cell.send(serve.exchange, FIXTURE_KEY, slow(5000), { timeoutMs: 30_000 }),
    );
    await untilInFlight(serve, 100);
    const busy = replyJson(await cell.send(serve.exchange, FIXTURE_KEY, slow(0)));
    assert.equal(busy.statusCode, 429);
    assert.equal(busy.headers["Retry-After"], "1");
    const done = await Promise.all(running);
    assert.ok(done.every((r) => replyJson(r).statusCode === 200));
  } finally {
    await cell.close();
    await serve.close();
  }
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal} during start-up (broker unreachable, retrying) exits 0 at once, logs flushed`, async () => {
    // A port that was free a moment ago: every connection attempt is refused, and start-up
    // retries for seconds before giving up.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const proc = new Proc([
      MAIN,
      "serve",
      "--amqp-url",
      `amqp://guest:guest@127.0.0.1:${port}`,
      "--log-level",
      "debug",
    ]);
    try {
      await proc.waitFor('"msg":"reconnect scheduled"');
      const sent = performance.now();
      proc.kill(signal);
      const status = await proc.wait();
      const ms = performance.now() - sent;
      assert.equal(status.code, 0, proc.log.slice(-1500));
      assert.ok(ms < 2000, `exited ${Math.round(ms)} ms after ${signal}`);
      assert.match(proc.log, /"msg":"stopped during start-up"/);
      assert.doesNotMatch(proc.log, /"msg":"consuming"/);
    } finally {
      await proc.end();
    }
  });
}
