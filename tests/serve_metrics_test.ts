/**
 * Every metric `main.ts serve` wires up, scraped from its `/metrics` after traffic that should
 * move it: requests and their duration, in-flight, replies that failed, messages rejected,
 * reconnects (a proxy cuts the connection), notifications and blocking-task decisions (a fake
 * vCD REST API in this process answers the service's REST calls).
 */

import assert from "node:assert/strict";
import { buildRequest, SAMPLE } from "../lib/sim/cell.ts";
import { startFakeVcd } from "../lib/sim/fake_vcd.ts";
import { jsonNotificationExample } from "../lib/sim/notifications.ts";
import { eventually, uniqueName } from "./broker.ts";
import { BrokerProxy, RawCell, replyJson, sample, Serve, waitForLine } from "./entrypoint.ts";

const TICKETS = `/api/org/${SAMPLE.orgId}/ticketing`;
const EXT = 'extension="gcp-ticketing",transport="amqp"';
/** The duration histogram's labels for the ticket list: the route template, never the path. */
const LIST = `${EXT},route="GET /api/org/{org}/ticketing"`;

/** The one sample line of `family` whose labels match `labels`, e.g. `/status="200"/`. */
function line(text: string, family: string, labels: RegExp): string | undefined {
  return text.split("\n").find((l) => l.startsWith(`${family}{`) && labels.test(l));
}

Deno.test("serve's /metrics moves every metric: requests, duration, in-flight, failed replies, rejects, reconnects, notifications, decisions; /readyz follows the connection", async () => {
  const vcd = await startFakeVcd();
  const proxy = new BrokerProxy();
  const notifications = uniqueName("vcdext.test.notif");
  const cell = await RawCell.connect();
  await cell.channel.assertExchange(notifications, "topic", { durable: false, autoDelete: false });
  let serve: Serve | undefined;
  try {
    serve = await Serve.start({
      amqpUrl: proxy.url,
      extension: ["gcp-ticketing", "vapp-policy"],
      flags: [
        "--notifications-exchange",
        notifications,
        "--notifications-queue",
        `${notifications}.q`,
        "--vcd-url",
        vcd.url,
        "--vcd-allow-http",
      ],
      env: { VCDEXT_VCD_TOKEN: vcd.issueToken() },
      cleanup: { queues: [`${notifications}.q`], exchanges: [notifications] },
    });
    const s = serve;
    let m = await s.metrics();
    assert.equal(sample(m, "vcdext_reconnects_total"), 0);
    assert.equal(sample(m, "vcdext_in_flight"), 0);
    assert.equal(sample(m, `vcdext_request_duration_seconds_count{${LIST}}`), 0);

    // A request answered 200: requests_total and the duration histogram.
    const ok = await cell.send(
      s.exchange,
      "gcp-ticketing",
      buildRequest({ method: "GET", path: TICKETS }),
    );
    assert.equal(replyJson(ok).statusCode, 200);
    await waitForLine(s.proc, "request", (l) => l.disposition === "acked");
    m = await s.metrics();
    assert.match(
      line(m, "vcdext_requests_total", /status="200"/) ?? "",
      /ticketing",status="200"\} 1$/,
    );
    assert.equal(sample(m, `vcdext_request_duration_seconds_count{${LIST}}`), 1);

    // A reply exchange that does not exist: the reply fails, the message is rejected.
    cell.send(s.exchange, "gcp-ticketing", buildRequest({ method: "GET", path: TICKETS }), {
      replyToExchange: uniqueName("vcdext.test.nowhere"),
    }).catch(() => {});
    await waitForLine(s.proc, "request", (l) => l.disposition === "no-reply-exchange");
    // No reply coordinates at all: rejected without a reply.
    cell.publish(s.exchange, "gcp-ticketing", buildRequest({ method: "GET", path: TICKETS }).body, {
      correlationId: "no-reply-to",
    });
    await waitForLine(s.proc, "message rejected without requeue");
    m = await s.metrics();
    assert.equal(sample(m, `vcdext_replies_failed_total{${EXT},reason="no-reply-exchange"}`), 1);
    assert.equal(
      sample(m, `vcdext_messages_rejected_total{${EXT},reason="no-reply-coordinates"}`),
      1,
    );

    // In flight: a reply waiting for its confirm (withheld by the proxy) is still in flight.
    proxy.dropConfirms(1);
    await cell.send(s.exchange, "gcp-ticketing", buildRequest({ method: "GET", path: TICKETS }));
    assert.equal(sample(await s.metrics(), "vcdext_in_flight"), 1);
    await waitForLine(s.proc, "request", (l) => l.disposition === "requeued");
    await eventually(async () => sample(await s.metrics(), "vcdext_in_flight") === 0, 10_000);

    // A notification, then a blocking task the policy decides through the vCD REST API.
    const vapp = jsonNotificationExample({
      eventId: uniqueName("ev"),
      type: "com/vmware/vcloud/event/vapp/create",
      entity: "urn:vcloud:vapp:3f2e0000-0000-4000-8000-000000000001",
      task: undefined,
      taskOwner: undefined,
      taskName: undefined,
    });
    cell.publish(notifications, vapp.routingKey, vapp.body, { headers: { ...vapp.headers } });
    vcd.addBlockingTask("bt-1", {
      operation: "vdcComposeVapp",
      target: { name: "prod-billing", href: `${vcd.url}/api/vApp/vapp-bt-1` },
    });
    const blocked = jsonNotificationExample({
      eventId: uniqueName("ev"),
      entity: "urn:vcloud:blockingTask:bt-1",
    });
    cell.publish(notifications, blocked.routingKey, blocked.body, {
      headers: { ...blocked.headers },
    });
    await eventually(() => vcd.taskActions.some((a) => a.id === "bt-1"), 10_000);
    const action = vcd.taskActions.find((a) => a.id === "bt-1")!.action;
    await eventually(async () => {
      const text = await s.metrics();
      return sample(text, `vcdext_blocking_task_decisions_total{action="${action}"}`) === 1 &&
        line(text, "vcdext_notifications_total", /vapp\/create/) !== undefined;
    }, 10_000);
    m = await s.metrics();
    assert.match(line(m, "vcdext_notifications_total", /vapp\/create/)!, / 1$/);

    // A reconnect: the proxy cuts the connection and refuses new ones for a while (not ready),
    // then lets the service connect again by itself (ready, one reconnect counted).
    assert.equal(await s.readyz(), 200);
    proxy.refuse = true;
    proxy.cut();
    await eventually(async () => (await s.readyz()) === 503, 10_000);
    proxy.refuse = false;
    await s.proc.waitFor('"msg":"consuming"', 2);
    assert.equal(await s.readyz(), 200);
    assert.equal(sample(await s.metrics(), "vcdext_reconnects_total"), 1);
  } finally {
    await cell.close();
    await serve?.close();
    await proxy.close();
    await vcd.close();
  }
});
