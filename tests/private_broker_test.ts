import assert from "node:assert/strict";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import { privateBrokerAvailable, startPrivateBroker } from "./private_broker.ts";
import { ignoreUnless } from "./skip.ts";

const skipped = ignoreUnless("private RabbitMQ node tests", privateBrokerAvailable());

const since = (t: number) => `${Math.round(performance.now() - t)} ms`;

async function portOpen(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** Pids of processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(text)) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

/** Resolves once `fn` rejects (returns the error), or fails after `ms`. */
async function untilRejects(fn: () => Promise<unknown>, ms: number): Promise<unknown> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    try {
      await fn();
    } catch (e) {
      return e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`still succeeding after ${ms} ms`);
}

async function answers(url: string, queue: string): Promise<void> {
  const admin = await BrokerAdmin.connect(url);
  try {
    await admin.declareQueue(queue);
    assert.deepEqual(await admin.queueInfo(queue), { messages: 0, consumers: 0 });
  } finally {
    await admin.close();
  }
}

Deno.test({
  name: "a private RabbitMQ node can be stopped, started, killed, restarted and removed",
  ignore: skipped,
  async fn() {
    let t = performance.now();
    // `await using` stops the node and removes its directory even when an assertion fails.
    await using broker = await startPrivateBroker();
    console.log(`start-up: ${since(t)} (${broker.nodeName}, port ${broker.port})`);
    assert.notEqual(broker.port, 5672);
    assert.equal(broker.url, `amqp://guest:guest@127.0.0.1:${broker.port}`);
    const queue = `vcdext.private.${crypto.randomUUID().slice(0, 8)}`;

    // A connection the broker closes fails from then on.
    const admin = await BrokerAdmin.connect(broker.url);
    try {
      await admin.declareQueue(queue);
      assert.deepEqual(await admin.queueInfo(queue), { messages: 0, consumers: 0 });
      t = performance.now();
      await broker.closeAllConnections("private broker test");
      const error = await untilRejects(() => admin.queueInfo(queue), 30_000);
      console.log(`closeAllConnections: ${since(t)}; then: ${(error as Error).message}`);
    } finally {
      await admin.close();
    }
    await answers(broker.url, queue);

    // stop_app: the port goes down, the node stays up; start_app brings the port back.
    const beam = broker.beamPid();
    assert.ok(beam !== undefined && pidAlive(beam));
    t = performance.now();
    await broker.stopApp();
    console.log(`stop_app: ${since(t)}`);
    assert.equal(await portOpen(broker.port), false);
    await assert.rejects(BrokerAdmin.connect(broker.url));
    assert.equal(broker.beamPid(), beam);
    t = performance.now();
    await broker.startApp();
    console.log(`start_app until AMQP answers: ${since(t)}`);
    await answers(broker.url, queue);

    // A crash: kill -9 of this node's beam.smp, then the same node again.
    t = performance.now();
    await broker.killBeam();
    console.log(`killBeam: ${since(t)}`);
    assert.equal(pidAlive(beam), false);
    assert.equal(broker.beamPid(), undefined);
    assert.equal(await portOpen(broker.port), false);
    t = performance.now();
    await broker.restart();
    console.log(`restart after kill -9 until AMQP answers: ${since(t)}`);
    const beam2 = broker.beamPid();
    assert.ok(beam2 !== undefined && beam2 !== beam && pidAlive(beam2));
    await answers(broker.url, queue);
    assert.match(await broker.rabbitmqctl("status"), /RabbitMQ version/i);

    // stop: nothing of the node is left, and stopping twice is fine.
    t = performance.now();
    await broker.stop();
    console.log(`stop: ${since(t)}`);
    await broker.stop();
    assert.equal(await portOpen(broker.port), false);
    assert.equal(pidAlive(beam2), false);
    await assert.rejects(Deno.stat(broker.dir), Deno.errors.NotFound);
    assert.deepEqual(processesMentioning(broker.dir), []);
    await assert.rejects(broker.restart());
  },
});
