/**
 * The reply-exchange memory: bounded by entries (names come from requests), and a name no
 * exchange can have is refused at once instead of looping its request through the service.
 */

import assert from "node:assert/strict";
import { buildRequest, decodeReply, SAMPLE } from "../lib/sim/cell.ts";
import {
  ExchangeMemory,
  isExchangeName,
  MAX_REMEMBERED_EXCHANGES,
  MISSING_EXCHANGE_TTL_MS,
} from "../lib/transport/amqp/exchanges.ts";
import { ticketing } from "../handlers/ticketing.ts";
import { eventually, withService } from "./broker.ts";

Deno.test("ExchangeMemory keeps at most MAX_REMEMBERED_EXCHANGES names, the oldest going first", () => {
  const memory = new ExchangeMemory();
  memory.found("vcd.replies", true);
  for (let i = 0; i < 10_000; i++) memory.found(`missing.${i}.${"x".repeat(200)}`, false);
  assert.equal(memory.size, MAX_REMEMBERED_EXCHANGES);
  assert.equal(memory.lookup("missing.9999." + "x".repeat(200)), false);
  assert.equal(memory.lookup("missing.0." + "x".repeat(200)), undefined, "the oldest was kept");
  // Forgotten, an existing exchange is only asked about again.
  assert.equal(memory.lookup("vcd.replies"), undefined);
});

Deno.test("ExchangeMemory takes a missing exchange as missing for a while, an existing one for good", () => {
  let now = 1_000_000;
  const memory = new ExchangeMemory(4, () => now);
  memory.found("gone", false);
  memory.found("here", true);
  assert.equal(memory.lookup("gone"), false);
  assert.equal(memory.lookup("gone", true), undefined, "fresh asks again");
  now += MISSING_EXCHANGE_TTL_MS;
  assert.equal(memory.lookup("gone"), undefined);
  assert.equal(memory.lookup("here"), true);
  assert.equal(memory.exists("here"), true);
  assert.equal(memory.exists(""), true);
  memory.clear();
  assert.equal(memory.size, 0);
});

Deno.test("ExchangeMemory refuses names over 255 UTF-8 bytes without remembering them", () => {
  const memory = new ExchangeMemory();
  for (const name of ["x".repeat(256), "é".repeat(128), "x".repeat(100_000)]) {
    assert.equal(isExchangeName(name), false);
    assert.equal(memory.lookup(name), false);
    memory.found(name, false);
  }
  assert.equal(memory.size, 0);
  for (const name of ["x".repeat(255), "é".repeat(127), "vcd.replies"]) {
    assert.equal(isExchangeName(name), true, `${name.length} characters`);
  }
});

Deno.test("a reply exchange name over 255 bytes is rejected once, not requeued in a loop", async () => {
  const base = `/api/org/${SAMPLE.orgId}/ticketing`;
  await withService(ticketing(), async (h) => {
    h.cell.publishRaw(h.exchange, h.routingKey, buildRequest({ method: "GET", path: base }).body, {
      replyTo: "nowhere",
      headers: { replyToExchange: "x".repeat(300) },
      correlationId: "long-name",
    });
    const rejected = () => h.logs.filter((l) => l.includes("reply exchange does not exist")).length;
    await eventually(() => rejected() > 0);
    const ok = await h.cell.send(
      h.exchange,
      h.routingKey,
      buildRequest({ method: "GET", path: base, headers: { Accept: "application/json" } }),
    ).then(decodeReply);
    assert.equal(ok.status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rejected(), 1);
    assert.equal((await h.admin.queueInfo(h.queue))?.messages, 0);
  });
});
