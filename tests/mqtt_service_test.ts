/**
 * The MQTT transport against a real Mosquitto: the ticketing extension served by
 * `startMqttService` + `endpoint(ext, { codec: MQTT_CODEC })`, with a client playing the vCD
 * cell (publish `API_REQUEST` on the monitor topic, wait for `API_RESPONSE` with the same
 * requestId on the respond topic). Round trips use the shared broker on 127.0.0.1:1883 under
 * topics unique to the run; the restart and wrong-credential tests start a private Mosquitto
 * (tests/private_mosquitto.ts) and never touch the shared one.
 */

import { systemClock } from "../lib/transport/clock.ts";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqtt, { type MqttClient } from "mqtt";
import { endpoint } from "../lib/core/service.ts";
import { createLogger } from "../lib/observability/log.ts";
import { MQTT_CODEC } from "../lib/transport/mqtt/codec.ts";
import {
  type MqttServiceConfig,
  type RunningMqttService,
  startMqttService,
} from "../lib/transport/mqtt/service.ts";
import {
  formatTriplet,
  monitorTopic,
  respondTopic,
  type Triplet,
  triplet,
} from "../lib/transport/mqtt/topics.ts";
import {
  defineExtension,
  type Extension,
  type HandlerResult,
  HttpError,
  route,
} from "../lib/sdk.ts";
import { MemoryTicketStore, ticketing } from "../handlers/ticketing.ts";
import { eventually } from "./broker.ts";
import { fakeJwt, ORG, RIGHTS, USER, utf8 } from "./fixtures.ts";
import { mosquittoAvailable, startPrivateMosquitto } from "./private_mosquitto.ts";
import { ignoreUnless } from "./skip.ts";

const SHARED_URL = Deno.env.get("VCDEXT_TEST_MQTT_URL") ?? "mqtt://127.0.0.1:1883";
const PATH = `/api/org/${ORG.id}/ticketing`;
const NOW = "2026-01-02T03:04:05.000Z";
const API_TOKEN = fakeJwt({ sub: "alice", org: ORG.id });
const NO_MOSQUITTO = ignoreUnless("private Mosquitto tests", mosquittoAvailable());

/** A triplet unique to this test run (the shared broker may serve other runs). */
function uniqueTriplet(): Triplet {
  return triplet("vcdext-test", `ticketing-${crypto.randomUUID().slice(0, 8)}`, "1.0.0");
}

interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | number>;
  body: string;
  /** The decoded body bytes. */
  bytes: Uint8Array;
}

/** Plays the vCD cell: publishes requests on the monitor topic, collects responses by id. */
class Cell {
  readonly responses = new Map<string, HttpResponse[]>();
  constructor(readonly client: MqttClient, readonly t: Triplet) {
    client.on("message", (_topic, payload) => {
      const m = JSON.parse(payload.toString("utf8"));
      assert.equal(m.type, "API_RESPONSE");
      const r = m.httpResponse;
      const list = this.responses.get(m.headers.requestId) ?? [];
      list.push({ ...r, bytes: Uint8Array.fromBase64(r.body) });
      this.responses.set(m.headers.requestId, list);
    });
  }

  static async connect(
    url: string,
    t: Triplet,
    login: { username: string; password: string } | undefined = undefined,
    tls: { ca: string[] } | undefined = undefined,
  ): Promise<Cell> {
    // Reconnects on its own every 500 ms and subscribes again (mqtt.js resubscribe).
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 500,
      clientId: `cell-${crypto.randomUUID().slice(0, 12)}`,
      ...login,
      ...tls,
    });
    client.on("error", () => {});
    await client.subscribeAsync(respondTopic(t), { qos: 1 });
    return new Cell(client, t);
  }

  /** The bytes of an API_REQUEST (section 12.3). */
  message(requestId: string, req: {
    method: string;
    path?: string;
    accept?: string;
    contentType?: string;
    body?: string;
    queryString?: string;
  }): Uint8Array {
    const headers: Record<string, string> = { Accept: req.accept ?? "application/json" };
    if (req.contentType) headers["Content-Type"] = req.contentType;
    const httpRequest = {
      message: {
        id: `m-${requestId}`,
        method: req.method,
        scheme: "https",
        protocol: "HTTP/1.1",
        requestUri: req.path ?? PATH,
        queryString: req.queryString ?? null,
        headers,
        body: req.body === undefined ? "" : utf8(req.body).toBase64(),
        request: true,
        statusCode: 0,
      },
      securityContext: {
        user: USER,
        org: ORG.urn,
        rights: [RIGHTS.view],
        apiAccessToken: API_TOKEN,
      },
      context: {},
    };
    return utf8(JSON.stringify({
      type: "API_REQUEST",
      headers: { requestId, context: { apiAccessToken: API_TOKEN, user: USER, org: ORG.urn } },
      httpRequest: utf8(JSON.stringify(httpRequest)).toBase64(),
    }));
  }

  publish(bytes: Uint8Array): Promise<unknown> {
    return this.client.publishAsync(monitorTopic(this.t), Buffer.from(bytes), { qos: 1 });
  }

  /** Sends a request and waits for its first response. */
  async send(
    req: Parameters<Cell["message"]>[1],
    requestId: string = crypto.randomUUID(),
    ms = 10_000,
  ): Promise<HttpResponse> {
    await this.publish(this.message(requestId, req));
    await eventually(() => this.responses.has(requestId), ms);
    return this.responses.get(requestId)![0]!;
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

interface Served {
  service: RunningMqttService;
  logs: string[];
  store: MemoryTicketStore;
  creates: () => number;
  replies: { requestId: string; shortcut: string | undefined }[];
}

/** Serves the ticketing extension over MQTT as `t`, with a store that counts creations. */
async function serve(
  url: string,
  t: Triplet,
  config: Partial<MqttServiceConfig> = {},
  token = "extension-token-value",
  extension?: (store: MemoryTicketStore) => Extension,
): Promise<Served> {
  const logs: string[] = [];
  const store = new MemoryTicketStore(() => new Date(NOW));
  let creates = 0;
  const create = store.create.bind(store);
  store.create = (org, fields) => {
    creates++;
    return create(org, fields);
  };
  const ep = endpoint((extension ?? ticketing)(store), {
    codec: MQTT_CODEC,
    timeoutMs: 5_000,
    clock: systemClock,
  });
  const replies: Served["replies"] = [];
  const service = await startMqttService({
    url,
    log: createLogger("debug", { write: (line) => logs.push(line) }),
    extensions: [{ label: "gcp-ticketing", triplet: t, token, handle: ep.handle }],
    onReply: (d) => replies.push({ requestId: d.requestId, shortcut: d.shortcut }),
    ...config,
  });
  return { service, logs, store, creates: () => creates, replies };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("mqtt service: ticketing round trips in JSON and XML, byte-correct Content-Length", async () => {
  const t = uniqueTriplet();
  const s = await serve(SHARED_URL, t);
  const cell = await Cell.connect(SHARED_URL, t);
  try {
    assert.ok(s.service.ready());
    const message = "disque plein ✓ — 🎫";
    const created = await cell.send({
      method: "POST",
      contentType: "application/json",
      body: JSON.stringify({ message }),
    });
    assert.equal(created.statusCode, 201, text(created.bytes));
    assert.equal(created.headers["Content-Length"], created.bytes.byteLength);
    assert.ok(created.bytes.byteLength > text(created.bytes).length, "multi-byte body");
    const ticket = JSON.parse(text(created.bytes));
    assert.equal(ticket.message, message);
    assert.match(String(created.headers["Location"]), new RegExp(`${PATH}/${ticket.id}$`));

    const xml = await cell.send({
      method: "POST",
      accept: "application/*+xml;version=36.0",
      contentType: "application/xml",
      body: `<Ticket xmlns="urn:example:ticketing"><Message>écran noir</Message></Ticket>`,
    });
    assert.equal(xml.statusCode, 201, text(xml.bytes));
    assert.equal(xml.headers["Content-Length"], xml.bytes.byteLength);
    assert.match(String(xml.headers["Content-Type"]), /\+xml;version=36\.0$/);
    assert.match(text(xml.bytes), /<Message>écran noir<\/Message>/);

    const list = await cell.send({ method: "GET" });
    assert.equal(list.statusCode, 200);
    assert.equal(list.headers["Content-Length"], list.bytes.byteLength);
    assert.equal(JSON.parse(text(list.bytes)).total, 2);

    const listXml = await cell.send({ method: "GET", accept: "application/*+xml;version=36.0" });
    assert.equal(listXml.statusCode, 200);
    assert.match(text(listXml.bytes), /<Tickets [^>]*total="2"/);
    assert.equal(listXml.headers["Content-Length"], listXml.bytes.byteLength);

    const missing = await cell.send({ method: "GET", path: `${PATH}/nope` });
    assert.equal(missing.statusCode, 404);
    assert.equal(JSON.parse(text(missing.bytes)).minorErrorCode, "NOT_FOUND");
    const wrongMethod = await cell.send({ method: "PATCH" });
    assert.equal(wrongMethod.statusCode, 405);

    // Not requests: dropped with one debug line each, and the service goes on.
    await cell.publish(utf8("not json"));
    await cell.publish(utf8(JSON.stringify({ type: "EVENT", headers: { requestId: "ev-1" } })));
    assert.equal((await cell.send({ method: "GET" })).statusCode, 200);
    assert.equal(s.logs.filter((l) => l.includes("MQTT message ignored")).length, 2);
    assert.ok(!cell.responses.has("ev-1"));
    assert.ok(!s.logs.some((l) => l.includes(API_TOKEN) || l.includes("extension-token-value")));

    // Replies are not retained: a subscriber that comes later gets none of them.
    const late = await mqtt.connectAsync(SHARED_URL, { protocolVersion: 4, reconnectPeriod: 0 });
    const retained: string[] = [];
    late.on("message", (topic) => retained.push(topic));
    await late.subscribeAsync(respondTopic(t), { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    await late.endAsync(true);
    assert.deepEqual(retained, []);
  } finally {
    await cell.close();
    await s.service.stop(1_000);
  }
});

Deno.test("mqtt service: the same requestId delivered twice runs the handler once", async () => {
  const t = uniqueTriplet();
  const s = await serve(SHARED_URL, t);
  const cell = await Cell.connect(SHARED_URL, t);
  try {
    const post = { method: "POST", contentType: "application/json", body: '{"message":"once"}' };
    // One after the other: the second is answered from the recent replies.
    const first = await cell.send(post, "dup-1");
    const bytes = cell.message("dup-1", post);
    await cell.publish(bytes);
    await eventually(() => (cell.responses.get("dup-1")?.length ?? 0) === 2);
    const [a, b] = cell.responses.get("dup-1")!;
    assert.equal(first.statusCode, 201);
    assert.deepEqual(b, a, "the same reply again");
    // Back to back: the second arrives while the first may still be handled.
    const again = cell.message("dup-2", post);
    await Promise.all([cell.publish(again), cell.publish(again)]);
    await eventually(() => (cell.responses.get("dup-2")?.length ?? 0) === 2);
    const [c, d] = cell.responses.get("dup-2")!;
    assert.deepEqual(c, d);
    assert.equal(s.creates(), 2, "one ticket per requestId");
    const shortcuts = s.replies.filter((r) => r.shortcut !== undefined).map((r) => r.shortcut);
    assert.equal(shortcuts.length, 2, JSON.stringify(s.replies));
    const list = await cell.send({ method: "GET" });
    assert.equal(JSON.parse(text(list.bytes)).total, 2);
  } finally {
    await cell.close();
    await s.service.stop(1_000);
  }
});

Deno.test({
  name: "mqtt service: answers again within 5 s of a restarted broker being back",
  ignore: NO_MOSQUITTO,
  async fn() {
    const broker = await startPrivateMosquitto();
    const t = uniqueTriplet();
    const s = await serve(broker.url, t);
    const cell = await Cell.connect(broker.url, t);
    try {
      assert.equal((await cell.send({ method: "GET" })).statusCode, 200);
      await broker.kill();
      await eventually(() => !s.service.ready(), 10_000);
      await new Promise((r) => setTimeout(r, 1_500)); // down a while: backoff grows
      await broker.start();
      const back = performance.now();
      // Each try waits 400 ms for its answer; the first answered one ends the wait.
      let answered = false;
      for (let i = 0; !answered && performance.now() - back < 5_000; i++) {
        const id = `after-restart-${i}`;
        cell.publish(cell.message(id, { method: "GET" })).catch(() => {});
        await eventually(() => cell.responses.has(id), 400).then(() => answered = true, () => {});
      }
      const ms = Math.round(performance.now() - back);
      assert.ok(answered, `no answer within 5 s of the broker being back (${ms} ms)`);
      assert.ok(s.service.ready());
      // Subscribed twice: at start and after the restart (the broker kept nothing).
      assert.equal(s.logs.filter((l) => l.includes("MQTT connected and subscribed")).length, 2);
      assert.equal(s.logs.filter((l) => l.includes("MQTT connection lost")).length, 1);
    } finally {
      await cell.close();
      await s.service.stop(1_000);
      await broker.close();
    }
  },
});

Deno.test({
  name: "mqtt service: wrong credentials are one clear error line and a bounded retry rate",
  ignore: NO_MOSQUITTO,
  async fn() {
    const t = uniqueTriplet();
    const right = "r1ght-extension-token";
    const wrong = "wr0ng-extension-token";
    const broker = await startPrivateMosquitto({ users: { [formatTriplet(t)]: right } });
    const bad = await serve(broker.url, t, { refusedRetryMs: 1_000 }, wrong);
    try {
      // Start-up does not fail: the refusal is logged and retried slowly.
      assert.equal(bad.service.ready(), false);
      await new Promise((r) => setTimeout(r, 3_500));
      const errors = bad.logs.filter((l) =>
        l.includes('"level":"error"') || l.includes('"level":50')
      );
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0]!, /login refused: .*check the extension's token and triplet/);
      assert.ok(errors[0]!.includes(formatTriplet(t)), "names the triplet it logged in as");
      // Attempts the broker saw: the first plus about one a second (jitter takes up to 25 % off).
      const attempts = broker.log().split("disconnected, not authorised").length - 1;
      assert.ok(attempts >= 2 && attempts <= 6, `${attempts} login attempts in 3.5 s`);
      assert.equal(bad.service.ready(), false);
      const all = bad.logs.join("\n");
      assert.ok(!all.includes(wrong) && !all.includes(right), "no token in the log");
    } finally {
      await bad.service.stop(500);
    }
    // The right token on the same broker works: the refusal was about the token.
    const good = await serve(broker.url, t, {}, right);
    const cell = await Cell.connect(broker.url, t, { username: formatTriplet(t), password: right });
    try {
      assert.ok(good.service.ready());
      assert.equal((await cell.send({ method: "GET" })).statusCode, 200);
    } finally {
      await cell.close();
      await good.service.stop(500);
      await broker.close();
    }
  },
});

/**
 * A WebSocket endpoint in front of the shared broker's TCP listener, as vCD's
 * `wss://<cell>/messaging/mqtt` is (Mosquitto's own websockets listener does not start here):
 * accepts subprotocol `mqtt` on /messaging/mqtt and pipes binary frames both ways, in order.
 */
function wsPipe(): { url: string; upgrades: () => string[]; close: () => Promise<void> } {
  const upgrades: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname !== "/messaging/mqtt") return new Response(null, { status: 404 });
    upgrades.push(req.headers.get("sec-websocket-protocol") ?? "");
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "mqtt" });
    socket.binaryType = "arraybuffer";
    const tcp = Deno.connect({
      hostname: "127.0.0.1",
      port: new URL(SHARED_URL).port ? Number(new URL(SHARED_URL).port) : 1883,
    });
    let writes: Promise<unknown> = tcp;
    socket.onopen = async () => {
      const conn = await tcp;
      try {
        for await (const chunk of conn.readable) socket.send(chunk);
      } catch { /* closed */ }
      try {
        socket.close();
      } catch { /* closed */ }
    };
    socket.onmessage = (e) => {
      const bytes = new Uint8Array(e.data as ArrayBuffer);
      writes = writes.then(async () => {
        const conn = await tcp;
        for (let n = 0; n < bytes.length;) n += await conn.write(bytes.subarray(n));
      }).catch(() => {});
    };
    socket.onclose = () => {
      tcp.then((c) => c.close()).catch(() => {});
    };
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/messaging/mqtt`,
    upgrades: () => upgrades,
    close: () => server.shutdown(),
  };
}

Deno.test("mqtt service: served over ws:// (the production WebSocket path)", async () => {
  const pipe = wsPipe();
  const t = uniqueTriplet();
  const s = await serve(pipe.url, t);
  const cell = await Cell.connect(SHARED_URL, t);
  try {
    assert.deepEqual(pipe.upgrades(), ["mqtt"], "one WebSocket, subprotocol mqtt");
    const created = await cell.send({
      method: "POST",
      contentType: "application/json",
      body: '{"message":"via WebSocket"}',
    });
    assert.equal(created.statusCode, 201);
    assert.equal(created.headers["Content-Length"], created.bytes.byteLength);
    assert.ok(s.logs.some((l) => l.includes(`"url":"ws://127.0.0.1:`)));
  } finally {
    await cell.close();
    await s.service.stop(1_000);
    await pipe.close();
  }
});

/** One slow route: answers after `ms`, or 503 as soon as its signal is aborted. */
function slow(ms: number): (store: MemoryTicketStore) => Extension {
  return () =>
    defineExtension({
      name: "slow",
      namespace: "slow",
      routingKey: "slow",
      routes: [route({
        method: "GET",
        path: "/api/slow",
        handle: (ctx) =>
          new Promise<HandlerResult<unknown>>((resolve, reject) => {
            const timer = setTimeout(() => resolve({ body: { waited: ms } }), ms);
            ctx.signal.addEventListener("abort", () => {
              clearTimeout(timer);
              reject(new HttpError(503, "shutting down"));
            });
          }),
      })],
    });
}

Deno.test("mqtt service: stop drains in-flight requests, then aborts what is left", async () => {
  const t = uniqueTriplet();
  const cell = await Cell.connect(SHARED_URL, t);
  try {
    // Drained: the reply goes out before the connection closes.
    const s = await serve(SHARED_URL, t, {}, undefined, slow(400));
    await cell.publish(cell.message("drain-1", { method: "GET", path: "/api/slow" }));
    await eventually(() => s.service.inFlight() === 1, 5_000);
    await s.service.stop(3_000);
    await eventually(() => cell.responses.has("drain-1"), 2_000);
    assert.equal(cell.responses.get("drain-1")![0]!.statusCode, 200);
    assert.equal(s.service.inFlight(), 0);
    assert.ok(s.logs.some((l) => l.includes('"drained":true')));
    // Past the drain time: the handler is aborted and its answer still goes out.
    const s2 = await serve(SHARED_URL, t, {}, undefined, slow(30_000));
    await cell.publish(cell.message("drain-2", { method: "GET", path: "/api/slow" }));
    await eventually(() => s2.service.inFlight() === 1, 5_000);
    const stopping = performance.now();
    await s2.service.stop(200);
    assert.ok(performance.now() - stopping < 5_000);
    await eventually(() => cell.responses.has("drain-2"), 2_000);
    assert.equal(cell.responses.get("drain-2")![0]!.statusCode, 503);
    assert.ok(s2.logs.some((l) => l.includes('"drained":false')));
    // Stopped: nothing answers any more.
    await cell.publish(cell.message("after-stop", { method: "GET", path: "/api/slow" }));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!cell.responses.has("after-stop"));
  } finally {
    await cell.close();
  }
});

Deno.test("mqtt service: no broker at start-up: a clear error after the retries, no secrets", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nothing listens there now
  const logs: string[] = [];
  const started = performance.now();
  await assert.rejects(
    startMqttService({
      url: `mqtt://someone:url-pa55word@127.0.0.1:${port}`,
      log: createLogger("debug", { write: (line) => logs.push(line) }),
      startupRetries: 3,
      backoff: { initialMs: 50, maxMs: 100, factor: 2, jitter: 0.5 },
      extensions: [{
        label: "gcp-ticketing",
        triplet: uniqueTriplet(),
        token: "extension-token-value",
        handle: endpoint(ticketing(), { codec: MQTT_CODEC }).handle,
      }],
    }),
    (e: Error) => {
      assert.match(
        e.message,
        new RegExp(
          `^Cannot connect to mqtt://someone:\\[redacted\\]@127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`,
        ),
      );
      assert.ok(!e.message.includes("url-pa55word"));
      return true;
    },
  );
  assert.ok(performance.now() - started < 5_000);
  const all = logs.join("\n");
  assert.ok(!all.includes("url-pa55word") && !all.includes("extension-token-value"), all);
  assert.equal(logs.filter((l) => l.includes("MQTT reconnect")).length, 2, "3 attempts");
});

Deno.test({
  name: "mqtt service: mqtts:// verifies the broker with the given CA, or refuses",
  ignore: NO_MOSQUITTO,
  async fn() {
    const broker = await startPrivateMosquitto({ tls: true });
    const t = uniqueTriplet();
    try {
      // The system's CAs do not know the test CA: start-up fails, naming the certificate.
      await assert.rejects(
        serve(broker.url, t, {
          startupRetries: 2,
          backoff: { initialMs: 50, maxMs: 50, factor: 2, jitter: 0 },
        }),
        /Cannot connect to mqtts:\/\/127\.0\.0\.1:\d+: .*(certificate|issuer)/i,
      );
      const s = await serve(broker.url, t, { tls: { ca: broker.ca! } });
      const cell = await Cell.connect(broker.url, t, undefined, { ca: [broker.ca!] });
      try {
        assert.equal((await cell.send({ method: "GET" })).statusCode, 200);
      } finally {
        await cell.close();
        await s.service.stop(500);
      }
      const insecure = await serve(broker.url, t, { tls: { insecure: true } });
      assert.ok(insecure.service.ready());
      await insecure.service.stop(500);
    } finally {
      await broker.close();
    }
  },
});
