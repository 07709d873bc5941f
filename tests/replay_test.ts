/**
 * The replay memory's bounds (entries, total bytes, bytes per entry) and its rule that an entry
 * answers only the same caller sending the same bytes.
 */

import assert from "node:assert/strict";
import type { Outcome } from "../lib/core/dispatch.ts";
import { REPLAY_DEFAULTS, ReplayMemory } from "../lib/core/replay.ts";
import { utf8 } from "./fixtures.ts";

const A = { org: "urn:vcloud:org:a", user: "urn:vcloud:user:a1" };
const B = { org: "urn:vcloud:org:b", user: "urn:vcloud:user:b1" };

function message(id: string, extra = ""): Uint8Array {
  return utf8(JSON.stringify([{ id, method: "POST", requestUri: "/api/x", body: extra }, A]));
}

function outcome(id: string, body: string, status = 200): Outcome {
  return { reply: { id, status, headers: { "Content-Type": "application/json" }, body } };
}

Deno.test("ReplayMemory keeps at most `bytes` in all, dropping the oldest entries", () => {
  const memory = new ReplayMemory({ entries: 1_024, bytes: 256 * 1_024, entryBytes: 64 * 1_024 });
  const body = "x".repeat(10_000); // charged 20,000 bytes and more
  for (let i = 0; i < 1_000; i++) {
    memory.remember(`r${i}`, "POST", message(`r${i}`), A, outcome(`r${i}`, body));
  }
  assert.ok(memory.bytes <= 256 * 1_024, `holds ${memory.bytes} bytes`);
  assert.ok(memory.size >= 10 && memory.size <= 13, `kept ${memory.size} entries`);
  assert.equal(memory.recall("r999", message("r999"), A)?.kind, "reply");
  assert.equal(memory.recall("r0", message("r0"), A), undefined);
});

Deno.test("ReplayMemory keeps at most `entries`, oldest first", () => {
  const memory = new ReplayMemory({ entries: 3 });
  for (const id of ["a", "b", "c", "d"]) {
    memory.remember(id, "POST", message(id), A, outcome(id, "{}"));
  }
  assert.equal(memory.size, 3);
  assert.equal(memory.recall("a", message("a"), A), undefined);
  for (const id of ["b", "c", "d"]) assert.equal(memory.recall(id, message(id), A)?.kind, "reply");
});

Deno.test("ReplayMemory defaults bound it to 1,024 entries and 4 MiB", () => {
  const memory = new ReplayMemory();
  const body = "'".repeat(30_000); // under the 64 KiB entry limit
  for (let i = 0; i < 2_000; i++) {
    memory.remember(`r${i}`, "POST", message(`r${i}`), A, outcome(`r${i}`, body));
  }
  assert.ok(memory.bytes <= REPLAY_DEFAULTS.bytes, `holds ${memory.bytes} bytes`);
  assert.ok(memory.size < 100, `kept ${memory.size} entries`);
  const small = new ReplayMemory();
  for (let i = 0; i < 2_000; i++) {
    small.remember(`r${i}`, "POST", message(`r${i}`), A, outcome(`r${i}`, "{}"));
  }
  assert.equal(small.size, REPLAY_DEFAULTS.entries);
});

Deno.test("ReplayMemory does not keep a read's reply over the entry limit: a redelivery runs it again", () => {
  const memory = new ReplayMemory({ entryBytes: 64 * 1_024 });
  const big = outcome("g", "'".repeat(700_000));
  memory.remember("g", "GET", message("g"), A, big);
  assert.equal(memory.size, 0);
  assert.equal(memory.bytes, 0);
  assert.equal(memory.recall("g", message("g"), A), undefined);
});

Deno.test("ReplayMemory keeps only the status of a write's reply over the entry limit", () => {
  const memory = new ReplayMemory({ entryBytes: 64 * 1_024 });
  memory.remember("p", "POST", message("p"), A, outcome("p", "y".repeat(200_000), 201));
  assert.deepEqual(memory.recall("p", message("p"), A), { kind: "too-big", status: 201 });
  assert.ok(memory.bytes < 1_024, `a record of ${memory.bytes} bytes`);
});

Deno.test("ReplayMemory keeps nothing of a request whose id alone is over the entry limit", () => {
  const memory = new ReplayMemory({ entryBytes: 64 * 1_024 });
  const id = "i".repeat(40_000);
  memory.remember(id, "POST", message(id), A, outcome(id, "{}"));
  assert.equal(memory.size, 0);
});

Deno.test("ReplayMemory answers only the same caller with the same bytes", () => {
  const memory = new ReplayMemory();
  const bytes = message("same", "body-1");
  memory.remember("same", "POST", bytes, A, outcome("same", '{"org":"a"}'));
  assert.equal(memory.recall("same", bytes, A)?.kind, "reply");
  assert.equal(memory.recall("same", bytes.slice(), A)?.kind, "reply", "a copy of the bytes");
  assert.equal(memory.recall("same", bytes, B), undefined, "another org and user");
  assert.equal(memory.recall("same", bytes, { ...A, org: B.org }), undefined, "another org");
  assert.equal(memory.recall("same", bytes, { ...A, user: B.user }), undefined, "another user");
  assert.equal(memory.recall("same", message("same", "body-2"), A), undefined, "other bytes");
  const flipped = bytes.slice();
  flipped[flipped.length - 3]! ^= 1;
  assert.equal(memory.recall("same", flipped, A), undefined, "one bit flipped");
  assert.equal(memory.recall("other", bytes, A), undefined, "another id");
});

Deno.test("ReplayMemory keeps the newer answer to a reused id, also once the older one is evicted", () => {
  const memory = new ReplayMemory({ entries: 2 });
  memory.remember("r", "POST", message("r", "1"), A, outcome("r", '"first"'));
  memory.remember("r", "POST", message("r", "2"), B, outcome("r", '"second"'));
  assert.equal(memory.recall("r", message("r", "1"), A), undefined);
  memory.remember("s", "POST", message("s"), A, outcome("s", "{}")); // evicts the first "r"
  const again = memory.recall("r", message("r", "2"), B);
  assert.equal(again?.kind === "reply" && again.outcome.reply.body, '"second"');
});

Deno.test("ReplayMemory does not keep a handler's error object", () => {
  const memory = new ReplayMemory();
  const failed: Outcome = { ...outcome("e", "{}", 500), route: "GET /x", error: new Error("x") };
  memory.remember("e", "POST", message("e"), A, failed);
  const again = memory.recall("e", message("e"), A);
  assert.ok(again?.kind === "reply");
  assert.equal(again.outcome.error, undefined);
  assert.equal(again.outcome.route, "GET /x");
  assert.equal(again.outcome.reply, failed.reply);
});

Deno.test("ReplayMemory with no entries keeps nothing", () => {
  const memory = new ReplayMemory({ entries: 0 });
  memory.remember("r", "POST", message("r"), A, outcome("r", "{}"));
  assert.equal(memory.recall("r", message("r"), A), undefined);
});
