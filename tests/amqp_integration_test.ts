/**
 * Integration against the real broker at 127.0.0.1:5672: the whole request→reply path through
 * RabbitMQ, with the cell simulated by lib/sim/cell.ts and lib/transport/amqp/cell_client.ts's CellClient.
 */

import assert from "node:assert/strict";
import {
  buildRequest,
  type CellReply,
  type CellRequest,
  decodeReply,
  SAMPLE,
} from "../lib/sim/cell.ts";
import { defineExtension } from "../lib/core/extension.ts";
import { MemoryTicketStore, ticketing } from "../handlers/ticketing.ts";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import { AMQP_URL, eventually, withService } from "./broker.ts";

const base = `/api/org/${SAMPLE.orgId}/ticketing`;
const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbmlzdHJhdG9yIn0.c2lnbmF0dXJlLXNlY3JldA";
const SESSION = "f3b1c2d4e5a64b7c8d9e0f1a2b3c4d5e";

const fixedClock = () => new Date("2026-11-22T10:00:00.000Z");

Deno.test("the ticketing flow works through the broker in JSON and XML", async () => {
  await withService(ticketing(new MemoryTicketStore(fixedClock)), async (h) => {
    const ask = async (r: CellRequest): Promise<CellReply> =>
      decodeReply(await h.cell.send(h.exchange, h.routingKey, buildRequest(r)));

    const created = await ask({
      method: "POST",
      path: base,
      headers: {
        Accept: "application/*+json;version=36.0",
        "Content-Type": "application/json",
        Authorization: `Bearer ${TOKEN}`,
        "x-vcloud-authorization": SESSION,
      },
      body: '{"message":"disk is full"}',
    });
    assert.equal(created.status, 201);
    assert.equal(
      created.headers["Content-Type"],
      "application/vnd.example.ticket+json;version=36.0",
    );
    assert.equal(created.headers.Location, `${base}/1`);
    assert.deepEqual(JSON.parse(created.text), {
      id: "1",
      org: SAMPLE.orgId,
      message: "disk is full",
      status: "open",
      created: "2026-11-22T10:00:00.000Z",
      href: `${base}/1`,
    });

    const createdXml = await ask({
      method: "POST",
      path: base,
      headers: { Accept: "application/*+xml;version=36.0", "Content-Type": "application/xml" },
      body: "<Ticket><Message>VPN &amp; DNS</Message><Status>closed</Status></Ticket>",
    });
    assert.equal(createdXml.status, 201);
    assert.equal(
      createdXml.text,
      `<?xml version="1.0" encoding="UTF-8"?><Ticket xmlns="urn:example:ticketing" id="2" status="closed" href="${base}/2"><Message>VPN &amp; DNS</Message><Created>2026-11-22T10:00:00.000Z</Created></Ticket>`,
    );

    const list = await ask({
      method: "GET",
      path: base,
      headers: { Accept: "application/*+xml;version=36.0" },
    });
    assert.equal(list.status, 200);
    assert.equal(list.headers["Content-Type"], "application/vnd.example.tickets+xml;version=36.0");
    assert.match(
      list.text,
      /<Tickets xmlns="urn:example:ticketing" total="2" pageSize="25" page="1" /,
    );

    const updated = await ask({
      method: "PUT",
      path: `${base}/1`,
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: '{"status":"closed"}',
    });
    assert.equal(updated.status, 200);
    assert.equal(JSON.parse(updated.text).status, "closed");

    const deleted = await ask({
      method: "DELETE",
      path: `${base}/1`,
      headers: { Accept: "application/json" },
    });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, "");

    const gone = await ask({
      method: "GET",
      path: `${base}/1`,
      headers: { Accept: "application/*+xml;version=36.0" },
    });
    assert.equal(gone.status, 404);
    assert.equal(
      gone.headers["Content-Type"],
      "application/vnd.vmware.vcloud.error+xml;version=36.0",
    );
    assert.match(gone.text, /majorErrorCode="404" minorErrorCode="NOT_FOUND"/);

    const logs = h.logs.join("\n");
    assert.ok(logs.length > 0, "the service logged nothing");
    assert.ok(!logs.includes(TOKEN), "a bearer token reached the log");
    assert.ok(!logs.includes(SESSION), "an x-vcloud-authorization token reached the log");
  });
});

Deno.test("1,000 requests at 64 in flight get exactly one matching reply each", async () => {
  await withService(ticketing(), async (h) => {
    const total = 1_000;
    const inFlight = 64;
    let next = 0;
    let mismatched = 0;
    let failed = 0;
    const seen = new Set<string>();
    const worker = async () => {
      while (next < total) {
        const n = next++;
        const env = buildRequest({
          method: "POST",
          path: base,
          headers: { Accept: "application/json", "Content-Type": "application/json" },
          body: JSON.stringify({ message: `request ${n}` }),
        });
        try {
          const reply = decodeReply(
            await h.cell.send(h.exchange, h.routingKey, env, { timeoutMs: 20_000 }),
          );
          if (
            reply.id !== env.id || reply.status !== 201 ||
            JSON.parse(reply.text).message !== `request ${n}`
          ) {
            mismatched++;
          }
          seen.add(reply.id);
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    // A duplicate the service sent before its last reply sits before it in the cell's reply
    // queue: one more round trip, and every such duplicate has been counted.
    await h.cell.send(h.exchange, h.routingKey, buildRequest({ method: "GET", path: base }), {
      timeoutMs: 20_000,
    });
    assert.deepEqual(
      { answered: seen.size, lost: failed, mismatched, duplicated: h.cell.unmatched },
      { answered: total, lost: 0, mismatched: 0, duplicated: 0 },
    );
  });
});

Deno.test("a message without reply_to is dead-lettered once and the next request is served", async () => {
  const dlx = `vcdext.test.dlx.${crypto.randomUUID().slice(0, 8)}`;
  await withService(ticketing(), async (h) => {
    h.cell.publishRaw(h.exchange, h.routingKey, buildRequest({ method: "GET", path: base }).body, {
      headers: { replyToExchange: h.cell.replyExchange },
      correlationId: "no-reply-to",
    });
    h.cell.publishRaw(h.exchange, h.routingKey, buildRequest({ method: "GET", path: base }).body, {
      replyTo: h.cell.replyQueue,
      correlationId: "no-reply-exchange",
    });
    const reply = decodeReply(
      await h.cell.send(
        h.exchange,
        h.routingKey,
        buildRequest({ method: "GET", path: base, headers: { Accept: "application/json" } }),
      ),
    );
    assert.equal(reply.status, 200);
    await eventually(async () => (await h.admin.queueInfo(dlx))?.messages === 2);
    const dead = await h.admin.take(dlx);
    assert.deepEqual(dead.map((m) => m.properties.correlationId).sort(), [
      "no-reply-exchange",
      "no-reply-to",
    ]);
    // Rejected, not requeued: the service's queue holds nothing.
    assert.equal((await h.admin.queueInfo(h.queue))?.messages, 0);
    assert.equal(h.logs.filter((l) => l.includes("message rejected without requeue")).length, 2);
  }, {
    queueArguments: { "x-dead-letter-exchange": dlx },
    before: async (admin) => {
      await admin.declareExchange(dlx, "fanout");
      await admin.declareQueue(dlx, { exchange: dlx, keys: [""] });
    },
  }).finally(async () => {
    const admin = await BrokerAdmin.connect(AMQP_URL);
    await admin.delete({ queues: [dlx], exchanges: [dlx] });
    await admin.close();
  });
});

Deno.test("an undecodable body with reply coordinates is answered 400", async () => {
  await withService(ticketing(), async (h) => {
    const raw = await h.cell.send(h.exchange, h.routingKey, {
      id: "x",
      body: new TextEncoder().encode("{not json"),
    });
    const reply = decodeReply(raw);
    assert.equal(reply.status, 400);
    assert.equal(reply.id, "");
    assert.match(reply.text, /Cannot decode request: body is not JSON/);
    // And the service goes on serving.
    const ok = decodeReply(
      await h.cell.send(
        h.exchange,
        h.routingKey,
        buildRequest({ method: "GET", path: base, headers: { Accept: "application/json" } }),
      ),
    );
    assert.equal(ok.status, 200);
  });
});

Deno.test("a reply to an exchange that does not exist is rejected, not looped, and others still get theirs", async () => {
  await withService(ticketing(), async (h) => {
    h.cell.publishRaw(h.exchange, h.routingKey, buildRequest({ method: "GET", path: base }).body, {
      replyTo: "nowhere",
      headers: { replyToExchange: "vcdext.test.no-such-exchange" },
      correlationId: "lost-cause",
    });
    const replies = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          h.cell.send(
            h.exchange,
            h.routingKey,
            buildRequest({ method: "GET", path: base, headers: { Accept: "application/json" } }),
          )
            .then(decodeReply),
      ),
    );
    assert.ok(replies.every((r) => r.status === 200));
    await eventually(() => h.logs.some((l) => l.includes("reply exchange does not exist")));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(h.logs.filter((l) => l.includes("reply exchange does not exist")).length, 1);
    assert.equal((await h.admin.queueInfo(h.queue))?.messages, 0);
  });
});

Deno.test("a route's declared rights are enforced through the broker", async () => {
  const right = "urn:vcloud:right:0b1c2d3e-0000-4f5a-8b9c-1d2e3f4a5b6c";
  let calls = 0;
  const ext = defineExtension({
    name: "guarded",
    namespace: "com.example.guarded",
    routingKey: "guarded",
    routes: [{
      method: "GET",
      path: "/api/guarded",
      rights: [right],
      handle: () => ({ body: { calls: ++calls } }),
    }],
  });
  await withService(ext, async (h) => {
    const ask = async (rights: string[]) =>
      decodeReply(
        await h.cell.send(
          h.exchange,
          h.routingKey,
          buildRequest({ method: "GET", path: "/api/guarded", rights }),
        ),
      );
    assert.equal((await ask([])).status, 403);
    assert.equal(calls, 0);
    const ok = await ask([right]);
    assert.equal(ok.status, 200);
    assert.equal(calls, 1);
  });
});
