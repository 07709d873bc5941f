import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decodeReply } from "../lib/sim/cell.ts";
import { defineExtension, route } from "../lib/core/extension.ts";
import { type Decision, endpoint, type ReplyDecision } from "../lib/core/service.ts";
import type { AmqpAddress } from "../lib/transport/amqp/delivery.ts";
import {
  AUTH_HEADERS,
  envelopeBytes,
  httpElement,
  leaksCredential,
  ORG,
  SAMPLE_PROPERTIES,
  SAMPLE_REQUEST,
  SAMPLE_REQUEST_BYTES,
  sampleDelivery,
  utf8,
} from "./fixtures.ts";

/** An extension that echoes what it received about the section 2.3 sample's route. */
const echo = defineExtension({
  name: "echo",
  namespace: "com.example.echo",
  routingKey: "echo",
  routes: [
    route({
      method: "POST",
      path: "/api/org/{org}/ticketing",
      handle: (c) => ({
        status: 201,
        body: {
          org: c.params.org,
          entity: new TextDecoder().decode(c.request.body),
          user: c.security.user,
        },
      }),
    }),
    route({
      method: "GET",
      path: "/api/org/{org}/ticketing",
      handle: (c) => {
        throw new Error(`failed with ${c.request.headers.get("authorization")}`);
      },
    }),
  ],
});

const service = endpoint(echo);

function asReply(d: Decision<AmqpAddress>): ReplyDecision<AmqpAddress> {
  assert.equal(d.kind, "reply", d.kind === "reject" ? d.reason : "");
  return d as ReplyDecision<AmqpAddress>;
}

Deno.test("endpoint().handle() answers the wire-format sample on its reply coordinates", async () => {
  const d = asReply(await service.handle(sampleDelivery()));
  assert.equal(d.to.exchange, "vcd.replies");
  assert.equal(d.to.routingKey, "vcd.reply.7");
  assert.equal(d.to.correlationId, SAMPLE_PROPERTIES.correlationId);
  assert.equal(d.extension, "echo");
  assert.equal(d.requestId, SAMPLE_REQUEST.id);
  assert.equal(d.method, "POST");
  assert.equal(d.outcome.route, "POST /api/org/{org}/ticketing");
});

Deno.test("endpoint().handle() replies with a body the cell decodes, with the request's id", async () => {
  const d = asReply(await service.handle(sampleDelivery()));
  const reply = decodeReply(d.body);
  assert.equal(reply.id, SAMPLE_REQUEST.id);
  assert.equal(reply.status, 201);
  assert.equal(reply.headers["Content-Type"], "application/json");
  assert.deepEqual(JSON.parse(reply.text), {
    org: ORG.id,
    entity: SAMPLE_REQUEST.bodyText,
    user: SAMPLE_REQUEST.user,
  });
});

Deno.test("endpoint().handle() rejects a message without reply_to", async () => {
  for (const replyTo of [undefined, ""]) {
    const d = await service.handle(sampleDelivery({ replyTo }));
    assert.equal(d.kind, "reject");
    assert.match(d.kind === "reject" ? d.reason : "", /no reply_to property/);
  }
});

Deno.test("endpoint().handle() rejects a message without the replyToExchange header", async () => {
  const d = await service.handle(
    sampleDelivery({ headers: { messageType: "ProcessHttpRequest" } }),
  );
  assert.equal(d.kind, "reject");
  assert.match(d.kind === "reject" ? d.reason : "", /no replyToExchange header/);
});

Deno.test("endpoint().handle() rejects a replyToExchange header that is not a string", async () => {
  const d = await service.handle(sampleDelivery({ headers: { replyToExchange: 42 } }));
  assert.equal(d.kind, "reject");
});

Deno.test("endpoint().handle() accepts replyToExchange as AMQP long-string bytes", async () => {
  for (const value of [utf8("vcd.replies"), Buffer.from("vcd.replies", "utf8")]) {
    const d = asReply(
      await service.handle(sampleDelivery({ headers: { replyToExchange: value } })),
    );
    assert.equal(d.to.exchange, "vcd.replies");
    assert.equal(decodeReply(d.body).id, SAMPLE_REQUEST.id);
  }
});

Deno.test("endpoint().handle() answers an undecodable body 400 with the right correlation", async () => {
  const d = asReply(await service.handle(sampleDelivery({ content: utf8("this is not json") })));
  assert.equal(d.to.exchange, "vcd.replies");
  assert.equal(d.to.routingKey, "vcd.reply.7");
  assert.equal(d.to.correlationId, SAMPLE_PROPERTIES.correlationId);
  assert.equal(d.requestId, "");
  const reply = decodeReply(d.body);
  assert.equal(reply.status, 400);
  assert.equal(reply.id, "");
  assert.match(reply.text, /majorErrorCode="400" minorErrorCode="BAD_REQUEST"/);
  assert.match(reply.text, /Cannot decode request: body is not JSON/);
});

Deno.test("endpoint().handle() echoes the id and Accept of a request it cannot decode", async () => {
  const http = httpElement({
    id: "r-nomethod",
    headers: { Accept: "application/*+json;version=36.0" },
  });
  delete http.method;
  const d = asReply(await service.handle(sampleDelivery({ content: envelopeBytes(http) })));
  const reply = decodeReply(d.body);
  assert.equal(d.requestId, "r-nomethod");
  assert.equal(reply.id, "r-nomethod");
  assert.equal(
    reply.headers["Content-Type"],
    "application/vnd.vmware.vcloud.error+json;version=36.0",
  );
  assert.deepEqual(JSON.parse(reply.text), {
    majorErrorCode: 400,
    minorErrorCode: "BAD_REQUEST",
    message: "Cannot decode request: request has no valid method",
  });
});

Deno.test("endpoint().handle() answers 413 for an envelope over maxEnvelopeBytes", async () => {
  const small = endpoint(echo, { maxEnvelopeBytes: SAMPLE_REQUEST_BYTES.byteLength - 1 });
  const d = asReply(await small.handle(sampleDelivery()));
  const reply = decodeReply(d.body);
  assert.equal(reply.status, 413);
  assert.match(reply.text, /minorErrorCode="REQUEST_ENTITY_TOO_LARGE"/);
  assert.equal(d.to.correlationId, SAMPLE_PROPERTIES.correlationId);
  const fits = endpoint(echo, { maxEnvelopeBytes: SAMPLE_REQUEST_BYTES.byteLength });
  assert.equal(decodeReply(asReply(await fits.handle(sampleDelivery())).body).status, 201);
});

Deno.test("endpoint().handle() answers 413 for an entity over maxBodyBytes, echoing the id", async () => {
  const d = asReply(await endpoint(echo, { maxBodyBytes: 28 }).handle(sampleDelivery()));
  const reply = decodeReply(d.body);
  assert.equal(reply.status, 413);
  assert.equal(reply.id, SAMPLE_REQUEST.id);
});

Deno.test("endpoint().handle() answers a failing handler 500 without the caller's token", async () => {
  const http = httpElement({
    method: "GET",
    headers: { ...AUTH_HEADERS, Accept: "application/json" },
  });
  const d = asReply(await service.handle(sampleDelivery({ content: envelopeBytes(http) })));
  const reply = decodeReply(d.body);
  assert.equal(reply.status, 500);
  assert.equal(leaksCredential(new TextDecoder().decode(d.body)), false);
  assert.ok(d.outcome.error instanceof Error);
});

Deno.test("endpoint().handle() keeps an absent correlation id absent", async () => {
  const d = asReply(await service.handle(sampleDelivery({ correlationId: undefined })));
  assert.equal(d.to.correlationId, undefined);
  assert.equal(decodeReply(d.body).status, 201);
});
