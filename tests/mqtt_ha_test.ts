/**
 * `--mqtt-ha` against the shared RabbitMQ (the lease) and the shared Mosquitto (the requests):
 * instances run as processes of their own (tests/fixtures/mqtt_ha_instance.ts), so `kill -9` is
 * real; a client plays the vCD cell and tells who answered by the `headers.instance` each
 * fixture adds to its API_RESPONSE. Every test uses a triplet, hence a lease queue, of its own.
 * The fencing tests route one instance's AMQP through a TCP proxy (tests/link_proxy.ts) that can
 * be cut (both sockets closed) or frozen (bytes dropped, sockets open: a partition, which the
 * broker notices only by missed heartbeats) while its MQTT connection stays up; nothing shared is
 * stopped.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqtt, { type MqttClient } from "mqtt";
import { BrokerAdmin } from "../lib/transport/amqp/admin.ts";
import { leaseQueueName } from "../lib/transport/amqp/lease.ts";
import { monitorTopic, respondTopic, type Triplet, triplet } from "../lib/transport/mqtt/topics.ts";
import { AMQP_URL, eventually } from "./broker.ts";
import { fakeJwt, ORG, RIGHTS, USER, utf8 } from "./fixtures.ts";
import { LinkProxy } from "./link_proxy.ts";
import { Proc } from "./proc.ts";

const MQTT_URL = Deno.env.get("VCDEXT_TEST_MQTT_URL") ?? "mqtt://127.0.0.1:1883";
const FIXTURE = new URL("./fixtures/mqtt_ha_instance.ts", import.meta.url).pathname;
const PATH = `/api/org/${ORG.id}/ticketing`;
const API_TOKEN = fakeJwt({ sub: "alice", org: ORG.id });
/** The lease's validity after its last confirmation (lib/transport/amqp/lease.ts default). */
const VALID_FOR_MS = 750;

function uniqueTriplet(): Triplet {
  return triplet("vcdext-test", `ha-${crypto.randomUUID().slice(0, 8)}`, "1.0.0");
}

interface Answer {
  instance: string;
  status: number;
  at: number;
}

/** Plays the vCD cell: publishes GETs on the monitor topic, collects answers by requestId. */
class Cell {
  readonly answers = new Map<string, Answer[]>();
  /** When each request was published (Date.now() before the publish). */
  readonly sent = new Map<string, number>();
  #n = 0;

  constructor(readonly client: MqttClient, readonly t: Triplet) {
    client.on("message", (_topic, payload) => {
      const m = JSON.parse(payload.toString("utf8"));
      const list = this.answers.get(m.headers.requestId) ?? [];
      list.push({
        instance: m.headers.instance,
        status: m.httpResponse.statusCode,
        at: Date.now(),
      });
      this.answers.set(m.headers.requestId, list);
    });
  }

  static async connect(t: Triplet): Promise<Cell> {
    const client = await mqtt.connectAsync(MQTT_URL, {
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 500,
      clientId: `cell-${crypto.randomUUID().slice(0, 12)}`,
    });
    client.on("error", () => {});
    await client.subscribeAsync(respondTopic(t), { qos: 1 });
    return new Cell(client, t);
  }

  message(requestId: string): Uint8Array {
    const httpRequest = {
      message: {
        id: `m-${requestId}`,
        method: "GET",
        scheme: "https",
        protocol: "HTTP/1.1",
        requestUri: PATH,
        queryString: null,
        headers: { Accept: "application/json" },
        body: "",
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

  /** Publishes one request with a fresh id; returns the id. */
  async request(prefix = "r"): Promise<string> {
    const id = `${prefix}-${this.#n++}-${crypto.randomUUID().slice(0, 8)}`;
    this.sent.set(id, Date.now());
    await this.client.publishAsync(monitorTopic(this.t), Buffer.from(this.message(id)), { qos: 1 });
    return id;
  }

  /** Sends requests until one is answered within 400 ms; who answered it. */
  async probe(ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const id = await this.request("probe");
      const ok = await eventually(() => this.answers.has(id), 400).then(() => true, () => false);
      if (ok) return this.answers.get(id)![0]!.instance;
    }
    throw new Error(`no answer within ${ms} ms`);
  }

  /** Ids answered more than once. */
  duplicates(): string[] {
    return [...this.answers].filter(([, a]) => a.length > 1).map(([id]) => id);
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

/** Starts one instance process; resolves once it runs (active or standby). */
async function instance(name: string, t: Triplet, amqpUrl = AMQP_URL): Promise<Proc> {
  const proc = new Proc([
    FIXTURE,
    "--amqp-url",
    amqpUrl,
    "--mqtt-url",
    MQTT_URL,
    "--vendor",
    t.vendor,
    "--name",
    t.name,
    "--instance",
    name,
  ]);
  await proc.waitFor("mqtt-ha instance started");
  return proc;
}

/** The `time` of the first log line of `proc` with message `msg`, or undefined. */
function lineTime(proc: Proc, msg: string): number | undefined {
  for (const line of proc.log.split("\n")) {
    if (!line.startsWith("{")) continue;
    const l = JSON.parse(line);
    if (l.msg === msg) return l.time;
  }
  return undefined;
}

/** Sends `n` requests, `batch` at a time; returns their ids. */
async function burst(cell: Cell, n: number, prefix: string, batch = 20): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += batch) {
    const round = Array.from({ length: Math.min(batch, n - i) }, () => cell.request(prefix));
    ids.push(...await Promise.all(round));
  }
  return ids;
}

/** Waits for an answer to each of `ids`, then a moment more for duplicates to show. */
async function settle(cell: Cell, ids: string[]): Promise<void> {
  await eventually(() => ids.every((id) => cell.answers.has(id)), 30_000).catch(() => {
    const missing = ids.filter((id) => !cell.answers.has(id));
    throw new Error(`${missing.length} of ${ids.length} unanswered, e.g. ${missing[0]}`);
  });
  await new Promise((r) => setTimeout(r, 500));
}

Deno.test("mqtt-ha: two instances, 200 requests, exactly one answer each", async () => {
  const t = uniqueTriplet();
  const a = await instance("a", t);
  const b = await instance("b", t);
  const cell = await Cell.connect(t);
  try {
    const active = await cell.probe();
    const ids = await burst(cell, 200, "load");
    await settle(cell, ids);
    assert.deepEqual(cell.duplicates(), []);
    for (const id of ids) {
      const [answer] = cell.answers.get(id)!;
      assert.equal(answer!.status, 200);
      assert.equal(answer!.instance, active, "one instance answers everything");
    }
  } finally {
    await cell.close();
    await Promise.all([a.end(), b.end()]);
  }
});

Deno.test("mqtt-ha: kill -9 of the active instance, the standby answers within 5 s", async () => {
  const t = uniqueTriplet();
  const procs = { a: await instance("a", t), b: await instance("b", t) };
  const cell = await Cell.connect(t);
  try {
    const active = await cell.probe() as "a" | "b";
    const standby = active === "a" ? "b" : "a";
    const before = await burst(cell, 50, "before");
    await settle(cell, before);
    const killed = Date.now();
    procs[active].kill("SIGKILL");
    // A request every 50 ms until one is answered.
    let first: { id: string; answeredAt: number } | undefined;
    const tried: string[] = [];
    while (first === undefined && Date.now() - killed < 10_000) {
      tried.push(await cell.request("gap"));
      await new Promise((r) => setTimeout(r, 50));
      const hit = tried.find((id) => cell.answers.has(id));
      if (hit) first = { id: hit, answeredAt: cell.answers.get(hit)![0]!.at };
    }
    assert.ok(first, "no answer within 10 s of the kill");
    const gap = first.answeredAt - killed;
    console.log(`mqtt-ha takeover after kill -9: first answer ${gap} ms after the kill`);
    assert.ok(gap < 5_000, `answering again only after ${gap} ms`);
    assert.equal(cell.answers.get(first.id)![0]!.instance, standby);
    const after = await burst(cell, 100, "after");
    await settle(cell, after);
    assert.deepEqual(cell.duplicates(), []);
    for (const id of after) assert.equal(cell.answers.get(id)![0]!.instance, standby);
  } finally {
    await cell.close();
    await Promise.all([procs.a.end(), procs.b.end()]);
  }
});

Deno.test("mqtt-ha: SIGTERM hands over: the lease is given up, the standby answers within ~1 s", async () => {
  const t = uniqueTriplet();
  const procs = { a: await instance("a", t), b: await instance("b", t) };
  const cell = await Cell.connect(t);
  try {
    const active = await cell.probe() as "a" | "b";
    const standby = active === "a" ? "b" : "a";
    const stopping = Date.now();
    procs[active].kill("SIGTERM");
    const status = await procs[active].wait();
    assert.equal(status.code, 0, procs[active].log.slice(-2000));
    assert.match(procs[active].log, /lease given up/);
    assert.equal(await cell.probe(5_000), standby, "the standby answers within 5 s");
    console.log(
      `mqtt-ha handover on SIGTERM: answering again ${Date.now() - stopping} ms after it`,
    );
    const after = await burst(cell, 50, "after");
    await settle(cell, after);
    assert.deepEqual(cell.duplicates(), []);
  } finally {
    await cell.close();
    await Promise.all([procs.a.end(), procs.b.end()]);
  }
});

/**
 * A, holding the lease through the proxy, loses its RabbitMQ link while its MQTT connection
 * stays up: it must stop before B takes over, and no request may be answered twice.
 */
async function fencing(mode: "cut" | "freeze"): Promise<void> {
  const t = uniqueTriplet();
  const proxy = LinkProxy.to(AMQP_URL);
  const a = await instance("a", t, proxy.url);
  const cell = await Cell.connect(t);
  let b: Proc | undefined;
  let streaming = true;
  const stream: Promise<void>[] = [];
  try {
    assert.equal(await cell.probe(), "a", "A started first and holds the lease");
    b = await instance("b", t);
    // Requests every 20 ms for the whole test.
    const pacing = (async () => {
      while (streaming) {
        stream.push(cell.request(mode).then(() => {}));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    // When the broker frees the lease: the queue is locked (another connection's) until then.
    const admin = await BrokerAdmin.connect(AMQP_URL);
    let releasedAt: number | undefined;
    const lostAt = Date.now();
    if (mode === "cut") proxy.cut();
    else proxy.frozen = true;
    const watching = eventually(async () => {
      const exists = await admin.queueInfo(leaseQueueName(t)).then(
        (q) => q !== undefined,
        () => true,
      );
      if (!exists) releasedAt = Date.now();
      return !exists;
    }, 15_000).finally(() => admin.close());
    await eventually(() => [...cell.answers.values()].some((l) => l[0]!.instance === "b"), 15_000);
    await new Promise((r) => setTimeout(r, 1_000));
    streaming = false;
    await pacing;
    await Promise.all(stream);
    await watching;
    await new Promise((r) => setTimeout(r, 1_000));

    assert.deepEqual(cell.duplicates(), [], "a request answered twice");
    const by = (who: string) =>
      [...cell.answers].filter(([, l]) => l[0]!.instance === who).map(([id]) => cell.sent.get(id)!);
    const lastA = Math.max(...by("a")) - lostAt;
    const firstB = Math.min(...by("b")) - lostAt;
    const aStopped = lineTime(a, "lease lost: this instance stops answering")! - lostAt;
    const bWon = lineTime(b, "lease won: this instance is active")! - lostAt;
    const released = releasedAt! - lostAt;
    console.log(
      `mqtt-ha fencing (${mode}): A stopped ${aStopped} ms after the ${mode}, last request A ` +
        `answered was sent at ${lastA} ms; the broker freed the lease by ${released} ms; B won ` +
        `it at ${bWon} ms, first request B answered was sent at ${firstB} ms`,
    );
    assert.ok(lastA < firstB, "A answered a request sent after B had started answering");
    // "At once": on a cut within a turn; on a partition once the lease's validity runs out.
    // (Generous slack for timers on a loaded machine; the order of events is the real check.)
    const bound = mode === "cut" ? 250 : VALID_FOR_MS + 400;
    assert.ok(aStopped <= bound, `A stopped ${aStopped} ms after the ${mode} (bound ${bound})`);
    assert.ok(lastA <= bound, `A answered a request sent ${lastA} ms after the ${mode}`);
    assert.ok(bWon > aStopped, "B won before A had stopped");
    if (mode === "freeze") assert.ok(released > aStopped, "the broker freed the lease first");
  } finally {
    streaming = false;
    await cell.close();
    await Promise.all([a.end(), b?.end()]);
    await proxy.close();
  }
}

Deno.test("mqtt-ha fencing: the holder's RabbitMQ connection cut, MQTT up", () => fencing("cut"));

Deno.test("mqtt-ha fencing: the holder's RabbitMQ link frozen (partition), MQTT up", () =>
  fencing("freeze"));
