/**
 * What `main.ts serve` puts on the wire and declares on the broker, seen from outside: the reply
 * message's properties and headers, body sniffing, the queue arguments read back from the broker
 * (rabbitmqctl), dead-lettering, and a reply whose confirm never comes being requeued and
 * answered again (a proxy withholds the confirm; the broker's redelivery is what is observed).
 */

import assert from "node:assert/strict";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import { buildRequest, SAMPLE } from "../lib/sim/cell.ts";
import { AMQP_URL, eventually, uniqueName } from "./broker.ts";
import {
  BrokerProxy,
  logLines,
  RawCell,
  replyJson,
  sample,
  Serve,
  waitForLine,
} from "./entrypoint.ts";

const TICKETS = `/api/org/${SAMPLE.orgId}/ticketing`;

Deno.test("a reply carries the correlation id, messageType ProcessHttpResponse, a 15 s TTL and JSON content type", async () => {
  const serve = await Serve.start();
  const cell = await RawCell.connect();
  try {
    const env = buildRequest({
      method: "POST",
      path: TICKETS,
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: '{"message":"wire"}',
    });
    const sent = cell.send(serve.exchange, "gcp-ticketing", env);
    const reply = await sent;
    const p = reply.properties;
    assert.equal(reply.fields.exchange, cell.replyExchange);
    assert.equal(reply.fields.routingKey, cell.replyQueue);
    assert.equal(typeof p.correlationId, "string");
    assert.equal(p.contentType, "application/json");
    assert.equal(p.expiration, "15000");
    assert.deepEqual(p.headers, { messageType: "ProcessHttpResponse" });
    const body = replyJson(reply);
    assert.equal(body.id, env.id);
    assert.equal(body.statusCode, 201);
  } finally {
    await cell.close();
    await serve.close();
  }
});

Deno.test("a request body without Content-Type is sniffed: JSON and XML are read, other text is 415", async () => {
  const serve = await Serve.start();
  const cell = await RawCell.connect();
  try {
    const post = async (body: string) => {
      const env = buildRequest({
        method: "POST",
        path: TICKETS,
        headers: { Accept: "application/json" },
        body,
      });
      const r = replyJson(await cell.send(serve.exchange, "gcp-ticketing", env));
      return {
        status: r.statusCode,
        text: new TextDecoder().decode(Uint8Array.fromBase64(r.body)),
      };
    };
    const json = await post('  {"message":"sniffed json"}');
    assert.equal(json.status, 201, json.text);
    assert.match(json.text, /sniffed json/);
    const xml = await post("<Ticket><Message>sniffed xml</Message></Ticket>");
    assert.equal(xml.status, 201, xml.text);
    assert.match(xml.text, /sniffed xml/);
    assert.equal((await post("message=plain")).status, 415);
  } finally {
    await cell.close();
    await serve.close();
  }
});

/** `name → {durable, arguments}` of the broker's queues, from rabbitmqctl. */
async function queuesOnBroker(): Promise<
  Map<string, { durable: boolean; arguments: Record<string, unknown> }>
> {
  const out = await new Deno.Command("rabbitmqctl", {
    args: ["list_queues", "name", "durable", "arguments", "--formatter", "json", "-q"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const rows = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    name: string;
    durable: boolean;
    arguments: unknown;
  }[];
  return new Map(rows.map((r) => [r.name, { durable: r.durable, arguments: argsOf(r.arguments) }]));
}

/** rabbitmqctl prints arguments as `[name, type, value]` triples (or an object). */
function argsOf(raw: unknown): Record<string, unknown> {
  if (Array.isArray(raw)) {
    return Object.fromEntries(raw.map((t: unknown[]) => [String(t[0]), t[t.length - 1]]));
  }
  return (raw ?? {}) as Record<string, unknown>;
}

Deno.test("the queue is durable with vCD's timeout as message TTL by default; --dead-letter-exchange, --queue-type quorum and --delivery-limit add theirs", async () => {
  const classic = await Serve.start();
  const dlx = uniqueName("vcdext.test.dlx");
  let quorum: Serve | undefined;
  try {
    quorum = await Serve.start({
      flags: ["--dead-letter-exchange", dlx, "--queue-type", "quorum", "--delivery-limit", "3"],
    });
    const queues = await queuesOnBroker();
    assert.deepEqual(queues.get(classic.queue), {
      durable: true,
      arguments: { "x-message-ttl": 10_000 },
    });
    assert.deepEqual(queues.get(quorum.queue), {
      durable: true,
      arguments: {
        "x-dead-letter-exchange": dlx,
        "x-delivery-limit": 3,
        "x-message-ttl": 10_000,
        "x-queue-type": "quorum",
      },
    });
  } finally {
    await quorum?.close();
    await classic.close();
  }
});

Deno.test("with --dead-letter-exchange, a message that cannot be answered is dead-lettered there", async () => {
  const dlx = uniqueName("vcdext.test.dlx");
  const admin = await BrokerAdmin.connect(AMQP_URL);
  await admin.declareExchange(dlx, "fanout");
  await admin.declareQueue(dlx, { exchange: dlx, keys: [""] });
  const serve = await Serve.start({
    flags: ["--dead-letter-exchange", dlx],
    cleanup: { queues: [dlx], exchanges: [dlx] },
  });
  const cell = await RawCell.connect();
  try {
    const env = buildRequest({ method: "GET", path: TICKETS });
    // No reply_to: nothing to answer to.
    cell.publish(serve.exchange, "gcp-ticketing", env.body, {
      correlationId: "no-reply-to",
      headers: { replyToExchange: cell.replyExchange },
    });
    await eventually(async () => (await admin.queueInfo(dlx))?.messages === 1, 10_000);
    const [dead] = await admin.take(dlx);
    assert.equal(dead?.properties.correlationId, "no-reply-to");
    assert.equal((await admin.queueInfo(serve.queue))?.messages, 0);
  } finally {
    await cell.close();
    await serve.close();
    await admin.close();
  }
});

Deno.test("a reply whose confirm never comes is requeued; the redelivery is answered again and acked", async () => {
  const proxy = new BrokerProxy();
  const serve = await Serve.start({ amqpUrl: proxy.url });
  const cell = await RawCell.connect();
  try {
    proxy.dropConfirms(1);
    const env = buildRequest({ method: "GET", path: TICKETS });
    const first = await cell.send(serve.exchange, "gcp-ticketing", env, { timeoutMs: 20_000 });
    assert.equal(replyJson(first).statusCode, 200);
    // The broker has the reply (the cell got it); the service never heard so. After its confirm
    // timeout (5 s) it must give the request back to the broker, which delivers it again.
    const requeued = await waitForLine(serve.proc, "request", (l) => l.disposition === "requeued");
    assert.equal(requeued.correlationId, first.properties.correlationId);
    const again = await waitForLine(
      serve.proc,
      "request",
      (l) => l.correlationId === requeued.correlationId && l.disposition === "acked",
    );
    assert.equal(again.status, 200);
    assert.equal(
      again.shortcut,
      "replayed",
      "the redelivery is answered from the remembered reply",
    );
    await eventually(() => cell.replies.length === 2, 10_000);
    assert.deepEqual(cell.replies.map((r) => replyJson(r).id), [env.id, env.id]);
    assert.equal(proxy.dropped, 1);
    const admin = await BrokerAdmin.connect(AMQP_URL);
    try {
      assert.equal((await admin.queueInfo(serve.queue))?.messages, 0);
    } finally {
      await admin.close();
    }
    const metrics = await serve.metrics();
    assert.equal(
      sample(
        metrics,
        'vcdext_replies_failed_total{extension="gcp-ticketing",transport="amqp",reason="requeued"}',
      ),
      1,
    );
    assert.equal(logLines(serve.proc).filter((l) => l.msg === "request").length, 2);
  } finally {
    await cell.close();
    await serve.close();
    await proxy.close();
  }
});
