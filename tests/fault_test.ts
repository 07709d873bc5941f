/**
 * Fault tests on a private RabbitMQ node that the test may stop, restart and kill (never the
 * shared broker): a killed instance, a broker restart, forced-closed connections, SIGTERM under
 * load, and a quorum queue's delivery limit against a handler that crashes its process.
 * Every loop is bounded; every process is ended by pid in `finally`.
 */

import assert from "node:assert/strict";
import { BrokerAdmin, CellClient } from "../lib/transport/amqp/mod.ts";
import { buildRequest, decodeReply, SAMPLE } from "../lib/sim/cell.ts";
import { eventually, uniqueName } from "./broker.ts";
import {
  type PrivateBroker,
  privateBrokerAvailable,
  startPrivateBroker,
} from "./private_broker.ts";
import { ignoreUnless } from "./skip.ts";
import { Proc } from "./proc.ts";
import { FIXTURE_KEY } from "./fixtures/fixture_extension.ts";
import { answeredAtLeast, load, timeToFirstAnswer } from "./load.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const FIXTURE = new URL("./fixtures/serve_fixture.ts", import.meta.url).pathname;
const MAIN_WITH_FIXTURE = new URL("./fixtures/main_with_fixture.ts", import.meta.url).pathname;
const TICKETS = `/api/org/${SAMPLE.orgId}/ticketing`;

/** The fixture service's command line on this broker, exchange and queue. */
function fixtureArgs(url: string, exchange: string, queue: string): string[] {
  return [FIXTURE, "--url", url, "--exchange", exchange, "--queue", queue];
}

/** `main.ts serve` (with the slow/crashing fixture extension loaded) on this broker and queue. */
function serveFixture(url: string, exchange: string, queue: string, ...flags: string[]): Proc {
  return new Proc([
    MAIN_WITH_FIXTURE,
    "serve",
    "--amqp-url",
    url,
    "--exchange",
    exchange,
    "--queue",
    queue,
    "--extension",
    "fixture",
    ...flags,
  ]);
}

function serveTicketing(url: string, exchange: string, queue: string): Proc {
  return new Proc([
    MAIN,
    "serve",
    "--amqp-url",
    url,
    "--exchange",
    exchange,
    "--queue",
    queue,
    "--extension",
    "gcp-ticketing",
  ]);
}

/** Ready and unacknowledged messages of `queue` on the private node (`rabbitmqctl list_queues`). */
async function queueCounts(
  broker: PrivateBroker,
  queue: string,
): Promise<{ ready: number; unacked: number } | undefined> {
  const out = await broker.rabbitmqctl(
    "list_queues",
    "-q",
    "--no-table-headers",
    "name",
    "messages_ready",
    "messages_unacknowledged",
  );
  for (const line of out.split("\n")) {
    const [name, ready, unacked] = line.trim().split("\t");
    if (name === queue) return { ready: Number(ready), unacked: Number(unacked) };
  }
  return undefined;
}

const skipped = ignoreUnless("fault tests", privateBrokerAvailable());

Deno.test({
  name: "fault tests on a private RabbitMQ node",
  ignore: skipped,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using broker = await startPrivateBroker();
    const url = broker.url;

    await t.step("kill -9 of one of two instances mid-load loses no request", async () => {
      const exchange = uniqueName("fault.kill");
      const queue = `${exchange}.q`;
      const a = serveTicketing(url, exchange, queue);
      const b = serveTicketing(url, exchange, queue);
      const cell = await CellClient.connect(url);
      try {
        await a.waitFor('"msg":"consuming"');
        await b.waitFor('"msg":"consuming"');
        let killedAt = 0;
        const result = await load(cell, exchange, 2_000, 64, (answered) => {
          if (answered === 500 && killedAt === 0) {
            killedAt = answered;
            a.kill("SIGKILL");
          }
        });
        // Every duplicate has arrived once the queue holds nothing, ready or unacked (each reply
        // was confirmed before its request was acked), and one more round trip has come back: it
        // sits behind them in the cell's reply queue.
        await eventually(async () => {
          const counts = await queueCounts(broker, queue);
          return counts?.ready === 0 && counts.unacked === 0;
        }, 60_000);
        decodeReply(
          await cell.send(
            exchange,
            "gcp-ticketing",
            buildRequest({ method: "GET", path: TICKETS }),
            {
              timeoutMs: 30_000,
            },
          ),
        );
        console.log(
          `kill -9 at ${killedAt} replies: sent 2000, answered ${result.answered}, lost ${result.failed}, ` +
            `mismatched ${result.mismatched}, duplicated ${cell.unmatched}`,
        );
        assert.equal(killedAt, 500);
        assert.deepEqual(result, { answered: 2_000, failed: 0, mismatched: 0 });
        // A duplicate is a request the killed instance had answered but not yet acked: the broker
        // hands it to the survivor, which answers it again. Only deliveries unacked at the kill
        // can come back, and the cell never has more than 64 requests out (the load's in-flight
        // count, below either instance's prefetch of 128); so at most 64 duplicates.
        assert.ok(cell.unmatched <= 64, `${cell.unmatched} duplicates, more than the 64 in flight`);
        assert.equal((await a.child.status).signal, "SIGKILL");
      } finally {
        await cell.close();
        await a.end();
        await b.end();
      }
    });

    for (const fault of ["broker restart", "forced connection close"] as const) {
      await t.step(`after a ${fault} the service resumes by itself`, async () => {
        const exchange = uniqueName("fault.restart");
        const svc = serveTicketing(url, exchange, `${exchange}.q`);
        let cell = await CellClient.connect(url);
        try {
          await svc.waitFor('"msg":"consuming"');
          const before = await load(cell, exchange, 200, 16);
          assert.equal(before.answered, 200);
          // Far more than can finish: the fault lands mid-load, and what the cell had pending dies with
          // the cell's own connection (a cell does not survive its broker either).
          const midway = answeredAtLeast(100);
          const loadDuringFault = load(cell, exchange, 100_000, 16, midway.onAnswered, true);
          await midway.reached; // the service is answering: the fault lands mid-load
          if (fault === "broker restart") {
            await broker.stopApp();
            await broker.startApp();
          } else {
            await broker.closeAllConnections("fault test");
          }
          const during = await loadDuringFault;
          await cell.close();
          // Generous on purpose (reconnects back off to at most 2 s): this catches a service that
          // does not come back by itself; the time it took is printed, not bet on.
          const ms = await timeToFirstAnswer(url, exchange, 60_000);
          await svc.waitFor('"msg":"consuming"', 2);
          cell = await CellClient.connect(url);
          const after = await load(cell, exchange, 500, 32);
          console.log(
            `${fault}: first answer ${
              ms.toFixed(0)
            } ms after the broker was back; during the fault ` +
              `${during.answered} answered, ${during.failed} pending died with the cell's own connection; after: ` +
              `${after.answered}/500 answered`,
          );
          assert.deepEqual(after, { answered: 500, failed: 0, mismatched: 0 });
          assert.equal(
            svc.log.split('"msg":"disconnected from the broker; reconnecting"').length - 1,
            1,
          );
        } finally {
          await cell.close();
          await svc.end();
        }
      });
    }

    await t.step("SIGTERM under load answers what is in flight and exits 0", async () => {
      const exchange = uniqueName("fault.term");
      const queue = `${exchange}.q`;
      // Each handler takes 2 s, well within the 5 s drain. The first instance only declares the
      // queue; the 50 requests wait in it until the second one starts, so that "all 50 are in
      // the handler" is seen (none left ready, 1 consumer) rather than bet on.
      const first = serveFixture(url, exchange, queue);
      let svc: Proc | undefined;
      const cell = await CellClient.connect(url);
      const admin = await BrokerAdmin.connect(url);
      try {
        await first.waitFor('"msg":"consuming"');
        first.kill("SIGTERM");
        await first.wait();
        let early = 0;
        const replies = Array.from(
          { length: 50 },
          () =>
            cell.send(
              exchange,
              FIXTURE_KEY,
              buildRequest({ method: "GET", path: "/api/fixture/slow?ms=2000" }),
              { timeoutMs: 60_000 },
            )
              .then(decodeReply).finally(() => early++),
        );
        await eventually(async () => (await admin.queueInfo(queue))?.messages === 50, 30_000);
        svc = serveFixture(url, exchange, queue);
        // The log line first: the broker may deliver before the process has logged that it
        // consumes and installed its signal handlers, and a SIGTERM then would simply kill it.
        await svc.waitFor('"msg":"consuming"');
        await eventually(async () => {
          const info = await admin.queueInfo(queue);
          return info?.messages === 0 && info.consumers === 1;
        }, 30_000);
        assert.equal(early, 0, "a reply came before SIGTERM: the handlers were not in flight");
        svc.kill("SIGTERM");
        const status = await svc.child.status;
        const answered = await Promise.allSettled(replies);
        const ok = answered.filter((r) =>
          r.status === "fulfilled" && r.value.status === 200
        ).length;
        console.log(`SIGTERM with 50 in flight: ${ok} answered 200, exit code ${status.code}`);
        assert.equal(status.code, 0, svc.log.slice(-1500));
        assert.equal(ok, 50);
        assert.equal(
          (await admin.queueInfo(queue))?.messages,
          0,
          "a request was left in the queue",
        );
        assert.match(svc.log, /"drained":true/);
      } finally {
        await cell.close();
        await admin.close();
        await first.end();
        await svc?.end();
      }
    });

    await t.step(
      "a reply the broker cannot confirm (memory alarm) is requeued, not hung, and answered later",
      async () => {
        const exchange = uniqueName("fault.alarm");
        const queue = `${exchange}.q`;
        const args = [...fixtureArgs(url, exchange, queue), "--publish-timeout-ms", "500"];
        // In order, each step waiting for the one before: the first instance declares the queue
        // and stops; the request goes in (a cell cannot publish once the alarm is on); the alarm
        // is raised and seen raised; only then does a second instance take the request, so its
        // reply is published into the alarm whatever the machine's load.
        const first = new Proc(args);
        let svc: Proc | undefined;
        const cell = await CellClient.connect(url);
        const admin = await BrokerAdmin.connect(url);
        try {
          await first.waitFor('"msg":"consuming"');
          first.kill("SIGTERM");
          await first.wait();
          const reply = cell.send(
            exchange,
            "fixture",
            buildRequest({ method: "GET", path: "/api/ok" }),
            { timeoutMs: 120_000 },
          ).then(decodeReply);
          await eventually(async () => (await admin.queueInfo(queue))?.messages === 1, 30_000);
          await broker.rabbitmqctl("set_vm_memory_high_watermark", "0"); // blocks every publisher
          await eventually(
            async () =>
              /resource_limit,\s*memory/.test(
                await broker.rabbitmqctl("eval", "rabbit_alarm:get_alarms()."),
              ),
            60_000,
          );
          svc = new Proc(args);
          await svc.waitFor('"disposition":"requeued"', 1, 60_000);
          await broker.rabbitmqctl("set_vm_memory_high_watermark", "0.4");
          // The requeue itself: the broker hands the request out again and this time the reply
          // is confirmed and the request acked (a request dropped instead never comes back).
          await svc.waitFor('"disposition":"acked"', 1, 60_000);
          const answered = await reply;
          console.log(
            `memory alarm: the unconfirmable reply was requeued after 500 ms, then answered ${answered.status}`,
          );
          assert.equal(answered.status, 200);
        } finally {
          await broker.rabbitmqctl("set_vm_memory_high_watermark", "0.4").catch(() => "");
          await cell.close();
          await admin.close();
          await first.end();
          await svc?.end();
        }
      },
    );

    await t.step(
      "a quorum queue's delivery limit dead-letters a message that crashes the process",
      async () => {
        const exchange = uniqueName("fault.quorum");
        const queue = `${exchange}.q`;
        const dlx = `${exchange}.dlx`;
        const admin = await BrokerAdmin.connect(url);
        await admin.declareExchange(dlx, "fanout");
        await admin.declareQueue(dlx, { exchange: dlx, keys: [""] });
        const quorum = [
          "--queue-type",
          "quorum",
          "--delivery-limit",
          "2",
          "--dead-letter-exchange",
          dlx,
        ];
        const cell = await CellClient.connect(url);
        let crashes = 0;
        try {
          // The first instance declares the queue; then the poison message goes in.
          let svc = serveFixture(url, exchange, queue, ...quorum);
          await svc.waitFor('"msg":"consuming"');
          const poison = buildRequest({ method: "GET", path: "/api/fixture/crash" });
          cell.publishRaw(exchange, FIXTURE_KEY, poison.body, {
            correlationId: "poison",
            replyTo: cell.replyQueue,
            headers: { replyToExchange: cell.replyExchange },
          });
          let alive = true;
          for (let round = 0; round < 6; round++) {
            // Either the poison message brings this instance down, or the broker has
            // dead-lettered it: whichever is seen first, however long the redelivery takes.
            let exited = false;
            svc.child.status.then(() => (exited = true));
            await eventually(
              async () => exited || (await admin.queueInfo(dlx))?.messages === 1,
              60_000,
            );
            if (!exited) break; // it survived: the message is dead-lettered
            assert.equal((await svc.child.status).code, 3, svc.log.slice(-1500));
            crashes++;
            await svc.end();
            alive = false;
            if ((await admin.queueInfo(dlx))?.messages === 1) break;
            svc = serveFixture(url, exchange, queue, ...quorum);
            alive = true;
          }
          await eventually(async () => (await admin.queueInfo(dlx))?.messages === 1, 10_000);
          const [dead] = await admin.take(dlx);
          assert.equal(dead?.properties.correlationId, "poison");
          // The service keeps serving.
          if (!alive) {
            svc = serveFixture(url, exchange, queue, ...quorum);
            await svc.waitFor('"msg":"consuming"');
          }
          const ok = decodeReply(
            await cell.send(
              exchange,
              FIXTURE_KEY,
              buildRequest({ method: "GET", path: "/api/fixture/ok" }),
              { timeoutMs: 10_000 },
            ),
          );
          console.log(
            `quorum delivery-limit 2: the poison message crashed the process ${crashes} times, then was dead-lettered`,
          );
          assert.equal(ok.status, 200);
          assert.ok(crashes >= 2 && crashes <= 4, `crashed ${crashes} times`);
          await svc.end();
        } finally {
          await cell.close();
          await admin.close();
        }
      },
    );
  },
});
