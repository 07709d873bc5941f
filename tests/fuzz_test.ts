/**
 * Hostile input: 10,000+ generated malformed envelopes through the decoder and the dispatch
 * path of the ticketing extension. Nothing may throw, nothing may answer 5xx, every malformed
 * one is answered 4xx or rejected, no prototype gets polluted, and memory stays flat.
 */

import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { decodeReply } from "../lib/sim/cell.ts";
import { type Delivery, endpoint } from "../lib/core/service.ts";
import { type AmqpAddress, amqpDelivery } from "../lib/transport/amqp/delivery.ts";
import { systemClock } from "../lib/transport/clock.ts";
import { ticketing } from "../handlers/ticketing.ts";
import { ORG, prng, securityElement, utf8 } from "./fixtures.ts";

const PATH = `/api/org/${ORG.id}/ticketing`;
const b64 = (s: string) => utf8(s).toBase64();

const HOSTILE_XML = [
  `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><Ticket><Message>&lol3;</Message></Ticket>`,
  `<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Ticket><Message>&xxe;</Message></Ticket>`,
  `<!DOCTYPE t SYSTEM "http://127.0.0.1:1/evil.dtd"><Ticket><Message>x</Message></Ticket>`,
  `<Ticket><Message>&undefined;</Message></Ticket>`,
  `<Ticket><Message>unclosed</Ticket>`,
  `${"<a>".repeat(50_000)}${"</a>".repeat(50_000)}`,
  `<Ticket><__proto__><polluted>yes</polluted></__proto__><Message></Message></Ticket>`,
  `<Ticket><Message>x</Message></Ticket><Ticket/>`,
];

const HOSTILE_JSON = [
  `{"__proto__":{"polluted":"yes"},"message":""}`,
  `{"constructor":{"prototype":{"polluted":"yes"}},"status":"nope"}`,
  `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
  `{"message": 42}`,
  `{"message": "ok", "status": {"$gt": ""}}`,
  `{"message":`,
];

function generate(rand: () => number, n: number): { delivery: Delivery<AmqpAddress> } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  // One in seven has no way to reply at all: it must be rejected, not answered.
  const coords = n % 7 === 0
    ? { correlationId: `c${n}`, headers: { replyToExchange: "x" } }
    : { correlationId: `c${n}`, replyTo: "r", headers: { replyToExchange: "x" } };
  const kind = n % 10;
  const http: Record<string, unknown> = {
    id: `f${n}`,
    method: "POST",
    requestUri: PATH,
    queryString: null,
    headers: { Accept: "application/*+json;version=36.0", "Content-Type": "application/json" },
    body: "",
  };
  let content: Uint8Array;
  switch (kind) {
    case 0: { // random bytes
      const bytes = new Uint8Array(Math.floor(rand() * 300));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
      content = bytes;
      break;
    }
    case 1: { // truncated valid envelope
      const full = JSON.stringify([http, securityElement(), {}]);
      content = utf8(full.slice(0, Math.floor(rand() * (full.length - 1))));
      break;
    }
    case 2: { // wrong types in element 0
      const field = pick(["id", "method", "requestUri", "body", "headers", "queryString"]);
      http[field] = pick([null, 7, true, [], {}, "", "x".repeat(10)]);
      if (field === "body" || field === "headers" || field === "queryString") http.body = "!!!";
      content = utf8(JSON.stringify([http, pick([null, 5, "s", [], securityElement()])]));
      break;
    }
    case 3: // not an array / wrong top level
      content = utf8(JSON.stringify(pick([{}, "str", 1, null, [], [null], [[]], [1, 2, 3]])));
      break;
    case 4: // bad base64
      http.body = pick(["@@@", "a b c", "====", "Zm9v!", "\u0000", "é"]);
      content = utf8(JSON.stringify([http, securityElement()]));
      break;
    case 5: // huge strings: over the envelope limit
      http.body = "A".repeat(600_000 + Math.floor(rand() * 10_000));
      http.headers = { Accept: "x".repeat(600_000) };
      content = utf8(JSON.stringify([http, securityElement()]));
      break;
    case 6: // deep nesting
      content = utf8(`${"[".repeat(1000 + Math.floor(rand() * 50_000))}`);
      break;
    case 7: // hostile XML bodies
      http.headers = {
        Accept: "application/*+xml;version=36.0",
        "Content-Type": "application/xml",
      };
      http.body = b64(pick(HOSTILE_XML));
      content = utf8(JSON.stringify([http, securityElement()]));
      break;
    case 8: // hostile JSON bodies
      http.body = b64(pick(HOSTILE_JSON));
      content = utf8(JSON.stringify([http, securityElement()]));
      break;
    default: { // garbage methods, paths and headers
      http.method = pick(["", "G E T", "<script>", "x".repeat(40), "PROPFIND", "get"]);
      http.requestUri = pick([
        "",
        "api",
        "//",
        "/%",
        "/api/org/%zz/ticketing",
        `${PATH}/%E0%A4%A`,
        "/" + "a/".repeat(5000),
      ]);
      http.headers = {
        Accept: pick(["", ";;;", "*/*;q=x", "\u0000", "application/*+xml;version=36.0"]),
      };
      content = utf8(JSON.stringify([http, securityElement()]));
    }
  }
  return { delivery: amqpDelivery({ content, ...coords }) };
}

Deno.test("10,000 malformed envelopes: no crash, no 5xx, each answered 4xx or rejected, memory flat", async () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? 20261122);
  const rand = prng(seed);
  const ep = endpoint(ticketing(), {
    maxEnvelopeBytes: 1_048_576,
    maxBodyBytes: 524_288,
    timeoutMs: 8000,
    clock: systemClock,
  });
  const total = 10_000;
  const counts = { rejected: 0, "4xx": 0, "2xx": 0, other: 0 };
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const memory = () => {
    gc();
    const m = Deno.memoryUsage();
    return { rss: m.rss / 1_048_576, heap: m.heapUsed / 1_048_576 };
  };
  // Warm up, then measure at the start, half way and the end: a leak grows between the last two.
  for (let n = 0; n < 500; n++) await ep.handle(generate(prng(1), n).delivery);
  const start = memory();
  let half = start;
  for (let n = 0; n < total; n++) {
    if (n === total / 2) half = memory();
    const { delivery } = generate(rand, n);
    let decision;
    try {
      decision = await ep.handle(delivery);
    } catch (e) {
      assert.fail(`case ${n} (seed ${seed}) threw: ${e}`);
    }
    if (decision.kind === "reject") {
      counts.rejected++;
      continue;
    }
    assert.equal(decision.kind, "reply", `case ${n} was acked without a reply`);
    if (decision.kind !== "reply") continue;
    const reply = decodeReply(decision.body);
    assert.equal(reply.status, decision.outcome.reply.status);
    if (reply.status >= 400 && reply.status < 500) counts["4xx"]++;
    else if (reply.status < 300 && n % 10 === 8) counts["2xx"]++; // a hostile-looking JSON body may be valid
    else {assert.fail(
        `case ${n} (seed ${seed}) answered ${reply.status}: ${reply.text.slice(0, 200)}`,
      );}
  }
  const end = memory();
  assert.equal(
    ({} as Record<string, unknown>).polluted,
    undefined,
    "Object.prototype was polluted",
  );
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
  const mib = (m: { rss: number; heap: number }) =>
    `RSS ${m.rss.toFixed(1)} MiB, heap ${m.heap.toFixed(1)} MiB`;
  console.log(
    `fuzz: ${total} cases (seed ${seed}): ${
      counts["4xx"]
    } answered 4xx, ${counts.rejected} rejected, ` +
      `${counts["2xx"]} valid-after-all 2xx\n  start ${mib(start)}; half ${mib(half)}; end ${
        mib(end)
      }`,
  );
  assert.ok(counts.rejected > 0 && counts["4xx"] > 0, "a category of outcome never happened");
  assert.ok(
    end.heap - half.heap < 8,
    `heap grew ${(end.heap - half.heap).toFixed(1)} MiB in the second half`,
  );
  assert.ok(
    end.rss - half.rss < 48,
    `RSS grew ${(end.rss - half.rss).toFixed(1)} MiB in the second half`,
  );
});
