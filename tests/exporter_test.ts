/**
 * What an operator expects from an exporter and a log (issue 15, item 8): `process_*` metrics,
 * `vcdext_build_info`, `vcdext_broker_connected{transport}`, request duration by route
 * template, notification-handler duration, a per-instance AMQP connection name, fatal errors as
 * a JSON line, and an access line that names the caller (user and org ids, never tokens) and,
 * at debug, why a 4xx was refused.
 */

import assert from "node:assert/strict";
import { eventProcessor } from "../lib/core/events.ts";
import { HttpError } from "../lib/core/errors.ts";
import { defineExtension, route } from "../lib/sdk.ts";
import { silentLogger } from "../lib/core/logger.ts";
import { endpoint } from "../lib/core/service.ts";
import { createLogger, type LogLevel } from "../lib/observability/log.ts";
import { vcdextMetrics } from "../lib/observability/metrics.ts";
import { mqttObserver, requestObserver } from "../lib/observability/observer.ts";
import { buildInfo, processMetrics } from "../lib/observability/process_metrics.ts";
import { instanceName } from "../lib/transport/amqp/connection.ts";
import { sample, Serve } from "./entrypoint.ts";
import { AUTH_HEADERS, envelopeBytes, httpElement, ORG, USER, utf8 } from "./fixtures.ts";

const ext = defineExtension({
  name: "things",
  namespace: "x",
  routingKey: "things",
  routes: [route({
    method: "GET",
    path: "/api/org/{org}/things/{id}",
    handle: (ctx) => {
      if (ctx.params.id !== "1") throw new HttpError(404, `no thing ${ctx.params.id}`);
      return { status: 200, body: { id: 1 } };
    },
  })],
});

/** One request through a real endpoint and the AMQP observer at `level`: the log lines, parsed. */
async function served(id: string, level: LogLevel) {
  const lines: string[] = [];
  const sink = { write: (l: string) => void lines.push(l) };
  const metrics = vcdextMetrics();
  const observe = requestObserver(metrics, createLogger(level, sink), sink);
  const content = envelopeBytes(
    httpElement({
      requestUri: `/api/org/${ORG.id}/things/${id}`,
      headers: { Accept: "application/*+json;version=36.0", ...AUTH_HEADERS },
    }),
  );
  const d = await endpoint(ext).handle({
    content,
    reply: { to: { correlationId: "c1" } },
    headers: {},
  });
  assert.equal(d.kind, "reply");
  if (d.kind === "reply") observe.onReply(d, "acked", 2);
  return { lines, records: lines.map((l) => JSON.parse(l)), metrics };
}

Deno.test("the access line names the caller by user and org id, never a token", async () => {
  const { lines, records } = await served("1", "info");
  assert.equal(records.length, 1);
  assert.equal(records[0].user, USER);
  assert.equal(records[0].org, ORG.urn);
  assert.equal(records[0].status, 200);
  assert.equal(records[0].reason, undefined);
  for (const v of Object.values(AUTH_HEADERS)) {
    const token = v.replace(/^Bearer /, "");
    assert.ok(!lines.join("").includes(token), "a token reached the access line");
  }
});

Deno.test("at debug the access line of a 4xx carries its reason; at info it does not", async () => {
  const debug = await served("7", "debug");
  const access = debug.records.find((r) => r.msg === "request");
  assert.equal(access.status, 404);
  assert.equal(access.reason, "no thing 7");
  const info = await served("7", "info");
  assert.equal(info.records[0].status, 404);
  assert.equal("reason" in info.records[0], false);
});

Deno.test("request duration is labelled by route template, never by the concrete path", async () => {
  const { metrics } = await served("1", "silent");
  const text = metrics.registry.render();
  assert.equal(
    sample(
      text,
      'vcdext_request_duration_seconds_count{extension="things",transport="amqp",route="GET /api/org/{org}/things/{id}"}',
    ),
    1,
  );
  assert.doesNotMatch(text, new RegExp(ORG.id));
});

Deno.test("vcdext_broker_connected follows each transport's state", () => {
  const metrics = vcdextMetrics();
  const sink = { write: () => {} };
  const amqp = requestObserver(metrics, silentLogger, sink);
  const mqtt = mqttObserver(metrics, silentLogger, sink);
  const connected = (t: string) =>
    sample(metrics.registry.render(), `vcdext_broker_connected{transport="${t}"}`);
  assert.match(metrics.registry.render(), /^vcdext_broker_connected\{transport="amqp"\} 0$/m);
  assert.match(metrics.registry.render(), /^vcdext_broker_connected\{transport="mqtt"\} 0$/m);
  amqp.onState("consuming");
  assert.equal(connected("amqp"), 1);
  amqp.onState("disconnected");
  assert.equal(connected("amqp"), 0);
  mqtt.onState("a", "subscribed");
  mqtt.onState("b", "refused");
  assert.equal(connected("mqtt"), 1);
  mqtt.onState("a", "disconnected");
  assert.equal(connected("mqtt"), 0);
});

Deno.test("vcdext_build_info carries the version and the Deno version", () => {
  const metrics = vcdextMetrics();
  buildInfo(metrics, "9.8.7");
  assert.equal(
    sample(
      metrics.registry.render(),
      `vcdext_build_info{version="9.8.7",deno="${Deno.version.deno}"}`,
    ),
    1,
  );
});

Deno.test("process_* metrics are read from the process at scrape time", () => {
  const metrics = vcdextMetrics();
  processMetrics(metrics.registry);
  const first = metrics.registry.render();
  const cpu = sample(first, "process_cpu_seconds_total");
  assert.ok(cpu > 0, first);
  assert.ok(sample(first, "process_resident_memory_bytes") > 10 * 1024 * 1024);
  const start = sample(first, "process_start_time_seconds");
  const now = Date.now() / 1000;
  assert.ok(start <= now && start > now - 3600, `start ${start}, now ${now}`);
  if (Deno.build.os === "linux") assert.ok(sample(first, "process_open_fds") >= 3, first);
  // Burn some CPU: the next scrape sees it.
  const until = performance.now() + 60;
  while (performance.now() < until) { /* spin */ }
  assert.ok(sample(metrics.registry.render(), "process_cpu_seconds_total") > cpu);
  assert.match(first, /^# TYPE process_cpu_seconds_total counter$/m);
  assert.match(first, /^# TYPE process_resident_memory_bytes gauge$/m);
});

Deno.test("serve's /metrics has the process metrics, the build info and the broker connection", async () => {
  const serve = await Serve.start({});
  try {
    const text = await serve.metrics();
    assert.ok(sample(text, "process_cpu_seconds_total") > 0, text);
    assert.ok(sample(text, "process_resident_memory_bytes") > 0, text);
    assert.ok(sample(text, "process_start_time_seconds") > 0, text);
    assert.match(text, /^vcdext_build_info\{version="\d+\.\d+\.\d+",deno="[^"]+"\} 1$/m);
    assert.equal(sample(text, 'vcdext_broker_connected{transport="amqp"}'), 1);
  } finally {
    await serve.close();
  }
});

Deno.test("notification handlers are timed with the injected clock, failed attempts too", async () => {
  let now = 0;
  const timed: [string, number][] = [];
  let calls = 0;
  const audit = defineExtension({
    name: "audit",
    namespace: "x",
    routingKey: "audit",
    routes: [],
    notifications: [{
      type: "vapp/*",
      handle: () => {
        now += 30;
        if (calls++ === 0) throw new Error("first try fails");
      },
    }],
  });
  const events = eventProcessor([audit], {
    log: silentLogger,
    sleep: async () => {},
    handlerTiming: { now: () => now, observe: (e, ms) => void timed.push([e, ms]) },
  });
  const body = utf8(JSON.stringify({ eventId: "e1", type: "com/vmware/vcloud/event/vapp/create" }));
  const d = await events.handle(
    { content: body, topic: "", headers: {} },
    new AbortController().signal,
  );
  assert.equal(d.kind, "ack");
  assert.deepEqual(timed, [["audit", 30], ["audit", 30]]);
});

Deno.test("the AMQP connection name tells instances apart: vcdext@host:pid", () => {
  assert.equal(instanceName(), `vcdext@${Deno.hostname()}:${Deno.pid}`);
});

Deno.test("a fatal start-up error is a JSON line too, before the human line; exit code kept", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../main.ts", import.meta.url).pathname,
      "serve",
      "--amqp-url",
      "amqp://guest:hunter2secret@127.0.0.1:1",
    ],
    env: { RUST_BACKTRACE: "0", NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 1, stderr);
  const lines = stderr.trimEnd().split("\n");
  const fatal = lines.findIndex((l) => l.startsWith("{") && JSON.parse(l).msg === "fatal");
  assert.ok(fatal >= 0, stderr);
  const record = JSON.parse(lines[fatal]!);
  assert.equal(record.level, "error");
  assert.match(record.err.message, /Cannot connect to amqp:\/\/guest:\[redacted\]@127\.0\.0\.1:1/);
  assert.match(lines[fatal + 1] ?? "", /^vcdext: Cannot connect/);
  assert.doesNotMatch(stderr, /hunter2secret/);
});
