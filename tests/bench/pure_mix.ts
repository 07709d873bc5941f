/**
 * @module Diagnostic: vcdext's pure path (`endpoint(...).handle`, configured as `serve` does)
 * over the benchmark's request mix (`workload.ts`), in process, with many requests in flight
 * as under load, so its cost per request can be measured and profiled without a broker's noise.
 *
 * ```
 * deno run -A tests/bench/pure_mix.ts [--n 200000] [--in-flight 128] [--rounds 3]
 * deno run -A --cpu-prof --cpu-prof-dir=/tmp/prof tests/bench/pure_mix.ts   # then profile_summary.ts
 * ```
 *
 * Prints µs per request of wall time (single thread, nothing else running) per round, and the
 * median. Each round handles `n` requests; every reply is checked for its id and status.
 */

import { endpoint } from "../../lib/core/service.ts";
import { amqpDelivery } from "../../lib/transport/amqp/delivery.ts";
import { systemClock } from "../../lib/transport/clock.ts";
import ticketing from "../../handlers/ticketing.ts";
import { buildRequest, decodeReply } from "../../lib/sim/cell.ts";
import { cellRequest, EXPECTED_STATUS, mix, requestId } from "./workload.ts";

const arg = (name: string, fallback: number): number => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
};
const N = arg("n", 200_000);
const IN_FLIGHT = arg("in-flight", 128);
const ROUNDS = arg("rounds", 3);

const ep = endpoint(ticketing, {
  maxEnvelopeBytes: 1_048_576,
  maxBodyBytes: 524_288,
  timeoutMs: 8_000,
  clock: systemClock,
  vcdTimeoutMs: 10_000,
  maxInFlight: 1_000_000, // the in-process driver keeps IN_FLIGHT running; no 429s
});
const headers = { replyToExchange: "vcdext.cell", messageType: "ProcessHttpRequest" };
const dec = new TextDecoder();

/** Creates the ticket the GETs read; returns its id. */
async function seed(): Promise<string> {
  const id = requestId("seed", 0);
  const d = await ep.handle(amqpDelivery({
    content: buildRequest(cellRequest("post-json", "1", id)).body,
    correlationId: id,
    replyTo: "r",
    headers,
  }));
  if (d.kind !== "reply") throw new Error("seed not answered");
  const location = String(decodeReply(d.body).headers["Location"]);
  return location.slice(location.lastIndexOf("/") + 1);
}

async function round(r: number, ticket: string): Promise<number> {
  const live: string[] = [];
  const nextRequest = mix(`r${r}`, ticket, live);
  let next = 0;
  let bad = 0;
  async function worker(): Promise<void> {
    while (next < N) {
      const { kind, id, body: content } = nextRequest(next++);
      const d = await ep.handle(amqpDelivery({
        content,
        correlationId: id,
        replyTo: "r",
        headers,
        redelivered: false,
        receivedAt: Date.now(),
      }));
      if (d.kind !== "reply") {
        bad++;
        continue;
      }
      // The cheapest check that the reply is this request's: id and status in the JSON text.
      const text = dec.decode(d.body);
      if (!text.includes(id) || !text.includes(`"statusCode":${EXPECTED_STATUS[kind]}`)) bad++;
      else if (kind.startsWith("post")) {
        const m = /ticketing\/(\d+)"/.exec(text);
        if (m) live.push(m[1]!);
      }
    }
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const us = ((performance.now() - t0) * 1000) / N;
  console.log(
    `round ${r}: ${N} requests, ${IN_FLIGHT} in flight: ${us.toFixed(2)} µs/req, ${bad} bad`,
  );
  if (bad > 0) throw new Error(`${bad} replies wrong`);
  return us;
}

const ticket = await seed();
const results: number[] = [];
for (let r = 0; r < ROUNDS; r++) results.push(await round(r, ticket));
results.sort((a, b) => a - b);
console.log(`median ${results[Math.floor(results.length / 2)]!.toFixed(2)} µs/req`);
