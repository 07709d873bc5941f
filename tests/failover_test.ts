/**
 * The service connection's choice among several broker URLs, on the shared broker: the first
 * that answers is used, a node that accepts TCP but says nothing costs one connect timeout, the
 * heartbeat asked for, and start-up's error naming every node. Failover between the nodes of a
 * real cluster is in tests/cluster_test.ts.
 */

import assert from "node:assert/strict";
import type { ChannelModel } from "amqplib";
import { BrokerLink, withHeartbeat } from "../lib/transport/amqp/failover.ts";
import { createLogger } from "../lib/observability/log.ts";
import { AMQP_URL, eventually } from "./broker.ts";
import { LinkProxy } from "./link_proxy.ts";

/** A port that was free a moment ago: connecting to it is refused. */
function refusedUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return `amqp://guest:s3cret-pw@127.0.0.1:${port}`;
}

/** A listener that accepts connections and never answers (a node gone silent). */
function blackHole(): { url: string; accepted: () => number; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) conns.push(conn);
  })().catch(() => {});
  return {
    url: `amqp://guest:guest@127.0.0.1:${listener.addr.port}`,
    accepted: () => conns.length,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

/** `promise`, or a rejection after `ms`: a hang fails the test instead of holding it forever. */
function bounded<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function capture(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger("debug", { write: (line) => lines.push(line) }) };
}

/** The heartbeat amqplib negotiated on a connection (its internals; tests only). */
function heartbeatOf(model: ChannelModel): number {
  return (model.connection as unknown as { heartbeat: number }).heartbeat;
}

Deno.test("the first broker URL that answers is used; a refused one is logged with its node, no password", async () => {
  const refused = refusedUrl();
  const { lines, log } = capture();
  let heartbeat = -1;
  const link = await BrokerLink.open({
    urls: [refused, AMQP_URL],
    heartbeatSec: 5,
    connectTimeoutMs: 2_000,
    startupRetries: 0,
    log,
    setup: (model) => Promise.resolve(void (heartbeat = heartbeatOf(model))),
    stopping: () => false,
  });
  try {
    assert.equal(link.node, `${new URL(AMQP_URL).hostname}:${new URL(AMQP_URL).port || 5672}`);
    assert.equal(heartbeat, 5);
    const text = lines.join("");
    assert.match(text, new RegExp(`"node":"${new URL(refused).host}".*"reconnect scheduled"`));
    assert.doesNotMatch(text, /s3cret-pw/);
  } finally {
    await link.close();
  }
});

Deno.test("a node that accepts TCP but answers nothing costs one connect timeout, then the next is used", async () => {
  const hole = blackHole();
  const { log } = capture();
  const started = performance.now();
  const link = await bounded(
    5_000,
    BrokerLink.open({
      urls: [hole.url, AMQP_URL],
      heartbeatSec: 5,
      connectTimeoutMs: 600,
      startupRetries: 0,
      log,
      setup: () => Promise.resolve(),
      stopping: () => false,
    }),
  );
  const ms = performance.now() - started;
  try {
    console.log(`silent node skipped after ${ms.toFixed(0)} ms (connect timeout 600 ms)`);
    assert.equal(hole.accepted(), 1);
    assert.ok(ms >= 550 && ms < 5_000, `${ms} ms`);
    assert.ok(link.node !== undefined);
  } finally {
    await link.close();
    hole.close();
  }
});

Deno.test("a URL's own ?heartbeat= wins over --heartbeat", async () => {
  let heartbeat = -1;
  const link = await BrokerLink.open({
    urls: [withHeartbeat(AMQP_URL, 7)],
    heartbeatSec: 5,
    connectTimeoutMs: 2_000,
    startupRetries: 0,
    log: capture().log,
    setup: (model) => Promise.resolve(void (heartbeat = heartbeatOf(model))),
    stopping: () => false,
  });
  await link.close();
  assert.equal(heartbeat, 7);
});

Deno.test("when no broker answers, start-up fails naming every node and no password", async () => {
  const a = refusedUrl();
  const hole = blackHole();
  try {
    await assert.rejects(
      bounded(
        10_000,
        BrokerLink.open({
          urls: [a, hole.url],
          heartbeatSec: 5,
          connectTimeoutMs: 300,
          startupRetries: 1,
          log: capture().log,
          setup: () => Promise.resolve(),
          stopping: () => false,
        }),
      ),
      (e: Error) => {
        assert.match(e.message, /any of 2 brokers/);
        assert.ok(e.message.includes(new URL(a).host), e.message);
        assert.ok(e.message.includes(new URL(hole.url).host), e.message);
        assert.doesNotMatch(e.message, /s3cret-pw/);
        return true;
      },
    );
    assert.equal(hole.accepted(), 2, "two rounds: the silent node was tried twice");
  } finally {
    hole.close();
  }
});

Deno.test("a setup that fails closes that connection and counts as a failed attempt", async () => {
  let calls = 0;
  await assert.rejects(
    BrokerLink.open({
      urls: [AMQP_URL],
      heartbeatSec: 5,
      connectTimeoutMs: 2_000,
      startupRetries: 1,
      log: capture().log,
      setup: () => Promise.reject(new Error(`declare failed ${++calls}`)),
      stopping: () => false,
    }),
    /declare failed 2/,
  );
  assert.equal(calls, 2);
});

Deno.test("a lost connection is replaced by one to the next URL, not the same one again", async () => {
  await using proxy = LinkProxy.to(AMQP_URL);
  const { lines, log } = capture();
  let setups = 0;
  let lost = 0;
  const link = await BrokerLink.open({
    urls: [proxy.url, AMQP_URL],
    heartbeatSec: 5,
    connectTimeoutMs: 500,
    startupRetries: 0,
    log,
    setup: () => Promise.resolve(void setups++),
    stopping: () => false,
    onLost: () => void lost++,
  });
  try {
    assert.equal(link.node, `127.0.0.1:${proxy.port}`);
    // The proxy's node dies: its connections close, and new ones are accepted but never answered.
    proxy.frozen = true;
    proxy.cut();
    await eventually(() => setups === 2, 5_000);
    assert.equal(lost, 1);
    assert.equal(link.node, `${new URL(AMQP_URL).hostname}:${new URL(AMQP_URL).port || 5672}`);
    assert.equal(proxy.accepted, 1, "the lost node was not tried again first");
    assert.match(lines.join(""), /"disconnected from the broker; reconnecting"/);
  } finally {
    await link.close();
  }
});
