/**
 * No stale request is ever run (issue 14, item 4), tried as an operator would: `main.ts serve`
 * runs once so its queue exists and is stopped; a cell publishes 20 ticket-creating POSTs (no
 * expiration, no timestamp, as vCD may send them), whose callers get vCD's 504 after its
 * timeout; after the timeout and a margin, serve starts again. No handler may run for them:
 * counted as tickets in the store (a GET of the list), as access lines of POSTs and as replies
 * the cell did not wait for any more. A fresh request right after is answered.
 *
 * Each case runs in a virtual host of its own on the shared broker (made and removed with
 * `rabbitmqctl`, so this needs the broker on this machine and root), where serve's real queue
 * and exchange names are used. The first case uses the defaults (vCD's timeout 10 s, serve back
 * 12 s after the publish); the variants (a dead-letter exchange, a quorum queue, a queue made
 * before the TTL, and the policy from serve's warning) use a 4 s timeout and 5 s to save time.
 * Last, without a broker: which queues serve gives the TTL.
 */

import assert from "node:assert/strict";
import amqp from "amqplib";
import { BrokerAdmin, CellClient } from "../lib/transport/amqp/mod.ts";
import { buildRequest, decodeReply, SAMPLE } from "../lib/sim/cell.ts";
import { AMQP_URL, eventually, uniqueName } from "./broker.ts";
import { logLines, MAIN } from "./entrypoint.ts";
import { Proc } from "./proc.ts";
import { ignoreUnless } from "./skip.ts";
import { extensions } from "../handlers/mod.ts";
import { consumersFor } from "../lib/app/serve.ts";
import type { ServeOptions } from "../lib/app/config.ts";
import { silentLogger } from "../lib/observability/log.ts";
import { vcdextMetrics } from "../lib/observability/metrics.ts";

const TICKETS = `/api/org/${SAMPLE.orgId}/ticketing`;
const EXCHANGE = "vcdext";
const QUEUE = "gcp-ticketing";
const STALE = 20;

/** Runs `rabbitmqctl …args`; resolves with its standard output, rejects when it fails. */
async function rabbitmqctl(...args: string[]): Promise<string> {
  const out = await new Deno.Command("rabbitmqctl", { args, stdin: "null" }).output();
  if (!out.success) {
    throw new Error(
      `rabbitmqctl ${args.join(" ")} exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** Whether this test can make a vhost on the broker the tests use, and if not, why. */
function vhostAvailable(): { ok: true } | { ok: false; reason: string } {
  const host = new URL(AMQP_URL).hostname;
  if (host !== "127.0.0.1" && host !== "localhost") {
    return { ok: false, reason: `the test broker ${host} is not on this machine (rabbitmqctl)` };
  }
  try {
    new Deno.Command("rabbitmqctl", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
  } catch {
    return { ok: false, reason: "rabbitmqctl is not on PATH (apt-get install rabbitmq-server)" };
  }
  if (Deno.uid() !== 0) return { ok: false, reason: "rabbitmqctl add_vhost needs root" };
  return { ok: true };
}

const IGNORE = ignoreUnless("stale request tests", vhostAvailable());

/** Runs `fn` with the URL of a fresh vhost, which is deleted afterwards. */
async function withVhost(fn: (url: string, vhost: string) => Promise<void>): Promise<void> {
  const vhost = uniqueName("vcdext-stale");
  await rabbitmqctl("add_vhost", vhost);
  try {
    await rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
    await fn(`${AMQP_URL.replace(/\/+$/, "")}/${encodeURIComponent(vhost)}`, vhost);
  } finally {
    await rabbitmqctl("delete_vhost", vhost);
  }
}

/** A `main.ts serve` subprocess for gcp-ticketing on `url`, consuming once returned. */
async function serve(url: string, flags: readonly string[] = []): Promise<Proc> {
  const proc = new Proc([
    MAIN,
    "serve",
    "--amqp-url",
    url,
    "--exchange",
    EXCHANGE,
    "--extension",
    "gcp-ticketing",
    "--http-port",
    "0",
    ...flags,
  ]);
  try {
    await proc.waitFor('"msg":"consuming"');
  } catch (e) {
    await proc.end();
    throw e;
  }
  return proc;
}

/** Stops a serve as an operator does (SIGTERM) and waits for it to exit. */
async function stop(proc: Proc): Promise<void> {
  proc.kill("SIGTERM");
  const status = await proc.wait();
  assert.equal(status.code, 0, proc.log.slice(-2000));
}

/** Ready plus unacked messages of a queue in `vhost`. */
async function messagesIn(vhost: string, queue: string): Promise<number> {
  const out = await rabbitmqctl(
    "list_queues",
    "-p",
    vhost,
    "-q",
    "--no-table-headers",
    "name",
    "messages",
  );
  for (const line of out.split("\n")) {
    const [name, n] = line.trim().split(/\s+/);
    if (name === queue) return Number(n);
  }
  throw new Error(`no queue ${queue} in ${vhost}:\n${out}`);
}

/** What the stale scenario counted. */
interface Counted {
  /** The stale POSTs whose callers got no reply within vCD's timeout (vCD's 504). */
  timedOut: number;
  /** Tickets in the store once the fresh POST was answered: stale POSTs run, plus the fresh one. */
  tickets: number;
  /** Access lines of POSTs answered 201 by the restarted serve. */
  created: number;
  /** Replies that reached the cell after their caller had given up. */
  lateReplies: number;
  /** The restarted serve's log. */
  log: Proc;
}

/** A ticket-creating POST as vCD publishes it: no expiration, no timestamp. */
function post(message: string) {
  return buildRequest({
    method: "POST",
    path: TICKETS,
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ message }),
  });
}

/**
 * Publishes `STALE` POSTs; resolves, once their callers gave up after `timeoutMs` (vCD's
 * timeout), with how many got no reply in time.
 */
async function publishStale(cell: CellClient, timeoutMs: number): Promise<number> {
  const stale = Array.from(
    { length: STALE },
    (_, i) => cell.send(EXCHANGE, QUEUE, post(`stale ${i}`), { timeoutMs }).then(() => 0, () => 1),
  );
  return (await Promise.all(stale)).reduce((a: number, b: number) => a + b, 0);
}

/**
 * With `proc` serving: a fresh POST must be answered 201; once every delivery is settled, how
 * many stale POSTs ran (tickets in the store, access lines, replies nobody waited for).
 */
async function countAfter(
  cell: CellClient,
  proc: Proc,
  vhost: string,
  timedOut: number,
): Promise<Counted> {
  const fresh = decodeReply(await cell.send(EXCHANGE, QUEUE, post("fresh")));
  assert.equal(fresh.status, 201, "a fresh request right after the restart is answered");
  // Every delivery settled: whatever stale POST was delivered has run by now.
  await eventually(async () => (await messagesIn(vhost, QUEUE)) === 0);
  const list = decodeReply(
    await cell.send(
      EXCHANGE,
      QUEUE,
      buildRequest({ method: "GET", path: TICKETS, headers: { Accept: "application/json" } }),
    ),
  );
  assert.equal(list.status, 200);
  const tickets = (JSON.parse(new TextDecoder().decode(list.body)) as { total: number }).total;
  const created =
    logLines(proc).filter((l) => l.msg === "request" && l.method === "POST" && l.status === 201)
      .length;
  return { timedOut, tickets, created, lateReplies: cell.unmatched, log: proc };
}

/**
 * The operator's scenario on `url`: `STALE` POSTs published while no serve runs, their callers
 * given up after `timeoutMs`, serve started `waitMs` after publishing with `flags`, then a fresh
 * POST and a GET of the tickets.
 */
async function staleScenario(
  url: string,
  vhost: string,
  options: { flags?: string[]; timeoutMs?: number; waitMs?: number },
): Promise<Counted> {
  const cell = await CellClient.connect(url);
  try {
    const published = Date.now();
    const timedOut = await publishStale(cell, options.timeoutMs ?? 10_000);
    const wait = published + (options.waitMs ?? 12_000) - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const proc = await serve(url, options.flags ?? []);
    try {
      return await countAfter(cell, proc, vhost, timedOut);
    } finally {
      await stop(proc);
    }
  } finally {
    await cell.close();
  }
}

/** Prints the counts, for the report. */
function report(what: string, counted: Counted): void {
  console.log(
    `${what}: ${counted.timedOut} of ${STALE} stale POSTs timed out for their callers; after ` +
      `the restart ${counted.tickets - 1} created tickets, ${counted.created - 1} POST access ` +
      `lines, ${counted.lateReplies} late replies`,
  );
}

/** No stale POST ran: no ticket, no access line, no reply but the fresh request's. */
function noneRan(counted: Counted): void {
  assert.equal(counted.timedOut, STALE, "every stale caller got vCD's 504");
  assert.equal(counted.tickets, 1, "only the fresh POST created a ticket");
  assert.equal(counted.created, 1, "only the fresh POST was answered 201");
  assert.equal(counted.lateReplies, 0, "no reply to a caller who gave up");
}

/** The queue's `x-…` arguments, as `rabbitmqctl list_queues` shows them. */
async function argumentsOf(vhost: string, queue: string): Promise<Record<string, unknown>> {
  const out = await rabbitmqctl(
    "list_queues",
    "-p",
    vhost,
    "name",
    "arguments",
    "--formatter",
    "json",
    "-q",
  );
  // Each argument is [name, type, value].
  const rows = JSON.parse(out) as { name: string; arguments: [string, string, unknown][] }[];
  const row = rows.find((r) => r.name === queue);
  if (!row) throw new Error(`no queue ${queue} in ${vhost}: ${out}`);
  return Object.fromEntries(row.arguments.map(([name, , value]) => [name, value]));
}

/** Short timeouts for the variants: vCD's timeout 4 s (handler 3 s), serve back after 5 s. */
const SHORT = { flags: ["--vcd-timeout-ms", "4000", "--handler-timeout-ms", "3000"] };
const SHORT_WAIT = { timeoutMs: 4_000, waitMs: 5_000 };

Deno.test({
  name: "requests published while no instance runs are not run after vCD's timeout (default 10 s)",
  ignore: IGNORE,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withVhost(async (url, vhost) => {
      await stop(await serve(url));
      assert.equal((await argumentsOf(vhost, QUEUE))["x-message-ttl"], 10_000);
      const counted = await staleScenario(url, vhost, {});
      report("classic queue, defaults", counted);
      noneRan(counted);
    });
  },
});

Deno.test({
  name: "with --dead-letter-exchange the stale requests are dead-lettered as expired",
  ignore: IGNORE,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withVhost(async (url, vhost) => {
      const admin = await BrokerAdmin.connect(url);
      try {
        await admin.declareExchange("vcdext.dlx", "fanout", true);
        await admin.declareQueue("vcdext.dead", { exchange: "vcdext.dlx", keys: [""] });
        const flags = [...SHORT.flags, "--dead-letter-exchange", "vcdext.dlx"];
        await stop(await serve(url, flags));
        const counted = await staleScenario(url, vhost, { flags, ...SHORT_WAIT });
        const dead = await admin.take("vcdext.dead", 100);
        report(`classic queue with a DLX (${dead.length} dead-lettered)`, counted);
        noneRan(counted);
        assert.equal(dead.length, STALE, "every stale request is in the dead-letter queue");
        for (const m of dead) {
          const deaths = m.properties.headers?.["x-death"] as { reason: string }[];
          assert.equal(deaths[0]?.reason, "expired");
        }
      } finally {
        await admin.close();
      }
    });
  },
});

Deno.test({
  name: "on a quorum queue the stale requests expire too",
  ignore: IGNORE,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withVhost(async (url, vhost) => {
      const flags = [...SHORT.flags, "--queue-type", "quorum"];
      await stop(await serve(url, flags));
      const args = await argumentsOf(vhost, QUEUE);
      assert.equal(args["x-queue-type"], "quorum");
      assert.equal(args["x-message-ttl"], 4_000);
      const counted = await staleScenario(url, vhost, { flags, ...SHORT_WAIT });
      report("quorum queue", counted);
      noneRan(counted);
    });
  },
});

Deno.test({
  name:
    "a request queue made without the TTL is used as it is, with one warning whose policy makes stale requests expire",
  ignore: IGNORE,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withVhost(async (url, vhost) => {
      // The queue as an older vcdext declared it: durable, classic, no arguments.
      const model = await amqp.connect(url);
      try {
        const ch = await model.createChannel();
        await ch.assertQueue(QUEUE, { durable: true });
      } finally {
        await model.close();
      }
      const first = await serve(url, SHORT.flags);
      const warned = logLines(first).filter((l) =>
        l.msg === "request queue without vCD's timeout as its message TTL; using it as it is"
      );
      await stop(first);
      assert.equal(warned.length, 1, first.log.slice(-3000));
      const command = String(warned[0]!.command);
      assert.equal(
        command,
        `rabbitmqctl set_policy -p ${vhost} --apply-to queues vcdext-request-ttl ` +
          `'^gcp-ticketing$' '{"message-ttl":4000}'`,
      );
      assert.equal(warned[0]!.level, "warn");
      assert.deepEqual(warned[0]!.queues, [QUEUE]);
      assert.deepEqual(await argumentsOf(vhost, QUEUE), {}, "the queue is left as it was");

      // check reports it on a row of its own, and passes.
      const check = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "check", "--amqp-url", url, "--extension", "gcp-ticketing"]
          .concat(["--vcd-timeout-ms", "4000"]),
        env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
        stdin: "null",
      }).output();
      const table = new TextDecoder().decode(check.stdout);
      assert.equal(check.code, 0, table + new TextDecoder().decode(check.stderr));
      assert.match(
        table,
        /queue gcp-ticketing message TTL +pass +declared with no message TTL, not vCD's timeout \(4000 ms\).*rabbitmqctl set_policy/,
      );
      assert.ok(table.includes(command), table);

      // Without the policy, stale requests still run: the queue is as it was.
      const before = await staleScenario(url, vhost, { flags: SHORT.flags, ...SHORT_WAIT });
      report("existing classic queue without TTL, no policy", before);
      assert.equal(before.tickets, STALE + 1, "without the TTL every stale POST runs");

      // The command from the warning, as an operator pastes it.
      const applied = await new Deno.Command("sh", { args: ["-c", command], stdout: "null" })
        .output();
      assert.ok(applied.success, new TextDecoder().decode(applied.stderr));
      const after = await staleScenario(url, vhost, { flags: SHORT.flags, ...SHORT_WAIT });
      report("existing classic queue without TTL, policy applied", after);
      noneRan(after);
    });
  },
});

/** Ready and unacked messages of a queue in `vhost`. */
async function readyAndUnacked(vhost: string, queue: string): Promise<[number, number]> {
  const out = await rabbitmqctl(
    "list_queues",
    "-p",
    vhost,
    "-q",
    "--no-table-headers",
    "name",
    "messages_ready",
    "messages_unacknowledged",
  );
  for (const line of out.split("\n")) {
    const [name, ready, unacked] = line.trim().split(/\s+/);
    if (name === queue) return [Number(ready), Number(unacked)];
  }
  throw new Error(`no queue ${queue} in ${vhost}:\n${out}`);
}

Deno.test({
  name:
    "requests held by a paused instance past vCD's timeout are not run by another once requeued",
  ignore: IGNORE,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withVhost(async (url, vhost) => {
      // A long GC pause, or a VM paused: the broker has delivered the requests to the instance,
      // which holds them unacked; it dies after vCD's timeout and the broker requeues them.
      const paused = await serve(url, SHORT.flags);
      let other: Proc | undefined;
      const cell = await CellClient.connect(url);
      try {
        paused.kill("SIGSTOP");
        const published = Date.now();
        const callers = publishStale(cell, SHORT_WAIT.timeoutMs);
        await eventually(async () => {
          const [ready, unacked] = await readyAndUnacked(vhost, QUEUE);
          return ready === 0 && unacked === STALE;
        });
        other = await serve(url, SHORT.flags);
        const timedOut = await callers;
        const wait = published + SHORT_WAIT.waitMs - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        await paused.end(); // SIGKILL: its connection drops, the broker requeues what it held
        const counted = await countAfter(cell, other, vhost, timedOut);
        report("requeued from a paused instance after the timeout", counted);
        noneRan(counted);
      } finally {
        await paused.end();
        if (other) await stop(other);
        await cell.close();
      }
    });
  },
});

Deno.test("serve's request queues get vCD's timeout as message TTL, the notifications queue none", () => {
  const options: ServeOptions = {
    amqpUrl: [AMQP_URL],
    exchange: EXCHANGE,
    prefetch: 128,
    drainMs: 0,
    maxEnvelopeBytes: 1_048_576,
    maxBodyBytes: 524_288,
    handlerTimeoutMs: 6_000,
    vcdTimeoutMs: 7_000,
    maxInFlight: 100,
    queueType: "quorum",
    deadLetterExchange: "vcdext.dlx",
    notificationsExchange: "vcd.notifications20",
    notificationsQueue: "vcdext.notifications",
    vcdApiVersion: "36.0",
  };
  const consumers = consumersFor(options, extensions, silentLogger, undefined, vcdextMetrics());
  const args = Object.fromEntries(consumers.map((c) => [c.label, c.queueArguments]));
  assert.deepEqual(args, {
    "gcp-ticketing": {
      "x-dead-letter-exchange": "vcdext.dlx",
      "x-queue-type": "quorum",
      "x-message-ttl": 7_000,
    },
    // Notifications stay worth processing after vCD's request timeout (lib/app/config.ts).
    notifications: { "x-dead-letter-exchange": "vcdext.dlx", "x-queue-type": "quorum" },
  });
});
