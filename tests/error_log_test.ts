/**
 * Errors reach the log with their message and stack (issue 15, item 1): a handler that throws
 * behind a 500, a notification handler that keeps failing, and a broker that closes the
 * connection. Callers log `err: errorFields(e)`, and the logger's `err` serializer runs again
 * on what they pass: the line must still carry the scrubbed message, not `[object Object]`.
 */

import assert from "node:assert/strict";
import { createLogger, errorFields } from "../lib/observability/log.ts";
import { vcdextMetrics } from "../lib/observability/metrics.ts";
import { requestObserver } from "../lib/observability/observer.ts";
import { endpoint } from "../lib/core/service.ts";
import { eventProcessor } from "../lib/core/events.ts";
import { defineExtension } from "../lib/core/extension.ts";
import { type AmqpAddress, amqpDelivery } from "../lib/transport/amqp/delivery.ts";
import { envelopeBytes, httpElement, SAMPLE_PROPERTIES } from "./fixtures.ts";

function capture() {
  const lines: string[] = [];
  const sink = { write: (line: string) => lines.push(line) };
  const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { sink, parsed, log: createLogger("info", sink) };
}

const failing = defineExtension({
  name: "quota",
  namespace: "com.example.quota",
  routingKey: "quota",
  routes: [{
    method: "GET",
    path: "/api/org/{org}/quota",
    handle() {
      throw new Error("db down at postgres://quota:s3cret-pw@db:5432/quota");
    },
  }],
  notifications: [{
    type: "vapp/delete",
    handle() {
      throw new Error("db down, token=abcdef123456");
    },
  }],
});

Deno.test("a throwing handler's 500 is logged with its scrubbed message and stack", async () => {
  const { sink, parsed, log } = capture();
  const observe = requestObserver<AmqpAddress>(vcdextMetrics(), log, sink);
  const delivery = amqpDelivery({
    content: envelopeBytes(httpElement({ requestUri: "/api/org/o1/quota" })),
    correlationId: "c1",
    replyTo: SAMPLE_PROPERTIES.replyTo,
    headers: { ...SAMPLE_PROPERTIES.headers },
  });
  const decision = await endpoint(failing).handle(delivery);
  assert.equal(decision.kind, "reply");
  if (decision.kind !== "reply") return;
  assert.equal(decision.outcome.reply.status, 500);
  observe.onReply(decision, "acked", 1);
  const line = parsed().find((l) => l.level === "error");
  assert.ok(line, "no error line");
  const err = line.err as Record<string, string>;
  assert.equal(err.name, "Error");
  assert.equal(err.message, "db down at postgres://quota:[redacted]@db:5432/quota");
  assert.match(err.stack ?? "", /^Error: db down at postgres:\/\/quota:\[redacted\]@db/);
  assert.match(err.stack ?? "", /error_log_test\.ts/);
  assert.doesNotMatch(JSON.stringify(parsed()), /s3cret-pw/);
});

Deno.test("a failing notification handler is logged with its scrubbed message and stack", async () => {
  const { parsed, log } = capture();
  const events = eventProcessor([failing], { log, sleep: async () => {}, retries: 1 });
  const body = new TextEncoder().encode(JSON.stringify({
    eventId: "e1",
    type: "com/vmware/vcloud/event/vapp/delete",
    entity: "urn:vcloud:vapp:1",
  }));
  const decision = await events.handle(
    { content: body, topic: "", headers: {} },
    new AbortController().signal,
  );
  assert.equal(decision.kind, "reject");
  const lines = parsed();
  assert.deepEqual(lines.map((l) => l.level), ["warn", "error"]);
  for (const line of lines) {
    const err = line.err as Record<string, string>;
    assert.equal(err.message, "db down, token=[redacted]");
    assert.match(err.stack ?? "", /^Error: db down, token=\[redacted\]\n\s+at /);
  }
});

Deno.test("a broker's close reason reaches the disconnect line, passed raw or as fields", () => {
  const { parsed, log } = capture();
  // What amqplib hands to the `error`/`disconnect` listeners when the broker closes the
  // connection: not always an Error instance, but always a message and the AMQP code.
  const closed = {
    message: 'Connection closed: 320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - ' +
      "broker forced connection closure with reason 'shutdown'\"",
    code: 320,
  };
  log.warn({ err: errorFields(closed) }, "disconnected from the broker; reconnecting");
  log.warn({ err: closed }, "connection error");
  const asError = Object.assign(new Error(closed.message), { code: 320 });
  log.warn({ err: errorFields(asError) }, "disconnected from the broker; reconnecting");
  for (const line of parsed()) {
    const err = line.err as Record<string, unknown>;
    assert.equal(err.message, closed.message);
    assert.equal(err.code, 320);
  }
  assert.equal(typeof (parsed()[2]!.err as Record<string, unknown>).stack, "string");
});

Deno.test("errorFields is idempotent and the serializer leaves its fields as they are", () => {
  const e = new RangeError("login with password=hunter2 failed");
  const once = errorFields(e);
  assert.deepEqual(errorFields(once), once);
  assert.equal(once.name, "RangeError");
  const { parsed, log } = capture();
  log.error({ err: once }, "x");
  log.error({ err: e }, "y");
  const [a, b] = parsed();
  assert.deepEqual(a!.err, once);
  assert.deepEqual(b!.err, once);
});
