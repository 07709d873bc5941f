/**
 * @module The benchmark's **baseline**: the cheapest possible API-extension responder, run by
 * `tests/bench/run.ts` side by side with vcdext so that vcdext's cost is measured as a ratio
 * against it on the same broker in the same run. Not product code.
 *
 * This file is the single documented exception to "only `lib/transport/amqp/` imports amqplib": a
 * baseline must not go through the code it is the baseline for.
 *
 * It uses the same AMQP settings as `startService` (`noDelay: true`, prefetch 128, manual ack
 * of each message, a durable direct exchange and a durable classic queue) and answers every
 * delivery with one **fixed** reply, built once at start-up: no parsing, no allocation beyond
 * what amqplib does. The reply goes to the exchange named by the `replyToExchange` header
 * with routing key `reply_to`, the request's `correlationId`, and the same properties vcdext
 * sets (content type, `messageType` header, `expiration`), so the broker does the same work
 * for both. The fixed body is a 201 ticket reply of the size vcdext sends.
 *
 * Confirms: by default the reply is published on the consuming channel without publisher
 * confirms and the request is acked at once, exactly the "fixed reply, no parsing, one ack per
 * message" baseline of issue 6. vcdext must wait for the broker's confirm before it acks (its
 * reliability contract); `--confirm` makes the baseline do the same (a separate confirm
 * channel, ack in the confirm callback) to see what that contract costs on its own.
 *
 * Diagnostic mode `--endpoint`: instead of the fixed reply, each delivery goes through vcdext's
 * pure path (`endpoint(ticketing).handle` from `lib/core/service.ts`, configured as `serve` does)
 * and its real reply is published, still with this file's bare AMQP loop. Set against vcdext,
 * it separates the cost of vcdext's AMQP adapter (`lib/transport/amqp/`) from that of decoding,
 * dispatching and encoding. It is not the baseline of the ratios.
 *
 * ```
 * deno run -A tests/bench/minimal_responder.ts --url amqp://guest:guest@127.0.0.1:5672 \
 *   --exchange X --queue Q --routing-key K [--prefetch 128] [--confirm] [--endpoint]
 * ```
 *
 * Prints `ready` on stdout once consuming; stops on SIGTERM/SIGINT.
 */

import amqp from "amqplib";
import type { Channel, ConfirmChannel, ConsumeMessage, Options } from "amqplib";
import { Buffer } from "node:buffer";

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

const url = flag("url") ?? "amqp://guest:guest@127.0.0.1:5672";
const exchange = flag("exchange") ?? "vcdext.bench.minimal";
const queue = flag("queue") ?? `${exchange}.q`;
const routingKey = flag("routing-key") ?? "minimal";
const prefetch = Number(flag("prefetch") ?? "128");
const confirm = Deno.args.includes("--confirm");
const viaEndpoint = Deno.args.includes("--endpoint");

/** The one reply every request gets: a 201 ticket in JSON, as vcdext would send it. */
const FIXED_REPLY: Buffer = (() => {
  const href = "https://vcd.example.com/api/org/1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b/ticketing/1";
  const entity = JSON.stringify({
    id: "1",
    org: "1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
    message: "The storage policy of org VDC prod-01 is full; new VMs cannot be deployed",
    status: "open",
    created: "2026-11-22T10:00:00.000Z",
    href,
  });
  const bytes = new TextEncoder().encode(entity);
  return Buffer.from(JSON.stringify({
    id: "00000000-0000-4000-8000-000000000000",
    statusCode: 201,
    headers: {
      "Content-Type": "application/vnd.example.ticket+json;version=36.0",
      Location: href,
      "Content-Length": bytes.byteLength,
    },
    body: bytes.toBase64(),
    request: false,
  }));
})();

const model = await amqp.connect(url, {
  noDelay: true,
  clientProperties: { connection_name: "vcdext-bench-minimal" },
});
const ch: Channel = await model.createChannel();
await ch.prefetch(prefetch);
await ch.assertExchange(exchange, "direct", { durable: true, autoDelete: false });
await ch.assertQueue(queue, { durable: true });
await ch.bindQueue(queue, exchange, routingKey);
const replies: ConfirmChannel | undefined = confirm
  ? await model.createConfirmChannel()
  : undefined;

const props = (correlationId: unknown): Options.Publish => ({
  ...(typeof correlationId === "string" ? { correlationId } : {}),
  contentType: "application/json",
  headers: { messageType: "ProcessHttpResponse" },
  expiration: "15000",
});

function onMessage(msg: ConsumeMessage | null): void {
  if (msg === null) return;
  const p = msg.properties;
  const x = p.headers?.replyToExchange;
  const replyExchange = typeof x === "string" ? x : String(x ?? "");
  if (replies) {
    replies.publish(replyExchange, p.replyTo, FIXED_REPLY, props(p.correlationId), (err) => {
      if (err) ch.nack(msg, false, true);
      else ch.ack(msg);
    });
  } else {
    ch.publish(replyExchange, p.replyTo, FIXED_REPLY, props(p.correlationId));
    ch.ack(msg);
  }
}

/** `--endpoint`: vcdext's pure path behind this bare loop. */
async function endpointHandler(): Promise<(msg: ConsumeMessage | null) => void> {
  const { endpoint } = await import("../../lib/core/service.ts");
  const { systemClock } = await import("../../lib/transport/clock.ts");
  const { default: ticketing } = await import("../../handlers/ticketing.ts");
  const { amqpDelivery } = await import("../../lib/transport/amqp/delivery.ts");
  const ep = endpoint(ticketing, {
    maxEnvelopeBytes: 1_048_576,
    maxBodyBytes: 524_288,
    timeoutMs: 8_000,
    clock: systemClock,
    vcdTimeoutMs: 10_000,
    maxInFlight: 100,
  });
  return (msg) => {
    if (msg === null) return;
    const p = msg.properties;
    ep.handle(amqpDelivery({
      content: msg.content,
      correlationId: typeof p.correlationId === "string" ? p.correlationId : undefined,
      replyTo: typeof p.replyTo === "string" ? p.replyTo : undefined,
      headers: p.headers ?? {},
      redelivered: msg.fields.redelivered,
      receivedAt: Date.now(),
    })).then((d) => {
      if (d.kind === "reject") return ch.nack(msg, false, false);
      if (d.kind !== "reply") return ch.ack(msg);
      const body = Buffer.from(d.body.buffer, d.body.byteOffset, d.body.byteLength);
      if (replies) {
        replies.publish(d.to.exchange, d.to.routingKey, body, props(d.to.correlationId), (err) => {
          if (err) ch.nack(msg, false, true);
          else ch.ack(msg);
        });
      } else {
        ch.publish(d.to.exchange, d.to.routingKey, body, props(d.to.correlationId));
        ch.ack(msg);
      }
    });
  };
}

await ch.consume(queue, viaEndpoint ? await endpointHandler() : onMessage, { noAck: false });
console.log("ready");

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  const mb = (n: number) => Math.round(n / 1048576);
  const m = Deno.memoryUsage();
  console.error(
    `memory at exit: rss ${mb(m.rss)} MB, heapTotal ${mb(m.heapTotal)} MB, heapUsed ${
      mb(m.heapUsed)
    } MB, external ${mb(m.external)} MB`,
  );
  model.close().catch(() => {}).finally(() => Deno.exit(0));
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
