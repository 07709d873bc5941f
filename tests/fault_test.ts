/**
 * Fault tests on a private RabbitMQ node that the test may stop, restart and kill (never the
 * shared broker): a killed instance, a broker restart, forced-closed connections, SIGTERM under
 * load, and a quorum queue's delivery limit against a handler that crashes its process.
 * Every loop is bounded; every process is ended by pid in `finally`.
 */

import assert from "node:assert/strict";
import { BrokerAdmin, CellClient } from "../lib/amqp.ts";
import { buildRequest, type CellRequest, decodeReply, SAMPLE } from "../lib/cell.ts";
import { eventually, uniqueName } from "./broker.ts";
import { privateBrokerAvailable, startPrivateBroker } from "./private_broker.ts";
import { Proc } from "./proc.ts";
import { FIXTURE_KEY } from "./fixtures/fixture_extension.ts";

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

interface LoadResult {
  answered: number;
  failed: number;
  mismatched: number;
}

/** Sends `total` POSTs with `inFlight` at a time; each reply must carry its own message back. */
async function load(
  cell: CellClient,
  exchange: string,
  total: number,
  inFlight: number,
  onAnswered?: (answered: number) => void,
  stopOnFailure = false,
): Promise<LoadResult> {
  const result = { answered: 0, failed: 0, mismatched: 0 };
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const n = next++;
      const request: CellRequest = {
        method: "POST",
        path: TICKETS,
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify({ message: `m${n}` }),
      };
      const env = buildRequest(request);
      try {
        const reply = decodeReply(
          await cell.send(exchange, "gcp-ticketing", env, { timeoutMs: 30_000 }),
        );
        if (
          reply.id !== env.id || reply.status !== 201 || JSON.parse(reply.text).message !== `m${n}`
        ) {
          result.mismatched++;
        }
        result.answered++;
        onAnswered?.(result.answered);
      } catch {
        result.failed++;
        if (stopOnFailure) next = total; // the cell's own connection is gone: stop sending
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return result;
}

/** Time until a fresh cell gets a 200 from the service, polling with short timeouts. */
async function timeToFirstAnswer(url: string, exchange: string, limitMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    let cell: CellClient | undefined;
    try {
      cell = await CellClient.connect(url);
      const reply = decodeReply(
        await cell.send(exchange, "gcp-ticketing", buildRequest({ method: "GET", path: TICKETS }), {
          timeoutMs: 500,
        }),
      );
      if (reply.status === 200) return performance.now() - started;
    } catch {
      /* not yet */
    } finally {
      await cell?.close();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the service did not answer within ${limitMs} ms of the broker's return`);
}

const available = privateBrokerAvailable();
if (!available.ok) console.log(`fault tests skipped: ${available.reason}`);

Deno.test({
  name: "fault tests on a private RabbitMQ node",
  ignore: !available.ok,
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
        await new Promise((r) => setTimeout(r, 500)); // let a late duplicate arrive
        console.log(
          `kill -9 at ${killedAt} replies: sent 2000, answered ${result.answered}, lost ${result.failed}, ` +
            `mismatched ${result.mismatched}, duplicated ${cell.unmatched}`,
        );
        assert.equal(killedAt, 500);
        assert.deepEqual(result, { answered: 2_000, failed: 0, mismatched: 0 });
        assert.equal((await a.child.status).signal, "SIGKILL");
      } finally {
        await cell.close();
        await a.end();
        await b.end();
      }
    });

    for (const fault of ["broker restart", "forced connection close"] as const) {
      await t.step(`after a ${fault} the service resumes by itself within 5 s`, async () => {
        const exchange = uniqueName("fault.restart");
        const svc = serveTicketing(url, exchange, `${exchange}.q`);
        let cell = await CellClient.connect(url);
        try {
          await svc.waitFor('"msg":"consuming"');
          const before = await load(cell, exchange, 200, 16);
          assert.equal(before.answered, 200);
          // Far more than can finish: the fault lands mid-load, and what the cell had pending dies with
          // the cell's own connection (a cell does not survive its broker either).
          const loadDuringFault = load(cell, exchange, 100_000, 16, undefined, true);
          await new Promise((r) => setTimeout(r, 300));
          if (fault === "broker restart") {
            await broker.stopApp();
            await broker.startApp();
          } else {
            await broker.closeAllConnections("fault test");
          }
          const during = await loadDuringFault;
          await cell.close();
          const ms = await timeToFirstAnswer(url, exchange, 10_000);
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
          assert.ok(ms < 5_000, `resumed after ${ms.toFixed(0)} ms`);
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
      const svc = serveFixture(url, exchange, queue);
      const cell = await CellClient.connect(url);
      const admin = await BrokerAdmin.connect(url);
      try {
        await svc.waitFor('"msg":"consuming"');
        const replies = Array.from(
          { length: 50 },
          () =>
            cell.send(
              exchange,
              FIXTURE_KEY,
              buildRequest({ method: "GET", path: "/api/fixture/slow?ms=400" }),
              { timeoutMs: 10_000 },
            )
              .then(decodeReply),
        );
        await new Promise((r) => setTimeout(r, 150)); // all 50 are now in the handler
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
        await svc.end();
      }
    });

    await t.step(
      "a reply the broker cannot confirm (memory alarm) is requeued, not hung, and answered later",
      async () => {
        const exchange = uniqueName("fault.alarm");
        const queue = `${exchange}.q`;
        const svc = new Proc([
          ...fixtureArgs(url, exchange, queue),
          "--delay-ms",
          "2500", // long enough for rabbitmqctl (up to ~1 s) to raise the alarm first
          "--publish-timeout-ms",
          "500",
        ]);
        const cell = await CellClient.connect(url);
        try {
          await svc.waitFor('"msg":"consuming"');
          const reply = cell.send(
            exchange,
            "fixture",
            buildRequest({ method: "GET", path: "/api/slow" }),
            {
              timeoutMs: 20_000,
            },
          ).then(decodeReply);
          await new Promise((r) => setTimeout(r, 200)); // the request is in the handler now
          await broker.rabbitmqctl("set_vm_memory_high_watermark", "0"); // blocks every publisher
          await svc.waitFor('"disposition":"requeued"', 1, 10_000);
          await broker.rabbitmqctl("set_vm_memory_high_watermark", "0.4");
          const answered = await reply;
          console.log(
            `memory alarm: the unconfirmable reply was requeued after 500 ms, then answered ${answered.status}`,
          );
          assert.equal(answered.status, 200);
        } finally {
          await broker.rabbitmqctl("set_vm_memory_high_watermark", "0.4").catch(() => "");
          await cell.close();
          await svc.end();
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
            const status = await Promise.race([
              svc.child.status,
              new Promise<undefined>((r) => setTimeout(() => r(undefined), 5_000)),
            ]);
            if (status === undefined) break; // it survived: nothing left to crash on
            assert.equal(status.code, 3);
            crashes++;
            await svc.end();
            alive = false;
            if ((await admin.queueInfo(dlx))?.messages === 1) break;
            svc = serveFixture(url, exchange, queue, ...quorum);
            alive = true;
            // The redelivered poison may crash it before it logs that it is consuming.
            let exited = false;
            svc.child.status.then(() => (exited = true));
            const current = svc;
            await eventually(() => exited || current.log.includes('"msg":"consuming"'), 30_000);
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
