/**
 * The MQTT tooling through the real entrypoint: `vcdext request --transport mqtt` and `vcdext
 * check --transport mqtt` against the ticketing extension served in this process the way
 * `serve` does it (`startMqttService` + `endpoint(ext, { codec: MQTT_CODEC })`), on the shared
 * Mosquitto under triplets unique to the run, or on a private Mosquitto with passwords for the
 * `--live` check and a wrong token; and `vcdext routes` showing triplets and topics.
 */

import assert from "node:assert/strict";
import { MemoryTicketStore, ticketing } from "../handlers/ticketing.ts";
import { endpoint } from "../lib/core/service.ts";
import { silentLogger } from "../lib/observability/log.ts";
import { SAMPLE } from "../lib/sim/cell.ts";
import { MQTT_CODEC } from "../lib/transport/mqtt/codec.ts";
import { type RunningMqttService, startMqttService } from "../lib/transport/mqtt/service.ts";
import { formatTriplet, type Triplet, triplet } from "../lib/transport/mqtt/topics.ts";
import { mosquittoAvailable, startPrivateMosquitto } from "./private_mosquitto.ts";
import { ignoreUnless } from "./skip.ts";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import { AMQP_URL, uniqueName } from "./broker.ts";

const DENO = Deno.execPath();
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const SHARED_URL = Deno.env.get("VCDEXT_TEST_MQTT_URL") ?? "mqtt://127.0.0.1:1883";
const PATH = `/api/org/${SAMPLE.orgId}/ticketing`;
const NO_MOSQUITTO = ignoreUnless("private Mosquitto tests", mosquittoAvailable());

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", MAIN, ...args],
    env: { RUST_BACKTRACE: "0", NO_COLOR: "1", VCDEXT_AMQP_URL: AMQP_URL, ...env },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The ticketing extension served over MQTT as `t`, as `serve --transport mqtt` would. */
function serveTicketing(url: string, t: Triplet, token: string): Promise<RunningMqttService> {
  const ext = ticketing(new MemoryTicketStore());
  return startMqttService({
    url,
    log: silentLogger,
    extensions: [{
      label: ext.name,
      triplet: t,
      token,
      handle: endpoint(ext, { codec: MQTT_CODEC }).handle,
    }],
  });
}

function uniqueTriplet(): Triplet {
  return triplet("vcdext-test", `tools-${crypto.randomUUID().slice(0, 8)}`, "1.0.0");
}

Deno.test("vcdext request --transport mqtt plays the cell: API_REQUEST on the monitor topic, the reply printed", async () => {
  const t = uniqueTriplet();
  const service = await serveTicketing(SHARED_URL, t, "extension-token-value");
  try {
    const common = ["--transport", "mqtt", "--mqtt-url", SHARED_URL, "--triplet", formatTriplet(t)];
    const posted = await run([
      "request",
      "POST",
      PATH,
      ...common,
      "--data",
      '{"message":"over MQTT"}',
      "-H",
      "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.mqtt.secret-token-value",
    ]);
    assert.equal(posted.code, 0, posted.stderr);
    assert.match(posted.stdout, /^→ POST \/api\/org\/\S+\/ticketing$/m);
    assert.match(posted.stdout, /Authorization: \[redacted\]/);
    assert.match(posted.stdout, /← 201 Created/);
    assert.match(
      posted.stdout,
      /Content-Type: application\/vnd\.example\.ticket\+json;version=36\.0/,
    );
    assert.match(posted.stdout, /"message":"over MQTT"/);
    assert.doesNotMatch(posted.stdout + posted.stderr, /secret-token-value/);

    const listed = await run([
      "request",
      "GET",
      PATH,
      ...common,
      "--accept",
      "application/*+xml;version=36.0",
    ]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /← 200 OK/);
    assert.match(listed.stdout, /<Message>over MQTT<\/Message>/);

    const unknown = await run(["request", "GET", "/api/nothing/here", ...common]);
    assert.match(unknown.stdout, /← 404 Not Found/);
  } finally {
    await service.stop(500);
  }
});

Deno.test("vcdext request --transport mqtt says so when nobody answers, and needs --mqtt-url", async () => {
  const t = uniqueTriplet();
  const silent = await run([
    "request",
    "GET",
    PATH,
    "--transport",
    "mqtt",
    "--mqtt-url",
    SHARED_URL,
    "--triplet",
    formatTriplet(t),
    "--timeout",
    "1000",
  ]);
  assert.equal(silent.code, 1);
  assert.match(silent.stderr, /no API_RESPONSE on topic\/extension\/\S+\/vcd within 1000 ms/);
  const noUrl = await run(["request", "GET", PATH, "--transport", "mqtt"]);
  assert.equal(noUrl.code, 2);
  assert.match(noUrl.stderr, /--transport mqtt \(or both\) needs --mqtt-url/);
});

Deno.test("vcdext check --transport mqtt: login and an in-process round trip pass; URL password redacted; both keeps the AMQP rows", async () => {
  const url = SHARED_URL.replace("mqtt://", "mqtt://someone:url-pass-word@");
  const env = { VCDEXT_MQTT_TOKEN: "check-token-value" };
  const r = await run(
    ["check", "--transport", "mqtt", "--mqtt-url", url, "--extension", "gcp-ticketing"],
    env,
  );
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /connect mqtt:\/\/someone:\[redacted\]@127\.0\.0\.1:1883 as example\/gcp-ticketing\/1\.0\.0\s+pass\s+subscribed to topic\/extension\/example\/gcp-ticketing\/1\.0\.0\/ext/,
  );
  assert.match(r.stdout, /MQTT round trip gcp-ticketing \(in-process\)\s+pass\s+GET \S+ → 200/);
  assert.doesNotMatch(r.stdout, /^connect amqp/m, "mqtt only: no AMQP rows");
  assert.doesNotMatch(r.stdout + r.stderr, /url-pass-word|check-token-value/);

  // Names of its own on the shared RabbitMQ, deleted after: the AMQP rows declare a queue.
  const exchange = uniqueName("vcdext.test.mqtt-check");
  const queue = `${exchange}.q`;
  const both = await run(
    [
      "check",
      "--transport",
      "both",
      "--mqtt-url",
      SHARED_URL,
      "--extension",
      "gcp-ticketing",
      "--exchange",
      exchange,
      "--queue",
      queue,
    ],
    env,
  );
  const admin = await BrokerAdmin.connect(AMQP_URL);
  await admin.delete({ queues: [queue], exchanges: [exchange] });
  await admin.close();
  assert.match(both.stdout, /^connect amqp:\/\/\S+\s+pass/m);
  assert.match(both.stdout, /^round trip gcp-ticketing \(in-process\)\s+pass/m);
  assert.match(both.stdout, /MQTT round trip gcp-ticketing \(in-process\)\s+pass/);
});

Deno.test({
  name:
    "vcdext check --transport mqtt --live goes through the running instance; a wrong token fails the login row, exit 1",
  ignore: NO_MOSQUITTO,
  fn: async () => {
    const TRIPLET = "example/gcp-ticketing/1.0.0";
    const broker = await startPrivateMosquitto({
      users: { [TRIPLET]: "good-extension-token", "vcdext-cell": "cell-password" },
    });
    const service = await serveTicketing(
      broker.url,
      triplet("example", "gcp-ticketing", "1.0.0"),
      "good-extension-token",
    );
    try {
      const args = [
        "check",
        "--transport",
        "mqtt",
        "--mqtt-url",
        broker.url,
        "--extension",
        "gcp-ticketing",
        "--live",
      ];
      const cell = { VCDEXT_MQTT_CELL_PASSWORD: "cell-password" };
      const ok = await run(args, { ...cell, VCDEXT_MQTT_TOKEN: "good-extension-token" });
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(
        ok.stdout,
        /MQTT round trip gcp-ticketing \(running instances\)\s+pass\s+GET \S+ → 200/,
      );

      const wrong = await run(args, { ...cell, VCDEXT_MQTT_TOKEN: "wr0ng-t0ken-value" });
      assert.equal(wrong.code, 1, wrong.stdout);
      assert.match(
        wrong.stdout,
        /connect \S+ as example\/gcp-ticketing\/1\.0\.0\s+FAIL\s+.*(bad user name or password|not authorised)/,
      );
      assert.doesNotMatch(wrong.stdout + wrong.stderr, /wr0ng-t0ken-value|cell-password/);
    } finally {
      await service.stop(500);
      await broker.close();
    }
  },
});

Deno.test("vcdext routes shows each extension's triplet and MQTT topics, as text and --json", async () => {
  const json = JSON.parse((await run(["routes", "--json"])).stdout);
  const ticketingInv = json.extensions.find((e: { name: string }) => e.name === "gcp-ticketing");
  assert.equal(ticketingInv.triplet, "example/gcp-ticketing/1.0.0");
  assert.deepEqual(ticketingInv.mqttTopics, {
    monitor: "topic/extension/example/gcp-ticketing/1.0.0/ext",
    respond: "topic/extension/example/gcp-ticketing/1.0.0/vcd",
  });
  const text = (await run(["routes"])).stdout;
  assert.match(
    text,
    /mqtt +triplet example\/gcp-ticketing\/1\.0\.0, monitor topic\/extension\/example\/gcp-ticketing\/1\.0\.0\/ext, respond topic\/extension\/example\/gcp-ticketing\/1\.0\.0\/vcd/,
  );
});
