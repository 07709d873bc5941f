/**
 * @module How much one request to the ticketing example can cost, in process, through the real
 * envelope decoder and `dispatch()` (no broker, so the figures are the handler's own):
 *
 * ```
 * ./node_modules/deno/deno run -A tests/bench/ticket_bounds.ts
 * ```
 *
 * 1. 20,000 POSTs into one organisation (75-character messages, then 4,096-character ones, the
 *    most a ticket may hold), then one GET of the list (JSON): how many POSTs were stored, the GET's time, its entity size and the size of the reply message on the wire
 *    (base64 entity in the JSON envelope).
 * 2. 2,000 tickets, then one GET of the list carrying 20,000 extra headers: the envelope's
 *    headers are looked up by scanning (`lib/core/envelope.ts`), so every `Host` lookup costs
 *    20,000 comparisons.
 *
 * Each GET is run `RUNS` times on the same store; the median and the worst are printed.
 */

import { compile, dispatch } from "../../lib/core/dispatch.ts";
import { decodeRequest, encodeReply, type Reply } from "../../lib/core/envelope.ts";
import { MemoryTicketStore, ticketing } from "../../handlers/ticketing.ts";
import { envelopeBytes, httpElement, ORG } from "../fixtures.ts";

const RUNS = 5;
const BASE = `/api/org/${ORG.id}/ticketing`;
const MESSAGE = "The storage policy of org VDC prod-01 is full; new VMs cannot be deployed";

/** An envelope as a cell sends it; decoded per call, so headers are looked up the real way. */
function envelope(
  method: string,
  query: string | null,
  headers: Record<string, string>,
  body = "",
): Uint8Array {
  return envelopeBytes(httpElement({
    method,
    requestUri: BASE,
    queryString: query,
    headers: { Host: "vcd.example.com", Accept: "application/*+json;version=36.0", ...headers },
    body: new TextEncoder().encode(body).toBase64(),
  }));
}

async function send(app: ReturnType<typeof compile>, bytes: Uint8Array): Promise<Reply> {
  return (await dispatch(app, decodeRequest(bytes))).reply;
}

const bodyBytes = (r: Reply) =>
  typeof r.body === "string" ? new TextEncoder().encode(r.body).byteLength : r.body.byteLength;

/** Times `RUNS` sends of the same envelope; returns the last reply and the median and max ms. */
async function time(app: ReturnType<typeof compile>, bytes: Uint8Array) {
  const ms: number[] = [];
  let reply: Reply | undefined;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    reply = await send(app, bytes);
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  return { reply: reply!, median: ms[Math.floor(RUNS / 2)]!, max: ms.at(-1)! };
}

async function fill(
  app: ReturnType<typeof compile>,
  n: number,
  message = MESSAGE,
): Promise<Map<number, number>> {
  const post = envelope(
    "POST",
    null,
    { "Content-Type": "application/json" },
    JSON.stringify({ message }),
  );
  const statuses = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const { status } = await send(app, post);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  return statuses;
}

const fmt = (n: number) => n.toFixed(1);
const statusText = (m: Map<number, number>) =>
  [...m].map(([status, count]) => `${count}×${status}`).join(", ");

// 1. 20,000 tickets, one GET of the list: with a 75-character message, then with the longest
// message the example accepts (4,096 characters).
for (const message of [MESSAGE, "m".repeat(4096)]) {
  const app = compile(ticketing(new MemoryTicketStore()));
  const started = performance.now();
  const statuses = await fill(app, 20_000, message);
  const fillMs = performance.now() - started;
  console.log(
    `20,000 POSTs of ${message.length} characters in ${fmt(fillMs)} ms: ${statusText(statuses)}`,
  );
  for (const query of [null, "pageSize=128", "page=8&pageSize=128"]) {
    const { reply, median, max } = await time(app, envelope("GET", query, {}));
    const wire = encodeReply(reply).byteLength;
    console.log(
      `GET ${query === null ? "(no query)" : `?${query}`}: ${reply.status}, median ${
        fmt(median)
      } ms (max ${fmt(max)}), entity ${bodyBytes(reply).toLocaleString("en")} B, ` +
        `reply message ${wire.toLocaleString("en")} B`,
    );
  }
}

// 2. 2,000 tickets, one GET with 20,000 extra headers.
{
  const app = compile(ticketing(new MemoryTicketStore()));
  const statuses = await fill(app, 2_000);
  const headers: Record<string, string> = {};
  for (let i = 0; i < 20_000; i++) headers[`X-Filler-${i}`] = "x";
  const plain = await time(app, envelope("GET", "pageSize=128", {}));
  const heavy = await time(app, envelope("GET", "pageSize=128", headers));
  console.log(
    `2,000 POSTs (${statusText(statuses)}); GET ?pageSize=128 with 20,000 extra headers: ` +
      `${heavy.reply.status}, median ${fmt(heavy.median)} ms (max ${fmt(heavy.max)}); ` +
      `without them: median ${fmt(plain.median)} ms`,
  );
}
