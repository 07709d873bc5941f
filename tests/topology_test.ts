/** The one topology declaration serve and check share, against a recording channel. */

import assert from "node:assert/strict";
import type { Channel } from "amqplib";
import {
  type Binding,
  declareQueue,
  declareTopology,
  extensionBinding,
  type QueueTopology,
} from "../lib/transport/amqp/topology.ts";

/**
 * A channel that records what it is asked to declare, and knows no other method but `on` and
 * `close`; `refuse` answers the n-th `assertQueue` (from 0) with an error instead.
 */
function recordingChannel(
  refuse: Record<number, Error> = {},
): { channel: Channel; calls: unknown[][]; open: () => Promise<Channel> } {
  const calls: unknown[][] = [];
  let queues = 0;
  const record = (name: string) => (...args: unknown[]) => {
    calls.push([name, ...args]);
    if (name === "assertQueue") {
      const error = refuse[queues++];
      if (error) return Promise.reject(error);
    }
    return Promise.resolve({});
  };
  const channel = {
    assertQueue: record("assertQueue"),
    assertExchange: record("assertExchange"),
    bindQueue: record("bindQueue"),
    on: () => channel,
    close: () => Promise.resolve(),
  } as unknown as Channel;
  return { channel, calls, open: () => Promise.resolve(channel) };
}

/** The broker's refusal of a declaration, as amqplib throws it. */
function refusal(message: string): Error {
  return Object.assign(
    new Error(
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "${message}"`,
    ),
    { code: 406 },
  );
}

const notifications: Binding = {
  exchange: "vcd.notifications20",
  type: "topic",
  keys: ["a.#", "b.#"],
  declare: false,
};

const topology: QueueTopology = {
  queue: "q",
  bindings: [extensionBinding("vcdext", "k"), notifications],
  queueArguments: { "x-queue-type": "quorum" },
};

Deno.test("serve declares the queue and the exchange it owns, then binds every key", async () => {
  const { channel, calls, open } = recordingChannel();
  const declared = await declareTopology(channel, topology, {
    declareOwned: true,
    exists: () => Promise.resolve(true),
    open,
  });
  assert.deepEqual(declared, { queue: { kind: "declared" }, missing: [] });
  assert.deepEqual(calls, [
    ["assertQueue", "q", { durable: true, arguments: { "x-queue-type": "quorum" } }],
    ["assertExchange", "vcdext", "direct", { durable: true, autoDelete: false }],
    ["bindQueue", "q", "vcdext", "k"],
    ["bindQueue", "q", "vcd.notifications20", "a.#"],
    ["bindQueue", "q", "vcd.notifications20", "b.#"],
  ]);
});

Deno.test("a missing exchange the topology does not own is returned, not bound", async () => {
  for (const answer of [false, undefined]) {
    const { channel, calls, open } = recordingChannel();
    const asked: string[] = [];
    const { missing } = await declareTopology(channel, topology, {
      declareOwned: true,
      exists: (name) => (asked.push(name), Promise.resolve(answer)),
      open,
    });
    assert.deepEqual(missing, [notifications]);
    assert.deepEqual(asked, ["vcd.notifications20"], "only the exchange it does not own is asked");
    assert.ok(!calls.some((c) => c[2] === "vcd.notifications20"));
  }
});

Deno.test("check binds as serve does but leaves the exchange serve owns undeclared", async () => {
  const { channel, calls, open } = recordingChannel();
  await declareTopology(channel, { queue: "q", bindings: [extensionBinding("vcdext", "k")] }, {
    declareOwned: false,
    exists: () => Promise.resolve(true),
    open,
  });
  assert.deepEqual(calls, [
    ["assertQueue", "q", { durable: true }],
    ["bindQueue", "q", "vcdext", "k"],
  ]);
});

const WITH_TTL: QueueTopology = {
  queue: "q",
  bindings: [],
  queueArguments: { "x-queue-type": "quorum", "x-message-ttl": 10_000 },
};
const NO_TTL = "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost " +
  "'/': received the value '10000' of type 'short' but current is none";

Deno.test("a queue that exists without the message TTL is declared again without it, and used", async () => {
  const { calls, open } = recordingChannel({ 0: refusal(NO_TTL) });
  const state = await declareQueue(open, WITH_TTL);
  assert.equal(state.kind, "ttl-differs");
  assert.deepEqual(state.kind === "ttl-differs" && [state.found, state.wanted], [
    undefined,
    10_000,
  ]);
  assert.deepEqual(calls, [
    ["assertQueue", "q", { durable: true, arguments: WITH_TTL.queueArguments }],
    // Every other argument is still asked for: only the TTL is taken as it is.
    ["assertQueue", "q", { durable: true, arguments: { "x-queue-type": "quorum" } }],
  ]);
});

Deno.test("a queue with another message TTL is declared again with the TTL it has", async () => {
  const other = "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost " +
    "'/': received '10000' but current is '30000'";
  const { calls, open } = recordingChannel({ 0: refusal(other) });
  const state = await declareQueue(open, WITH_TTL);
  assert.deepEqual(state.kind === "ttl-differs" && state.found, 30_000);
  assert.deepEqual(calls[1], [
    "assertQueue",
    "q",
    { durable: true, arguments: { "x-queue-type": "quorum", "x-message-ttl": 30_000 } },
  ]);
});

Deno.test("any other difference is the broker's objection, as before the TTL", async () => {
  // The broker names the TTL first even when the queue type differs too: the second declaration,
  // without the TTL, brings the real objection out.
  const type = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in vhost " +
    "'/': received 'quorum' but current is 'classic'";
  const both = recordingChannel({ 0: refusal(NO_TTL), 1: refusal(type) });
  await assert.rejects(declareQueue(both.open, WITH_TTL), /x-queue-type/);
  const only = recordingChannel({ 0: refusal(type) });
  await assert.rejects(declareQueue(only.open, WITH_TTL), /x-queue-type/);
  assert.equal(only.calls.length, 1);
  // A queue declared without a TTL (the notifications queue) takes no fallback either.
  const notTtl = recordingChannel({ 0: refusal(NO_TTL) });
  await assert.rejects(declareQueue(notTtl.open, { queue: "q", bindings: [] }), /x-message-ttl/);
});
