/**
 * The fixtures of the cluster tests, proved: a private 3-node RabbitMQ cluster
 * (tests/private_cluster.ts) forms, replicates a quorum queue on every node, survives kill -9
 * of the queue's leader with its messages, and takes the node back; a LinkProxy
 * (tests/link_proxy.ts) forwards an AMQP connection, freezes it silently and cuts it.
 * One cluster serves every step; times are printed.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import { AMQP_URL, eventually, uniqueName } from "./broker.ts";
import { LinkProxy } from "./link_proxy.ts";
import {
  type PrivateCluster,
  privateClusterAvailable,
  startPrivateCluster,
} from "./private_cluster.ts";
import { ignoreUnless } from "./skip.ts";

const skipped = ignoreUnless("private RabbitMQ cluster tests", privateClusterAvailable());

/** How long a new leader may take after the old one's node is killed. */
const ELECTION_MS = 30_000;
const QUORUM = { "x-queue-type": "quorum", "x-quorum-initial-group-size": 3 } as const;

const since = (t: number) => Math.round(performance.now() - t);

/** Resolves with `promise`'s value, or with `"timeout"` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The queue's leader as its record on node `i` names it (`list_queues … leader`): a source
 * apart from the members' own Raft states, which the fixture's quorumLeader reads. */
async function recordedLeader(
  cluster: PrivateCluster,
  i: number,
  vhost: string,
  queue: string,
): Promise<string | undefined> {
  const out = await cluster.ctl(
    i,
    "list_queues",
    "-p",
    vhost,
    "name",
    "leader",
    "--formatter",
    "json",
  );
  const rows = JSON.parse(out) as { name: string; leader: string }[];
  return rows.find((r) => r.name === queue)?.leader;
}

/** Publishes `bodies` to `queue` (default exchange) with publisher confirms. */
async function publish(url: string, queue: string, bodies: readonly string[]): Promise<void> {
  const admin = await BrokerAdmin.connect(url);
  try {
    const ch = await admin.model.createConfirmChannel();
    for (const body of bodies) ch.sendToQueue(queue, Buffer.from(body), { persistent: true });
    assert.notEqual(await within(ch.waitForConfirms(), 10_000), "timeout", "no confirms in 10 s");
    await ch.close();
  } finally {
    await admin.close();
  }
}

Deno.test({
  name: "private cluster: 3 nodes, a quorum queue survives kill -9 of its leader, the node rejoins",
  ignore: skipped,
  async fn(t) {
    let t0 = performance.now();
    await using cluster = await startPrivateCluster();
    console.log(`cluster start: ${cluster.startMs} ms (${since(t0)} ms with the call)`);
    const names = cluster.nodes.map((n) => n.name);
    const vhost = "failover";
    const queue = "replicated";
    const url = (i: number) => `${cluster.urls[i]}/${vhost}`;

    await t.step("the cluster forms with 3 running nodes", async () => {
      assert.equal(cluster.nodes.length, 3);
      assert.equal(new Set(names).size, 3);
      assert.equal(new Set(cluster.urls).size, 3);
      for (const [i, node] of cluster.nodes.entries()) {
        assert.equal(node.index, i);
        assert.notEqual(node.port, 5672);
        assert.equal(cluster.urls[i], `amqp://guest:guest@127.0.0.1:${node.port}`);
        assert.ok(node.running());
        assert.equal(cluster.nodeIndexOf(node.name), i);
      }
      assert.deepEqual(await cluster.runningNodes(), [...names].sort());
      assert.throws(() => cluster.nodeIndexOf("nobody@localhost"));
    });

    await t.step("a quorum queue in a fresh vhost has 3 members", async () => {
      await cluster.addVhost(vhost);
      const admin = await BrokerAdmin.connect(url(0));
      try {
        await admin.declareTopology({ queue, bindings: [], queueArguments: QUORUM });
      } finally {
        await admin.close();
      }
      assert.deepEqual(await cluster.quorumMembers(vhost, queue), [...names].sort());
      await eventually(async () => (await cluster.quorumOnline(vhost, queue)).length === 3);
      const leader = await cluster.quorumLeader(vhost, queue);
      assert.ok(names.includes(leader!));
      assert.equal(leader, await recordedLeader(cluster, 2, vhost, queue));
      const states = (await cluster.quorumStatus(vhost, queue))!.map((m) => [m.node, m.state]);
      assert.deepEqual(
        states.sort(),
        names.map((n) => [n, n === leader ? "leader" : "follower"]).sort(),
      );
      assert.equal(await cluster.quorumStatus(vhost, "missing"), undefined);
      assert.deepEqual(await cluster.quorumMembers(vhost, "missing"), []);
    });

    const bodies = Array.from({ length: 10 }, (_, i) => `message ${i}`);
    let killed = -1;

    await t.step(
      "kill -9 of the leader: another node leads, the 10 messages are kept",
      async () => {
        await publish(url(1), queue, bodies);
        const leader = (await cluster.quorumLeader(vhost, queue))!;
        killed = cluster.nodeIndexOf(leader);
        const node = cluster.nodes[killed]!;
        const beam = node.beamPid();
        t0 = performance.now();
        await node.killBeam();
        assert.equal(node.running(), false);
        assert.equal(node.beamPid(), undefined);
        assert.throws(() => Deno.kill(beam!, "SIGCONT"), "the killed beam.smp is gone");
        let next: string | undefined;
        await eventually(async () => {
          next = await cluster.quorumLeader(vhost, queue);
          return next !== undefined && next !== leader;
        }, ELECTION_MS);
        const election = since(t0);
        console.log(`new leader ${next} ${election} ms after kill -9 of ${leader}`);
        assert.notEqual(next, leader);
        assert.ok(names.includes(next!));
        const survivorIndex = cluster.nodes.findIndex((n) => n.running());
        await eventually(async () =>
          (await recordedLeader(cluster, survivorIndex, vhost, queue)) === next
        );
        assert.deepEqual(
          await cluster.quorumOnline(vhost, queue),
          names.filter((n) => n !== leader).sort(),
        );
        assert.deepEqual(await cluster.runningNodes(), names.filter((n) => n !== leader).sort());

        const survivor = cluster.nodes.find((n) => n.running() && n.name !== next)!;
        const admin = await BrokerAdmin.connect(url(survivor.index));
        try {
          assert.deepEqual(await admin.queueInfo(queue), { messages: 10, consumers: 0 });
          const taken = await admin.take(queue, 100);
          assert.deepEqual(taken.map((m) => m.content.toString()), bodies);
        } finally {
          await admin.close();
        }
      },
    );

    await t.step(
      "restart: the killed node rejoins, the queue has 3 members online again",
      async () => {
        assert.ok(killed >= 0, "the previous step killed a node");
        const node = cluster.nodes[killed]!;
        t0 = performance.now();
        await node.restart();
        const rejoin = since(t0);
        assert.ok(node.running());
        assert.deepEqual(await cluster.runningNodes(), [...names].sort());
        await eventually(async () => (await cluster.quorumOnline(vhost, queue)).length === 3);
        console.log(
          `${node.name} restarted and running in the cluster after ${rejoin} ms, ` +
            `its queue member online after ${since(t0)} ms`,
        );
        assert.deepEqual(await cluster.quorumMembers(vhost, queue), [...names].sort());
        // Leadership stays where the election put it; the restarted member follows.
        assert.equal(
          await cluster.quorumLeader(vhost, queue),
          await recordedLeader(cluster, killed, vhost, queue),
        );
        await publish(url(killed), queue, ["after"]);
        const admin = await BrokerAdmin.connect(url(killed));
        try {
          assert.deepEqual(await admin.queueInfo(queue), { messages: 1, consumers: 0 });
        } finally {
          await admin.close();
        }
      },
    );

    t0 = performance.now();
    await cluster.stop();
    console.log(`cluster stop: ${since(t0)} ms`);
    await assert.rejects(Deno.stat(cluster.dir), Deno.errors.NotFound);
    for (const node of cluster.nodes) assert.equal(node.running(), false);
  },
});

Deno.test("LinkProxy to the shared broker: AMQP works, a frozen link is silent, a cut closes", async () => {
  const proxy = LinkProxy.to(AMQP_URL);
  const queue = uniqueName("vcdext.test.proxy");
  const direct = await BrokerAdmin.connect(AMQP_URL);
  const admin = await BrokerAdmin.connect(proxy.url);
  let late: Promise<BrokerAdmin> | undefined;
  try {
    let closed = false;
    admin.model.on("close", () => (closed = true));
    await admin.declareQueue(queue);
    assert.deepEqual(await admin.queueInfo(queue), { messages: 0, consumers: 0 });
    assert.equal(proxy.accepted, 1);
    assert.equal(proxy.open, 1);

    proxy.frozen = true;
    const frozenAt = performance.now();
    const asked = admin.queueInfo(queue);
    asked.catch(() => {});
    assert.equal(await within(asked, 2_000), "timeout", "an answer crossed a frozen link");
    late = BrokerAdmin.connect(proxy.url); // accepted, but nothing forwarded
    late.catch(() => {});
    assert.equal(await within(late, 2_000), "timeout", "a handshake crossed a frozen link");
    assert.equal(proxy.accepted, 2);
    assert.equal(proxy.open, 2);
    assert.equal(closed, false, "the frozen connection was closed");
    // The broker is fine: the silence is the link's.
    assert.deepEqual(await direct.queueInfo(queue), { messages: 0, consumers: 0 });
    console.log(`frozen for ${since(frozenAt)} ms: no answer, connection open`);

    proxy.cut();
    await eventually(() => closed, 5_000);
    await assert.rejects(asked);
    await assert.rejects(late);
    assert.equal(proxy.open, 0);

    proxy.frozen = false;
    const again = await BrokerAdmin.connect(proxy.url);
    try {
      assert.deepEqual(await again.queueInfo(queue), { messages: 0, consumers: 0 });
      assert.equal(proxy.accepted, 3);
    } finally {
      await again.close();
    }
  } finally {
    // amqplib's close can wait for ever on a link that failed under it: bounded.
    proxy.cut();
    await within(late?.then((a) => a.close(), () => {}) ?? Promise.resolve(), 5_000);
    await within(admin.close(), 5_000);
    await direct.delete({ queues: [queue] });
    await direct.close();
    await within(proxy.close(), 5_000);
  }
});

/** A TCP server that records what reaches it, for the proxy's byte-level behaviour. */
function recorder() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen = { accepted: 0, bytes: 0, closes: 0 };
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      seen.accepted++;
      conns.push(conn);
      (async () => {
        const buf = new Uint8Array(1024);
        for (;;) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) break;
          seen.bytes += n;
          await conn.write(buf.subarray(0, n)); // echo
        }
        seen.closes++;
      })().catch(() => {});
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    seen,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving;
    },
  };
}

async function readSome(conn: Deno.Conn, ms: number): Promise<string | null | "timeout"> {
  const buf = new Uint8Array(1024);
  const n = await within(conn.read(buf).catch(() => null), ms);
  return n === "timeout" || n === null ? n : new TextDecoder().decode(buf.subarray(0, n));
}

Deno.test("LinkProxy: a frozen link forwards nothing, not even a close; new links work after", async () => {
  const server = recorder();
  const proxy = new LinkProxy("127.0.0.1", server.port);
  const clients: Deno.Conn[] = [];
  const dial = async () => {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    clients.push(c);
    return c;
  };
  const text = (s: string) => new TextEncoder().encode(s);
  try {
    const a = await dial();
    await a.write(text("ping"));
    assert.equal(await readSome(a, 2_000), "ping");
    const d = await dial();
    await d.write(text("pang"));
    assert.equal(await readSome(d, 2_000), "pang");

    proxy.frozen = true;
    await a.write(text("lost"));
    assert.equal(await readSome(a, 500), "timeout", "a frozen link answered");
    const b = await dial(); // accepted while frozen: the target never hears of it
    await b.write(text("lost too"));
    assert.equal(await readSome(b, 500), "timeout");
    assert.equal(server.seen.accepted, 2);
    assert.equal(server.seen.bytes, 8);
    assert.equal(proxy.accepted, 3);

    a.close(); // the client gives up: the server must not hear of it
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.seen.closes, 0, "a close crossed the frozen link");
    assert.equal(proxy.open, 3, "the server's side of a stays open");

    proxy.frozen = false;
    await d.write(text("still lost"));
    assert.equal(await readSome(d, 300), "timeout", "a link frozen once stays silent");
    await b.write(text("lost again"));
    assert.equal(await readSome(b, 300), "timeout", "a link frozen once stays silent");
    assert.equal(server.seen.bytes, 8);
    const c = await dial();
    await c.write(text("pong"));
    assert.equal(await readSome(c, 2_000), "pong");
    assert.equal(server.seen.accepted, 3);

    proxy.cut();
    await eventually(() => server.seen.closes === 3, 5_000);
    assert.equal(await readSome(d, 2_000), null, "cut closes a frozen connection");
    assert.equal(await readSome(b, 2_000), null, "cut closes a blackholed connection");
    assert.equal(await readSome(c, 2_000), null);
    assert.equal(proxy.open, 0);
  } finally {
    for (const c of clients) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    assert.notEqual(await within(proxy.close(), 5_000), "timeout", "the proxy does not close");
    await server.close();
  }
});
