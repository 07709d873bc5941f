/**
 * @module Benchmark: what one hostile request costs everybody, through the local broker. The
 * service runs as its own process (`main.ts serve`, as deployed). A POST whose XML body is
 * `<a-a-…-a></b>` (a mismatched closing tag: the 400 quotes the element name) is published,
 * then 50 ms later an ordinary GET. Before the scrubber was made linear, the 400 took seconds
 * of CPU and the GET waited behind it on the service's one event loop.
 *
 * ```
 * ./node_modules/deno/deno run -A tests/bench/hostile.ts [--kib 128] [--rounds 3]
 * ```
 *
 * Prints, per round, the milliseconds from publishing to the reply for the POST and the GET,
 * then the median of each.
 */

import { BrokerAdmin, CellClient } from "../../lib/transport/amqp/mod.ts";
import { buildRequest, decodeReply, SAMPLE } from "../../lib/sim/cell.ts";
import { AMQP_URL, uniqueName } from "../broker.ts";
import { Proc } from "../proc.ts";

const arg = (name: string, fallback: number): number => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
};
const KIB = arg("kib", 128);
const ROUNDS = arg("rounds", 3);
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** `<a-a-…-a></b>` of about `kib` KiB. */
function hostileXml(kib: number): string {
  return `<${"a-".repeat(Math.floor((kib * 1024 - 8) / 2))}a></b>`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const path = `/api/org/${SAMPLE.orgId}/ticketing`;
const body = hostileXml(KIB);
const posts: number[] = [];
const gets: number[] = [];

const exchange = uniqueName("vcdext.bench.hostile");
const queue = `${exchange}.q`;
const svc = new Proc([
  MAIN,
  "serve",
  "--amqp-url",
  AMQP_URL,
  "--exchange",
  exchange,
  "--queue",
  queue,
  "--extension",
  "gcp-ticketing",
  "--http-port",
  "0",
]);
const admin = await BrokerAdmin.connect(AMQP_URL);
const cell = await CellClient.connect(AMQP_URL, { replyExchange: "vcdext.bench.cell" });
try {
  await svc.waitFor('"msg":"consuming"');
  const send = (method: string, extra: { body?: string; headers?: Record<string, string> }) => {
    const started = performance.now();
    return cell.send(exchange, "gcp-ticketing", buildRequest({ method, path, ...extra }), {
      timeoutMs: 600_000,
    }).then((bytes) => ({ reply: decodeReply(bytes), ms: performance.now() - started }));
  };
  await send("GET", {}); // warm-up: connection and JIT are not counted
  for (let round = 0; round < ROUNDS; round++) {
    const hostile = send("POST", {
      body,
      headers: {
        "Content-Type": "application/vnd.example.ticket+xml",
        Accept: "application/*+xml",
      },
    });
    await new Promise((r) => setTimeout(r, 50));
    const ordinary = send("GET", { headers: { Accept: "application/*+json" } });
    const [p, g] = await Promise.all([hostile, ordinary]);
    if (p.reply.status !== 400) throw new Error(`the hostile POST got ${p.reply.status}`);
    if (g.reply.status !== 200) throw new Error(`the GET got ${g.reply.status}`);
    posts.push(p.ms);
    gets.push(g.ms);
    console.log(
      `round ${round + 1}: ${body.length} B hostile POST answered 400 in ${p.ms.toFixed(1)} ms ` +
        `(error document ${p.reply.text.length} B); GET published 50 ms later answered in ${
          g.ms.toFixed(1)
        } ms`,
    );
  }
  console.log(
    `median of ${ROUNDS}: hostile POST ${median(posts).toFixed(1)} ms, ` +
      `GET behind it ${median(gets).toFixed(1)} ms`,
  );
} finally {
  await cell.close();
  await svc.end();
  await admin.delete({ queues: [queue], exchanges: [exchange] });
  await admin.close();
}
