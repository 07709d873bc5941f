/**
 * `main.ts serve --transport mqtt|both` as a subprocess, seen from outside: a client plays the
 * vCD cell on Mosquitto (publishes `API_REQUEST` on the monitor topic, reads `API_RESPONSE` on
 * the respond topic), and with `both` the same request also goes through RabbitMQ.
 *
 * Isolation on the shared broker (127.0.0.1:1883): the service runs through
 * tests/fixtures/main_mqtt.ts, which gives every extension a vendor unique to the test, so each
 * test's triplets and topics are its own. Without it two test runs on one broker would both
 * answer the same request (every MQTT subscriber gets its own copy). The wrong-token check and
 * the `deno task start` contract use a private Mosquitto of their own.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqtt, { type MqttClient } from "mqtt";
import { buildRequest, type CellEnvelope, type CellRequest, SAMPLE } from "../lib/sim/cell.ts";
import { AMQP_URL, eventually } from "./broker.ts";
import { logLines, RawCell, replyJson, sample, Serve, settingsOf } from "./entrypoint.ts";
import { fakeJwt, OTHER_ORG } from "./fixtures.ts";
import { mosquittoAvailable, startPrivateMosquitto } from "./private_mosquitto.ts";
import { Proc } from "./proc.ts";
import { ignoreUnless } from "./skip.ts";

const SHARED_URL = Deno.env.get("VCDEXT_TEST_MQTT_URL") ?? "mqtt://127.0.0.1:1883";
const MAIN_MQTT = new URL("./fixtures/main_mqtt.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
const TICKETS = `/api/org/${SAMPLE.orgId}/ticketing`;
/** The extension token the service logs in with: it must never show in its output. */
const TOKEN = `ext-token-${crypto.randomUUID()}`;
/** The caller's credential vCD forwards (`apiAccessToken`): never in output either. */
const API_TOKEN = fakeJwt({ sub: "alice", org: SAMPLE.orgId });
const XML = "application/*+xml;version=36.0";
const NO_MOSQUITTO = ignoreUnless("private Mosquitto tests", mosquittoAvailable());
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** A vendor no other test or run uses. */
function uniqueVendor(): string {
  return `vcdext-test-${crypto.randomUUID().slice(0, 8)}`;
}

/** An HTTP response as the cell reads it off either bus. */
interface Answer {
  status: number;
  headers: Record<string, string | number>;
  body: Uint8Array;
}

/** The `API_REQUEST` carrying the same request as the AMQP envelope `env` (section 12.3). */
function apiRequest(env: CellEnvelope): Uint8Array {
  const [message, securityContext, context] = JSON.parse(text(env.body));
  const httpRequest = {
    message: { ...message, statusCode: 0 },
    securityContext: { ...securityContext, apiAccessToken: API_TOKEN },
    context,
  };
  return new TextEncoder().encode(JSON.stringify({
    type: "API_REQUEST",
    headers: { requestId: env.id, context: { apiAccessToken: API_TOKEN } },
    httpRequest: new TextEncoder().encode(JSON.stringify(httpRequest)).toBase64(),
  }));
}

/** Plays the vCD cell on MQTT for one triplet: requests out, responses collected by requestId. */
class MqttCell {
  readonly responses = new Map<string, Answer[]>();

  private constructor(readonly client: MqttClient, readonly base: string) {
    client.on("message", (_topic, payload) => {
      const m = JSON.parse(payload.toString("utf8"));
      assert.equal(m.type, "API_RESPONSE");
      const r = m.httpResponse;
      const list = this.responses.get(m.headers.requestId) ?? [];
      list.push({ status: r.statusCode, headers: r.headers, body: Uint8Array.fromBase64(r.body) });
      this.responses.set(m.headers.requestId, list);
    });
  }

  static async connect(url: string, vendor: string, name = "gcp-ticketing"): Promise<MqttCell> {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 500,
      clientId: `cell-${crypto.randomUUID().slice(0, 12)}`,
    });
    client.on("error", () => {});
    const base = `topic/extension/${vendor}/${name}/1.0.0`;
    await client.subscribeAsync(`${base}/vcd`, { qos: 1 });
    return new MqttCell(client, base);
  }

  /** Publishes the request of `env` without waiting. */
  publish(env: CellEnvelope): Promise<unknown> {
    return this.client.publishAsync(`${this.base}/ext`, Buffer.from(apiRequest(env)), { qos: 1 });
  }

  /** Sends a request and waits for its first response. */
  async send(env: CellEnvelope, ms = 10_000): Promise<Answer> {
    await this.publish(env);
    return await this.answer(env.id, ms);
  }

  async answer(requestId: string, ms = 10_000): Promise<Answer> {
    await eventually(() => this.responses.has(requestId), ms).catch(() => {
      throw new Error(`no MQTT response to ${requestId} within ${ms} ms`);
    });
    return this.responses.get(requestId)![0]!;
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

/** A request of the sample user of the sample org. */
function req(
  method: string,
  path: string,
  options: { accept?: string; contentType?: string; body?: string; org?: string } = {},
): CellEnvelope {
  const headers: Record<string, string> = { Accept: options.accept ?? "application/json" };
  if (options.contentType) headers["Content-Type"] = options.contentType;
  const request: CellRequest = {
    method,
    path,
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(options.org === undefined ? {} : { org: options.org }),
  };
  return buildRequest(request);
}

/** Content-Length is the body's byte count (multi-byte text included). */
function assertLength(a: Answer, what: string): void {
  assert.equal(Number(a.headers["Content-Length"]), a.body.byteLength, `${what}: Content-Length`);
}

/** A vCloud error document with the status as its majorErrorCode, in JSON or XML. */
function assertVcloudError(a: Answer, status: number, what: string): void {
  assert.equal(a.status, status, `${what}: ${text(a.body)}`);
  assertLength(a, what);
  const body = text(a.body);
  if (String(a.headers["Content-Type"]).includes("xml")) {
    assert.match(body, new RegExp(`<Error [^>]*majorErrorCode="${status}"`), what);
  } else {
    assert.equal(JSON.parse(body).majorErrorCode, status, `${what}: ${body}`);
  }
}

/** `main_mqtt.ts serve --transport mqtt` on the shared broker, with the HTTP listener. */
class MqttServe {
  private constructor(readonly proc: Proc, readonly vendor: string, readonly port: number) {}

  static async start(
    options: {
      flags?: readonly string[];
      extension?: readonly string[];
      url?: string;
      env?: Record<string, string>;
      /** The vendor of the served triplets (default: one of its own); instances of one service share it. */
      vendor?: string;
      /** The log line that says it is up (default: every extension subscribed). */
      upWhen?: string;
    } = {},
  ): Promise<MqttServe> {
    const vendor = options.vendor ?? uniqueVendor();
    const extensions = options.extension ?? ["gcp-ticketing"];
    const proc = new Proc([
      MAIN_MQTT,
      "serve",
      "--transport",
      "mqtt",
      "--mqtt-url",
      options.url ?? SHARED_URL,
      // Nothing listens there: with --transport mqtt the service must not even try.
      "--amqp-url",
      "amqp://guest:guest@127.0.0.1:1",
      "--extension",
      ...extensions,
      "--http-port",
      "0",
      ...(options.flags ?? []),
    ], { VCDEXT_MQTT_TOKEN: TOKEN, VCDEXT_TEST_VENDOR: vendor, ...options.env });
    const exited = proc.child.status.then((s) => {
      throw new Error(`serve exited ${s.code} before it was ready:\n${proc.log.slice(-2000)}`);
    });
    try {
      await Promise.race([
        (async () => {
          await proc.waitFor(
            options.upWhen ?? '"msg":"MQTT connected and subscribed"',
            extensions.length,
          );
          await proc.waitFor('"msg":"HTTP listener up"');
        })(),
        exited,
      ]);
    } catch (e) {
      await proc.end();
      throw e;
    }
    const up = logLines(proc).find((l) => l.msg === "HTTP listener up")!;
    return new MqttServe(proc, vendor, Number(up.port));
  }

  async get(path: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`);
    return { status: res.status, text: await res.text() };
  }
}

Deno.test("serve --transport mqtt: every ticketing route in JSON and XML, byte-correct Content-Length, no AMQP", async () => {
  const serve = await MqttServe.start();
  const cell = await MqttCell.connect(SHARED_URL, serve.vendor);
  try {
    const settings = settingsOf(serve.proc);
    assert.equal(settings.transport, "mqtt");
    assert.match(String(settings.amqp), /^none: --transport mqtt opens no AMQP connection/);
    assert.equal(settings.amqpUrl, undefined);
    assert.equal(settings.mqttUrl, SHARED_URL);
    assert.equal((await serve.get("/readyz")).status, 200);

    const json = { accept: "application/json", contentType: "application/json" };
    const message = "disque plein ✓ — 🎫";
    const created = await cell.send(
      req("POST", TICKETS, { ...json, body: JSON.stringify({ message }) }),
    );
    assert.equal(created.status, 201, text(created.body));
    assertLength(created, "POST json");
    assert.ok(created.body.byteLength > text(created.body).length, "a multi-byte body");
    const ticket = JSON.parse(text(created.body));
    assert.equal(ticket.message, message);
    assert.match(String(created.headers["Location"]), new RegExp(`${TICKETS}/${ticket.id}$`));
    const one = `${TICKETS}/${ticket.id}`;

    const xml = { accept: XML, contentType: "application/xml" };
    const createdXml = await cell.send(req("POST", TICKETS, {
      ...xml,
      body: `<Ticket xmlns="urn:example:ticketing"><Message>écran noir</Message></Ticket>`,
    }));
    assert.equal(createdXml.status, 201, text(createdXml.body));
    assertLength(createdXml, "POST xml");
    assert.match(String(createdXml.headers["Content-Type"]), /\+xml;version=36\.0$/);
    assert.match(text(createdXml.body), /<Message>écran noir<\/Message>/);

    for (const [accept, pattern] of [["application/json", /"total":2/], [XML, /total="2"/]]) {
      const list = await cell.send(req("GET", TICKETS, { accept: accept as string }));
      assert.equal(list.status, 200, text(list.body));
      assertLength(list, `GET list ${accept}`);
      assert.match(text(list.body), pattern as RegExp);
      const got = await cell.send(req("GET", one, { accept: accept as string }));
      assert.equal(got.status, 200);
      assertLength(got, `GET one ${accept}`);
      assert.match(text(got.body), /disque plein ✓/);
    }

    const put = await cell.send(req("PUT", one, {
      ...json,
      body: JSON.stringify({ message: "réparé", status: "closed" }),
    }));
    assert.equal(put.status, 200, text(put.body));
    assertLength(put, "PUT json");
    assert.equal(JSON.parse(text(put.body)).status, "closed");
    const putXml = await cell.send(req("PUT", one, {
      ...xml,
      body: `<Ticket><Message>rouvert</Message><Status>open</Status></Ticket>`,
    }));
    assert.equal(putXml.status, 200, text(putXml.body));
    assertLength(putXml, "PUT xml");
    assert.match(text(putXml.body), /<Message>rouvert<\/Message>/);

    const deleted = await cell.send(req("DELETE", one));
    assert.equal(deleted.status, 204);
    assertLength(deleted, "DELETE");
    assert.equal((await cell.send(req("GET", one))).status, 404);

    // The service's own output: an access line per request labelled mqtt, no credential.
    const access = logLines(serve.proc).filter((l) => l.msg === "request");
    assert.ok(access.length >= 9, serve.proc.log);
    assert.ok(access.every((l) => l.transport === "mqtt" && l.disposition === "published"));
    assert.ok(!serve.proc.log.includes(TOKEN) && !serve.proc.log.includes(API_TOKEN));
    // No AMQP connection was attempted (its URL leads nowhere: it would have failed start-up).
    assert.doesNotMatch(serve.proc.log, /amqp:\/\/|"msg":"consuming"/);
    const metrics = (await serve.get("/metrics")).text;
    assert.equal(
      sample(
        metrics,
        `vcdext_requests_total{extension="gcp-ticketing",transport="mqtt",route="DELETE /api/org/{org}/ticketing/{id}",status="204"}`,
      ),
      1,
    );
  } finally {
    await cell.close();
    await serve.proc.end();
  }
});

Deno.test("serve --transport mqtt: 404, 405, 406, 403, 413 and 415 are vCloud errors", async () => {
  const serve = await MqttServe.start({ flags: ["--max-body-bytes", "1024"] });
  const cell = await MqttCell.connect(SHARED_URL, serve.vendor);
  try {
    for (const accept of ["application/json", XML]) {
      const cases: [number, CellEnvelope][] = [
        [404, req("GET", `${TICKETS}/nope`, { accept })],
        [404, req("GET", `/api/org/${SAMPLE.orgId}/nothing-here`, { accept })],
        [405, req("PATCH", TICKETS, { accept })],
        [403, req("GET", `/api/org/${OTHER_ORG.id}/ticketing`, { accept })],
        [
          413,
          req("POST", TICKETS, {
            accept,
            contentType: "application/json",
            body: JSON.stringify({ message: "x".repeat(2048) }),
          }),
        ],
        [415, req("POST", TICKETS, { accept, contentType: "text/plain", body: "message=plain" })],
      ];
      for (const [status, env] of cases) {
        assertVcloudError(await cell.send(env), status, `${status} (${accept})`);
      }
    }
    const notAcceptable = await cell.send(req("GET", TICKETS, { accept: "application/pdf" }));
    assert.equal(notAcceptable.status, 406, text(notAcceptable.body));
    assertLength(notAcceptable, "406");
    assert.match(text(notAcceptable.body), /majorErrorCode/);
  } finally {
    await cell.close();
    await serve.proc.end();
  }
});

Deno.test("serve --transport both: the same request over AMQP and MQTT gets the same status, headers and body", async () => {
  const vendor = uniqueVendor();
  const serve = await Serve.start({
    entry: MAIN_MQTT,
    flags: ["--transport", "both", "--mqtt-url", SHARED_URL],
    env: { VCDEXT_MQTT_TOKEN: TOKEN, VCDEXT_TEST_VENDOR: vendor },
  });
  await serve.proc.waitFor('"msg":"MQTT connected and subscribed"');
  const mqttCell = await MqttCell.connect(SHARED_URL, vendor);
  const amqpCell = await RawCell.connect();
  const overAmqp = async (env: CellEnvelope): Promise<Answer> => {
    const r = replyJson(await amqpCell.send(serve.exchange, "gcp-ticketing", env));
    return { status: r.statusCode, headers: r.headers, body: Uint8Array.fromBase64(r.body) };
  };
  try {
    assert.equal(await serve.readyz(), 200);
    const settings = settingsOf(serve.proc);
    assert.equal(settings.transport, "both");
    assert.equal(settings.mqttUrl, SHARED_URL);
    assert.deepEqual(settings.amqpUrl, [AMQP_URL.replace(/:[^:@/]+@/, ":[redacted]@")]);
    // One ticket to read back (created over AMQP, read over both: the store is shared).
    const created = await overAmqp(req("POST", TICKETS, {
      contentType: "application/json",
      body: '{"message":"même réponse ✓"}',
    }));
    assert.equal(created.status, 201);
    const id = JSON.parse(text(created.body)).id;
    const requests = [
      req("GET", TICKETS),
      req("GET", TICKETS, { accept: XML }),
      req("GET", `${TICKETS}/${id}`),
      req("GET", `${TICKETS}/${id}`, { accept: XML }),
      req("GET", `${TICKETS}/nope`, { accept: XML }),
      req("PATCH", TICKETS),
      req("GET", TICKETS, { accept: "application/pdf" }),
      req("GET", `/api/org/${OTHER_ORG.id}/ticketing`),
      req("POST", TICKETS, { contentType: "text/plain", body: "plain" }),
      req("PUT", `${TICKETS}/${id}`, { contentType: "application/json", body: "{not json" }),
    ];
    for (const env of requests) {
      const [a, m] = await Promise.all([overAmqp(env), mqttCell.send(env)]);
      const what = `${JSON.parse(text(env.body))[0].method} ${
        JSON.parse(text(env.body))[0].headers.Accept
      }`;
      assert.equal(m.status, a.status, what);
      assert.deepEqual(
        Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, String(v)])),
        Object.fromEntries(Object.entries(a.headers).map(([k, v]) => [k, String(v)])),
        what,
      );
      assert.equal(text(m.body), text(a.body), what);
      assertLength(m, what);
    }
    // Each bus's requests are counted under its own transport label.
    const metrics = await serve.metrics();
    const route = 'route="GET /api/org/{org}/ticketing/{id}",status="200"';
    for (const transport of ["amqp", "mqtt"]) {
      assert.equal(
        sample(
          metrics,
          `vcdext_requests_total{extension="gcp-ticketing",transport="${transport}",${route}}`,
        ),
        2,
        metrics,
      );
    }
    const access = serve.lines("request");
    assert.deepEqual(
      [...new Set(access.map((l) => `${l.transport}:${l.disposition}`))].sort(),
      ["amqp:acked", "mqtt:published"],
    );
    assert.ok(!serve.proc.log.includes(TOKEN) && !serve.proc.log.includes(API_TOKEN));
  } finally {
    await mqttCell.close();
    await amqpCell.close();
    await serve.close();
  }
});

Deno.test("serve --transport mqtt: 429 past --max-in-flight, 504 past --handler-timeout-ms", async () => {
  const serve = await MqttServe.start({
    extension: ["fixture"],
    flags: ["--max-in-flight", "1", "--handler-timeout-ms", "1500", "--vcd-timeout-ms", "5000"],
  });
  const cell = await MqttCell.connect(SHARED_URL, serve.vendor, "fixture");
  try {
    const slow = req("GET", "/api/fixture/slow?ms=1000");
    await cell.publish(slow);
    await eventually(async () => {
      const m = (await serve.get("/metrics")).text;
      return sample(m, "vcdext_in_flight") === 1;
    }, 5_000);
    const busy = await cell.send(req("GET", "/api/fixture/ok"));
    assertVcloudError(busy, 429, "past --max-in-flight 1");
    assert.equal((await cell.answer(slow.id)).status, 200);
    const started = performance.now();
    const late = await cell.send(req("GET", "/api/fixture/slow?ms=4000"));
    const ms = performance.now() - started;
    assertVcloudError(late, 504, "past --handler-timeout-ms 1500");
    assert.ok(ms >= 1_400 && ms < 3_500, `504 after ${Math.round(ms)} ms`);
  } finally {
    await cell.close();
    await serve.proc.end();
  }
});

Deno.test("serve --transport mqtt: SIGTERM drains the requests in flight, then exits 0", async () => {
  const serve = await MqttServe.start({ extension: ["fixture"], flags: ["--drain-ms", "5000"] });
  const cell = await MqttCell.connect(SHARED_URL, serve.vendor, "fixture");
  try {
    const slow = [1, 2, 3].map(() => req("GET", "/api/fixture/slow?ms=1500"));
    await Promise.all(slow.map((env) => cell.publish(env)));
    await eventually(async () => {
      const m = (await serve.get("/metrics")).text;
      return sample(m, "vcdext_in_flight") === 3;
    }, 5_000);
    serve.proc.kill("SIGTERM");
    const status = await serve.proc.wait();
    assert.equal(status.code, 0, serve.proc.log);
    for (const env of slow) assert.equal((await cell.answer(env.id, 2_000)).status, 200);
    const stopped = logLines(serve.proc).find((l) => l.msg === "MQTT service stopped");
    assert.equal(stopped?.drained, true, serve.proc.log);
  } finally {
    await cell.close();
    await serve.proc.end();
  }
});

Deno.test({
  name:
    "serve --transport mqtt with a wrong token: one clear error line, slow retries, not ready, the token nowhere",
  ignore: NO_MOSQUITTO,
  async fn() {
    const vendor = uniqueVendor();
    const broker = await startPrivateMosquitto({
      users: { [`${vendor}/gcp-ticketing/1.0.0`]: "the-right-token" },
    });
    const wrong = `wrong-token-${crypto.randomUUID()}`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN_MQTT,
        "serve",
        "--transport",
        "mqtt",
        "--mqtt-url",
        broker.url,
        "--extension",
        "gcp-ticketing",
        "--http-port",
        "0",
      ],
      env: { VCDEXT_MQTT_TOKEN: wrong, VCDEXT_TEST_VENDOR: vendor, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = { stdout: "", stderr: "" };
    const pumps = (["stdout", "stderr"] as const).map(async (name) => {
      for await (const chunk of child[name].pipeThrough(new TextDecoderStream())) {
        out[name] += chunk;
      }
    });
    try {
      await eventually(() => out.stderr.includes('"msg":"HTTP listener up"'), 20_000);
      const port = JSON.parse(out.stderr.split("\n").find((l) => l.includes("HTTP listener up"))!)
        .port;
      const readyz = await fetch(`http://127.0.0.1:${port}/readyz`);
      await readyz.body?.cancel();
      assert.equal(readyz.status, 503);
      // Three seconds later: still the one error line, no hot loop of attempts.
      await new Promise((r) => setTimeout(r, 3_000));
      const lines = out.stderr.split("\n").filter((l) => l.trim() !== "");
      const errors = lines.filter((l) => l.includes('"level":"error"') || l.includes('"level":50'));
      assert.equal(errors.length, 1, out.stderr);
      assert.match(errors[0]!, /login refused: .*check the extension's token and triplet/);
      assert.match(errors[0]!, /retrying every \d+ s/);
      assert.ok(lines.length < 10, `a hot loop? ${lines.length} lines:\n${out.stderr}`);
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await Promise.all(pumps);
      await broker.close();
    }
    assert.ok(!out.stdout.includes(wrong) && !out.stderr.includes(wrong), "the token leaked");
    assert.ok(!out.stdout.includes("the-right-token") && !out.stderr.includes("the-right-token"));
  },
});

Deno.test({
  name:
    "the contract: `deno task start --transport mqtt --mqtt-url <url> --extension gcp-ticketing` with VCDEXT_MQTT_TOKEN answers a request",
  ignore: NO_MOSQUITTO,
  async fn() {
    // A private broker: the task serves the real triplet, example/gcp-ticketing/1.0.0, which
    // must not meet another run's on the shared broker.
    const broker = await startPrivateMosquitto();
    const env: Record<string, string> = { VCDEXT_MQTT_TOKEN: TOKEN, NO_COLOR: "1" };
    for (const name of ["PATH", "HOME", "DENO_DIR"]) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "start",
        "--transport",
        "mqtt",
        "--mqtt-url",
        broker.url,
        "--extension",
        "gcp-ticketing",
      ],
      cwd: ROOT,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = { stdout: "", stderr: "" };
    const pumps = (["stdout", "stderr"] as const).map(async (name) => {
      for await (const chunk of child[name].pipeThrough(new TextDecoderStream())) {
        out[name] += chunk;
      }
    });
    let cell: MqttCell | undefined;
    try {
      await eventually(() => out.stderr.includes('"msg":"MQTT connected and subscribed"'), 30_000)
        .catch(() => {
          throw new Error(`not subscribed:\n${out.stderr}`);
        });
      cell = await MqttCell.connect(broker.url, "example");
      const answer = await cell.send(req("GET", TICKETS));
      assert.equal(answer.status, 200, text(answer.body));
      assertLength(answer, "GET list");
    } finally {
      await cell?.close();
      // deno task runs the service as its child: end the whole group started here.
      child.kill("SIGTERM");
      await child.status;
      await Promise.all(pumps);
      await broker.close();
    }
    assert.ok(!out.stdout.includes(TOKEN) && !out.stderr.includes(TOKEN), "the token leaked");
    assert.match(out.stderr, /"msg":"request"/);
  },
});

Deno.test("serve --mqtt-ha: two instances answer each request once; kill -9 of the active one: the other answers within 5 s", async () => {
  const vendor = uniqueVendor();
  // The leases live on the shared RabbitMQ; later flags win over MqttServe's dead --amqp-url.
  const flags = ["--mqtt-ha", "--amqp-url", AMQP_URL];
  const a = await MqttServe.start({ vendor, flags, upWhen: '"msg":"lease won' });
  const b = await MqttServe.start({ vendor, flags, upWhen: '"msg":"MQTT connected (paused)"' });
  const cell = await MqttCell.connect(SHARED_URL, vendor);
  try {
    assert.equal(settingsOf(a.proc).mqttHa, true);
    const first = Array.from({ length: 100 }, () => req("GET", TICKETS));
    await Promise.all(first.map((env) => cell.publish(env)));
    for (const env of first) assert.equal((await cell.answer(env.id)).status, 200);
    // Every answer has come once any straggler would have: one more round trip behind them.
    await cell.send(req("GET", TICKETS));
    const twice = first.filter((env) => cell.responses.get(env.id)!.length !== 1);
    assert.deepEqual(twice.map((e) => e.id), [], "requests answered more than once");

    const killed = performance.now();
    a.proc.kill("SIGKILL");
    // Requests sent after the kill are answered once the standby takes over.
    let gap = 0;
    await eventually(async () => {
      const probe = req("GET", TICKETS);
      await cell.publish(probe);
      try {
        await cell.answer(probe.id, 250);
        gap = performance.now() - killed;
        return true;
      } catch {
        return false;
      }
    }, 5_000);
    console.log(
      `--mqtt-ha: the standby answered ${Math.round(gap)} ms after kill -9 of the active one`,
    );
    assert.ok(gap < 5_000);
    const after = Array.from({ length: 100 }, () => req("GET", TICKETS));
    await Promise.all(after.map((env) => cell.publish(env)));
    for (const env of after) assert.equal((await cell.answer(env.id)).status, 200);
    await cell.send(req("GET", TICKETS));
    assert.deepEqual(
      after.filter((env) => cell.responses.get(env.id)!.length !== 1).map((e) => e.id),
      [],
      "requests answered more than once after the takeover",
    );
  } finally {
    await cell.close();
    await a.proc.end();
    await b.proc.end();
  }
});
