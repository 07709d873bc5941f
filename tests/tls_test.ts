/**
 * AMQP over TLS against a private RabbitMQ node with a TLS listener (a throw-away CA, server
 * and client certificates generated with openssl at start): a service and a cell talk over
 * `amqps://`; a client without the CA is refused with a certificate error that names no
 * password; `insecure: true` connects without the CA; a client certificate is presented and
 * seen by the broker. Never touches the shared broker.
 */

import assert from "node:assert/strict";
import { ticketing } from "../handlers/ticketing.ts";
import {
  type AmqpTls,
  BrokerAdmin,
  CellClient,
  type RunningService,
  startService,
} from "../lib/transport/amqp/mod.ts";
import { buildRequest, decodeReply, SAMPLE } from "../lib/sim/cell.ts";
import { createLogger } from "../lib/observability/log.ts";
import { endpoint } from "../lib/core/service.ts";
import { uniqueName } from "./broker.ts";
import {
  privateBrokerAvailable,
  startPrivateBroker,
  type TlsPrivateBroker,
} from "./private_broker.ts";
import { ignoreUnless } from "./skip.ts";

const TICKETS = `/api/org/${SAMPLE.orgId}/ticketing`;
const ROUTING_KEY = ticketing().routingKey;

const skipped = ignoreUnless("TLS tests", privateBrokerAvailable({ tls: true }));

/** `rabbitmqctl list_connections` as rows of the given columns. */
async function connections(
  broker: TlsPrivateBroker,
  ...columns: string[]
): Promise<Record<string, string>[]> {
  const out = await broker.rabbitmqctl("list_connections", "-q", "--no-table-headers", ...columns);
  return out.split("\n").filter((l) => l.trim() !== "").map((line) => {
    const cells = line.split("\t");
    return Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? ""]));
  });
}

/** A POST and a GET through the service; both must come back with the right body. */
async function roundTrip(cell: CellClient, exchange: string, message: string): Promise<void> {
  const post = buildRequest({
    method: "POST",
    path: TICKETS,
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify({ message }),
  });
  const created = decodeReply(await cell.send(exchange, ROUTING_KEY, post, { timeoutMs: 10_000 }));
  assert.equal(created.id, post.id);
  assert.equal(created.status, 201, created.text);
  assert.equal(JSON.parse(created.text).message, message);
  const get = buildRequest({
    method: "GET",
    path: TICKETS,
    headers: { Accept: "application/json" },
  });
  const listed = decodeReply(await cell.send(exchange, ROUTING_KEY, get, { timeoutMs: 10_000 }));
  assert.equal(listed.status, 200, listed.text);
  assert.ok(listed.text.includes(message), listed.text);
}

/** Resolves with the error `promise` rejects with; fails if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection, got a connection");
}

Deno.test({
  name: "AMQP over TLS on a private RabbitMQ node",
  ignore: skipped,
  // amqplib leaves heartbeat timers and sockets to be reaped after close.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using broker = await startPrivateBroker({ tls: true });
    assert.equal(broker.tlsUrl, `amqps://guest:guest@127.0.0.1:${broker.tlsPort}`);
    assert.notEqual(broker.tlsPort, broker.port);
    const ca: AmqpTls = { ca: broker.caPem };
    const exchange = uniqueName("vcdext.tls");
    const queue = `${exchange}.q`;
    const logs: string[] = [];
    let service: RunningService | undefined;
    try {
      await t.step("a service over amqps:// answers a cell over amqps://", async () => {
        service = await startService({
          urls: [broker.tlsUrl],
          tls: ca,
          prefetch: 16,
          startupRetries: 1,
          log: createLogger("debug", { write: (line) => logs.push(line) }),
          consumers: [{
            label: "gcp-ticketing",
            queue,
            bindings: [{ exchange, type: "direct", keys: [ROUTING_KEY], declare: true }],
            handle: endpoint(ticketing()).handle,
          }],
        });
        const cell = await CellClient.connect(broker.tlsUrl, { tls: ca });
        try {
          await roundTrip(cell, exchange, "over TLS");
          const conns = await connections(broker, "port", "ssl", "ssl_protocol");
          console.log(`connections: ${JSON.stringify(conns)}`);
          assert.ok(conns.length >= 2, JSON.stringify(conns));
          for (const c of conns) {
            assert.equal(c.port, String(broker.tlsPort));
            assert.equal(c.ssl, "true");
          }
        } finally {
          await cell.close();
        }
      });

      await t.step(
        "without the CA the certificate is refused; no password in the error",
        async () => {
          const password = `S3cret-${crypto.randomUUID().slice(0, 8)}`;
          await broker.rabbitmqctl("add_user", "vcdext-tls", password);
          await broker.rabbitmqctl("set_permissions", "-p", "/", "vcdext-tls", ".*", ".*", ".*");
          const url = `amqps://vcdext-tls:${password}@127.0.0.1:${broker.tlsPort}`;
          const safe = `amqps://vcdext-tls:[redacted]@127.0.0.1:${broker.tlsPort}`;
          // The user and its password are right: with the CA it connects.
          await (await BrokerAdmin.connect(url, ca)).close();

          const errors = {
            admin: await rejection(BrokerAdmin.connect(url)),
            cell: await rejection(CellClient.connect(url, {})),
            service: await rejection(startService({
              urls: [url],
              prefetch: 1,
              startupRetries: 0,
              log: createLogger("debug", { write: (line) => logs.push(line) }),
              consumers: [],
            })),
          };
          for (const [who, error] of Object.entries(errors)) {
            console.log(`${who}: ${error.message}`);
            assert.ok(error.message.startsWith(`Cannot connect to ${safe}: `), error.message);
            assert.match(error.message, /certificate/i);
            assert.ok(!error.message.includes(password), error.message);
          }
          const leaked = logs.filter((l) => l.includes(password));
          assert.deepEqual(leaked, []);
        },
      );

      await t.step("insecure: true connects without the CA", async () => {
        const admin = await BrokerAdmin.connect(broker.tlsUrl, { insecure: true });
        try {
          assert.deepEqual(await admin.queueInfo(queue), { messages: 0, consumers: 1 });
        } finally {
          await admin.close();
        }
        const cell = await CellClient.connect(broker.tlsUrl, { tls: { insecure: true } });
        try {
          await roundTrip(cell, exchange, "insecure");
        } finally {
          await cell.close();
        }
      });

      await t.step("a client certificate is presented and seen by the broker", async () => {
        const cell = await CellClient.connect(broker.tlsUrl, {
          tls: { ca: broker.caPem, cert: broker.clientCertPem, key: broker.clientKeyPem },
        });
        try {
          await roundTrip(cell, exchange, "client certificate");
          const subjects = (await connections(broker, "ssl", "peer_cert_subject"))
            .filter((c) => c.ssl === "true" && c.peer_cert_subject !== "")
            .map((c) => c.peer_cert_subject);
          console.log(`client certificate subjects: ${JSON.stringify(subjects)}`);
          assert.equal(subjects.length, 1);
          assert.match(subjects[0]!, /CN=vcdext-test-client/);
        } finally {
          await cell.close();
        }
      });
    } finally {
      await service?.stop(2_000);
    }
  },
});
