/**
 * Hostile input through the shared broker: one request must not stall the others, and a broker
 * password amqplib accepts must not reach an error message.
 */

import assert from "node:assert/strict";
import ticketing from "../handlers/ticketing.ts";
import { BrokerAdmin } from "../lib/amqp.ts";
import { buildRequest, decodeReply, SAMPLE } from "../lib/cell.ts";
import { CLIP_MARK } from "../lib/redact.ts";
import { withService } from "./broker.ts";

const PATH = `/api/org/${SAMPLE.orgId}/ticketing`;

Deno.test("a 128 KiB hostile XML body is answered 400 and does not hold up the next request", async () => {
  // `<a-a-…-a></b>`: the 400 quotes the element name, which the former scrub() took ~5 s of
  // CPU to scan; every request behind it waited as long.
  const body = `<${"a-".repeat(65_532)}a></b>`;
  assert.ok(body.length >= 128 * 1024 - 16);
  await withService(ticketing, async (h) => {
    const send = (method: string, extra: { body?: string; headers?: Record<string, string> }) =>
      h.cell.send(h.exchange, h.routingKey, buildRequest({ method, path: PATH, ...extra }), {
        timeoutMs: 30_000,
      }).then(decodeReply);
    await send("GET", {}); // connections and JIT warm before anything is timed
    const sent = performance.now();
    const hostile = send("POST", {
      body,
      headers: { "Content-Type": "application/xml", Accept: "application/json" },
    });
    await new Promise((r) => setTimeout(r, 50));
    const ordinary = send("GET", { headers: { Accept: "application/json" } }).then((reply) => ({
      reply,
      // From when the GET was due, not when it left: cell and service share this process, so a
      // stalled service would delay the sending too.
      ms: performance.now() - (sent + 50),
    }));
    const [p, g] = await Promise.all([hostile, ordinary]);
    assert.equal(p.status, 400);
    assert.equal(g.reply.status, 200);
    // An absolute bound, unlike the other timing tests, on purpose: with the linear scrubber
    // the hostile request costs a few milliseconds (tests/bench/hostile.ts measures it), the
    // former one took seconds; one second is far from both even on a loaded machine.
    assert.ok(g.ms < 1_000, `the GET behind the hostile POST took ${g.ms.toFixed(0)} ms`);
    const message = JSON.parse(p.text).message as string;
    assert.match(message, /^Cannot parse XML: Expected closing tag 'a-a-a[-a]*…' instead of/);
    assert.ok(message.includes(CLIP_MARK) && message.length < 300, message.slice(0, 300));
  });
});

Deno.test("a wrong broker password with a space, @ or / never appears in the connection error", async () => {
  for (const password of ["wr0ng PW-1234", "pa55@w0rd-5678", "pa55/w0rd-9012"]) {
    const url = `amqp://guest:${password}@127.0.0.1:5672`;
    let message = "";
    try {
      const admin = await BrokerAdmin.connect(url);
      await admin.close();
    } catch (e) {
      message = (e as Error).message;
    }
    assert.match(message, /^Cannot connect to amqp:\/\/guest:\[redacted\]@127\.0\.0\.1:5672/);
    for (const piece of password.split(/[ @/]/).filter((p) => p.length >= 4)) {
      assert.ok(!message.includes(piece), `${piece} in ${message}`);
    }
  }
});
