/** The one topology declaration serve and check share, against a recording channel. */

import assert from "node:assert/strict";
import type { Channel } from "amqplib";
import {
  type Binding,
  declareTopology,
  extensionBinding,
  type QueueTopology,
} from "../lib/transport/amqp/topology.ts";

/** A channel that records what it is asked to declare, and knows no other method. */
function recordingChannel(): { channel: Channel; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const record = (name: string) => (...args: unknown[]) => {
    calls.push([name, ...args]);
    return Promise.resolve({});
  };
  const channel = {
    assertQueue: record("assertQueue"),
    assertExchange: record("assertExchange"),
    bindQueue: record("bindQueue"),
  } as unknown as Channel;
  return { channel, calls };
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
  const { channel, calls } = recordingChannel();
  const missing = await declareTopology(channel, topology, {
    declareOwned: true,
    exists: () => Promise.resolve(true),
  });
  assert.deepEqual(missing, []);
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
    const { channel, calls } = recordingChannel();
    const asked: string[] = [];
    const missing = await declareTopology(channel, topology, {
      declareOwned: true,
      exists: (name) => (asked.push(name), Promise.resolve(answer)),
    });
    assert.deepEqual(missing, [notifications]);
    assert.deepEqual(asked, ["vcd.notifications20"], "only the exchange it does not own is asked");
    assert.ok(!calls.some((c) => c[2] === "vcd.notifications20"));
  }
});

Deno.test("check binds as serve does but leaves the exchange serve owns undeclared", async () => {
  const { channel, calls } = recordingChannel();
  await declareTopology(channel, { queue: "q", bindings: [extensionBinding("vcdext", "k")] }, {
    declareOwned: false,
    exists: () => Promise.resolve(true),
  });
  assert.deepEqual(calls, [
    ["assertQueue", "q", { durable: true }],
    ["bindQueue", "q", "vcdext", "k"],
  ]);
});
