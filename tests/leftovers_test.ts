/**
 * Broker tests and the demo delete every exchange and queue they create. Everything that creates
 * broker objects as a side effect runs here in a virtual host of its own on the local broker
 * (other test runs share the broker, so its default vhost cannot be compared before and after):
 * `vcdext demo`, `vcdext serve` with `vcdext request` playing the cell, `vcdext check`, and a
 * test on the shared harness (`withService`, which most broker tests use). Each test deletes the
 * objects it names, as every broker test does; afterwards the vhost must hold no exchange and no
 * queue but RabbitMQ's own, whatever their names. The vhost is made and removed with
 * `rabbitmqctl`, so this needs the broker on this machine and root.
 */

import assert from "node:assert/strict";
import { ticketing } from "../handlers/ticketing.ts";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import { buildRequest, decodeReply, SAMPLE } from "../lib/sim/cell.ts";
import { AMQP_URL, uniqueName, withService } from "./broker.ts";
import { Proc } from "./proc.ts";
import { ignoreUnless } from "./skip.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const TICKETS = `/api/org/${SAMPLE.orgId}/ticketing`;

/** Runs `rabbitmqctl …args` and resolves with its standard output; rejects when it fails. */
async function rabbitmqctl(...args: string[]): Promise<string> {
  const out = await new Deno.Command("rabbitmqctl", { args, stdin: "null" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `rabbitmqctl ${args.join(" ")} exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

/** Whether this test can make a vhost on the broker the tests use, and if not, why. */
function vhostAvailable(): { ok: true } | { ok: false; reason: string } {
  const host = new URL(AMQP_URL).hostname;
  if (host !== "127.0.0.1" && host !== "localhost") {
    return { ok: false, reason: `the test broker ${host} is not on this machine (rabbitmqctl)` };
  }
  for (const name of ["run", "net", "env", "read"] as const) {
    if (Deno.permissions.querySync({ name }).state !== "granted") {
      return { ok: false, reason: `needs --allow-${name}` };
    }
  }
  try {
    new Deno.Command("rabbitmqctl", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
  } catch {
    return { ok: false, reason: "rabbitmqctl is not on PATH (apt-get install rabbitmq-server)" };
  }
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state !== "granted") {
    return { ok: false, reason: "needs --allow-sys (uid)" };
  }
  if (Deno.uid() !== 0) return { ok: false, reason: "rabbitmqctl add_vhost needs root" };
  return { ok: true };
}

/** Exchanges and queues in `vhost` other than RabbitMQ's own (`""`, `amq.*`). */
async function objectsIn(vhost: string): Promise<string[]> {
  const list = async (what: string, prefix: string) =>
    (await rabbitmqctl(`list_${what}`, "-p", vhost, "-q", "--no-table-headers", "name"))
      .split("\n").map((l) => l.trim()).filter((n) => n !== "" && !n.startsWith("amq."))
      .map((n) => `${prefix} ${n}`);
  return [...await list("exchanges", "exchange"), ...await list("queues", "queue")];
}

/** Runs `main.ts …args` to its end; fails with its output when the exit code is not `code`. */
async function vcdext(args: string[], code = 0): Promise<string> {
  const proc = new Proc([MAIN, ...args]);
  const status = await proc.wait();
  assert.equal(status.code, code, `vcdext ${args[0]} exited ${status.code}:\n${proc.log}`);
  return proc.log;
}

Deno.test({
  name: "the demo, serve + request, check and the test harness leave no exchange or queue",
  ignore: ignoreUnless("leftover check", vhostAvailable()),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const vhost = uniqueName("vcdext-leftovers");
    await rabbitmqctl("add_vhost", vhost);
    try {
      await rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
      const base = new URL(AMQP_URL);
      const url = `${base.protocol}//${base.username}:${base.password}@${base.host}/${vhost}`;
      const admin = await BrokerAdmin.connect(url);
      try {
        await t.step("vcdext demo", async () => {
          await vcdext(["demo", "--amqp-url", url]);
        });

        await t.step("vcdext serve, with vcdext request as the cell", async () => {
          const exchange = uniqueName("vcdext.test.left");
          const queue = `${exchange}.q`;
          const names = ["--amqp-url", url, "--exchange", exchange];
          const svc = new Proc([
            MAIN,
            "serve",
            ...names,
            "--queue",
            queue,
            "--extension",
            "gcp-ticketing",
          ]);
          try {
            await svc.waitFor('"msg":"consuming"');
            const out = new TextDecoder().decode(
              (await new Deno.Command(Deno.execPath(), {
                args: ["run", "-A", MAIN, "request", "GET", TICKETS, ...names],
                env: { NO_COLOR: "1" },
                stdin: "null",
              }).output()).stdout,
            );
            assert.match(out, /← 200 OK/);
            svc.kill("SIGTERM");
            assert.equal((await svc.wait()).code, 0, svc.log.slice(-1500));
          } finally {
            await svc.end();
            await admin.delete({ queues: [queue], exchanges: [exchange] }); // serve's own
          }
        });

        await t.step("vcdext check", async () => {
          const exchange = uniqueName("vcdext.test.left");
          const queue = `${exchange}.q`;
          // The exchange is missing, so check exits 1; its round trip still runs.
          await vcdext(
            [
              "check",
              "--amqp-url",
              url,
              "--exchange",
              exchange,
              "--queue",
              queue,
              "--extension",
              "gcp-ticketing",
            ],
            1,
          );
          // check declares the queue serve would use, and its round trip the exchange.
          await admin.delete({ queues: [queue], exchanges: [exchange] });
        });

        await t.step("a test on the shared harness", async () => {
          await withService(ticketing(), async (h) => {
            const reply = decodeReply(
              await h.cell.send(
                h.exchange,
                h.routingKey,
                buildRequest({ method: "GET", path: TICKETS }),
              ),
            );
            assert.equal(reply.status, 200);
          }, { url });
        });
      } finally {
        await admin.close();
      }

      // A connection's exclusive queue goes when the broker has seen the connection close:
      // give it up to 20 s (less than the 30 s x-expires of check's temporary queue, so that
      // expiry cannot pass for deletion), then name whatever is left.
      const until = Date.now() + 20_000;
      let left = await objectsIn(vhost);
      while (left.length > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 200));
        left = await objectsIn(vhost);
      }
      assert.deepEqual(left, [], `left on the broker: ${left.join(", ")}`);
    } finally {
      await rabbitmqctl("delete_vhost", vhost).catch(() => "");
    }
  },
});
