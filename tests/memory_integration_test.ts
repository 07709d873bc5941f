/**
 * Through the shared broker, against the real service (`main.ts serve` in a subprocess, with
 * tests/fixtures/serve_with_gc.ts's GC-and-report hook): echo-amplifying requests must not pile
 * up in its memory. Each is a GET whose 700 KB path of `'` characters matches no route, so the
 * 404 quotes the path and XML escapes every `'` as `&apos;`: a 4.2 MB error document per
 * request, which the replay memory kept whole before it was bounded by bytes.
 *
 * Bound stated: after 120 such requests and a full GC, the service's heap grew by under
 * 32 MiB and its RSS by under 200 MiB. Measured before the byte bound: heap +481 MiB, RSS
 * +789 MiB (1,108 MiB before the GC); with it: heap +5 MiB, RSS +89 MiB (allocator pages not
 * yet returned; +89 to +112 MiB over runs). `tests/bench/echo_memory.ts` prints the same figures.
 */

import assert from "node:assert/strict";
import { BrokerAdmin, CellClient } from "../lib/transport/amqp/mod.ts";
import { buildRequest, decodeReply, SAMPLE } from "../lib/sim/cell.ts";
import { AMQP_URL, eventually, uniqueName } from "./broker.ts";
import { Proc } from "./proc.ts";

const MiB = 1_048_576;
const REQUESTS = 120;
const IN_FLIGHT = 4;

/** What the service holds after a full GC, in MiB (the fixture answers SIGUSR2 with a line). */
async function collected(proc: Proc): Promise<{ rss: number; heapUsed: number }> {
  const marker = '{"memory":';
  const seen = proc.log.split(marker).length;
  proc.kill("SIGUSR2");
  await eventually(() => proc.log.split(marker).length > seen, 15_000);
  const line = proc.log.slice(proc.log.lastIndexOf(marker)).split("\n")[0]!;
  const { memory } = JSON.parse(line) as { memory: { rss: number; heapUsed: number } };
  return { rss: memory.rss / MiB, heapUsed: memory.heapUsed / MiB };
}

Deno.test("120 echo-amplifying requests leave the service's memory within a bound", async () => {
  const exchange = uniqueName("vcdext.test.memory");
  const queue = `${exchange}.q`;
  const proc = new Proc([
    "tests/fixtures/serve_with_gc.ts",
    "serve",
    "--exchange",
    exchange,
    "--queue",
    queue,
    "--extension",
    "gcp-ticketing",
    "--notifications-exchange",
    "",
    "--log-level",
    "warn",
  ], { VCDEXT_AMQP_URL: AMQP_URL });
  const admin = await BrokerAdmin.connect(AMQP_URL);
  let cell: CellClient | undefined;
  try {
    // At --log-level warn the service says nothing on start: wait for its consumer.
    await eventually(
      async () => ((await admin.queueInfo(queue))?.consumers ?? 0) > 0,
      30_000,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}; the service's log:\n${proc.log}`);
    });
    const idle = await collected(proc);
    cell = await CellClient.connect(AMQP_URL, { replyExchange: "vcdext.test.cell" });
    const path = `/api/org/${SAMPLE.orgId}/ticketing/x/${"'".repeat(700_000)}`;
    let sent = 0;
    const statuses: number[] = [];
    const c = cell;
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (sent < REQUESTS) {
        sent++;
        const bytes = await c.send(
          exchange,
          "gcp-ticketing",
          buildRequest({ method: "GET", path, headers: { Accept: "application/*+xml" } }),
          { timeoutMs: 60_000 },
        );
        statuses.push(decodeReply(bytes).status);
      }
    }));
    assert.deepEqual(new Set(statuses), new Set([404]));
    assert.equal(statuses.length, REQUESTS);
    const end = await collected(proc);
    const heap = end.heapUsed - idle.heapUsed;
    const rss = end.rss - idle.rss;
    console.log(
      `after ${REQUESTS} echoes: heap +${heap.toFixed(1)} MiB, RSS +${rss.toFixed(1)} MiB`,
    );
    assert.ok(heap < 32, `the service's heap grew ${heap.toFixed(0)} MiB`);
    assert.ok(rss < 200, `the service's RSS grew ${rss.toFixed(0)} MiB`);
  } finally {
    await cell?.close();
    proc.kill("SIGTERM");
    await proc.wait();
    await admin.delete({ queues: [queue], exchanges: [exchange] });
    await admin.close();
  }
});
