/**
 * Notifications and blocking tasks end to end: a cell publishes notifications on the real
 * broker, the service consumes its notifications queue, and blocking tasks are decided through a
 * local fake vCD REST server that enforces media types and the session token, answers 401 once
 * and 503 once, and records every call.
 */

import assert from "node:assert/strict";
import { BrokerAdmin, CellClient, startService } from "../lib/transport/amqp/mod.ts";
import { eventProcessor } from "../lib/core/events.ts";
import { defineExtension } from "../lib/core/extension.ts";
import { FAKE_USER, startFakeVcd } from "../lib/sim/fake_vcd.ts";
import { createLogger, silentLogger } from "../lib/observability/log.ts";
import { jsonNotificationExample, xmlNotificationExample } from "../lib/sim/notifications.ts";
import { blockingTaskGateway, VcdClient } from "../lib/vcd/client.ts";
import vappPolicy from "../handlers/vapp_policy.ts";
import { AMQP_URL, eventually, uniqueName } from "./broker.ts";

Deno.test("notifications and blocking tasks are handled through the broker and vCD's REST API", async () => {
  const vcd = await startFakeVcd({ failFirst401: true, fail5xxTimes: 1 });
  const exchange = uniqueName("vcdext.test.notifications");
  const queue = `${exchange}.q`;
  const logs: string[] = [];
  const log = createLogger("debug", { write: (line) => logs.push(line) });
  const client = new VcdClient({
    baseUrl: vcd.url,
    credentials: { user: FAKE_USER, password: vcd.password },
    allowHttp: true,
    log,
    sleep: () => Promise.resolve(),
  });
  let vmEvents = 0;
  const flaky = defineExtension({
    name: "flaky-audit",
    namespace: "com.example.flaky",
    routingKey: "flaky-audit",
    routes: [],
    notifications: [{
      type: "vm/*",
      handle(event) {
        vmEvents++;
        if (event.entity.endsWith("bad")) throw new Error("audit store unavailable");
      },
    }],
  });
  const events = eventProcessor([vappPolicy, flaky], {
    log,
    gateway: blockingTaskGateway(client, vcd.url),
    sleep: () => Promise.resolve(),
  });
  const admin = await BrokerAdmin.connect(AMQP_URL);
  await admin.declareExchange(exchange, "topic", true); // vCD creates it, not the service
  const service = await startService({
    urls: [AMQP_URL],
    prefetch: 16,
    log,
    consumers: [{
      label: "notifications",
      queue,
      bindings: [{ exchange, type: "topic", keys: events.bindingKeys, declare: false }],
      handle: events.handle,
    }],
  });
  const cell = await CellClient.connect(AMQP_URL);
  try {
    vcd.addBlockingTask("bt-good", {
      operation: "vdcComposeVapp",
      target: { name: "prod-billing", href: `${vcd.url}/api/vApp/vapp-1` },
    });
    vcd.addBlockingTask("bt-bad", {
      operation: "vdcInstantiateVapp",
      target: { name: "My VApp", href: `${vcd.url}/api/vApp/vapp-2` },
    });
    const vapp = { task: undefined, taskOwner: undefined, taskName: undefined } as const;
    await cell.publishNotification(
      exchange,
      jsonNotificationExample({
        ...vapp,
        eventId: "ev-vapp-create",
        type: "com/vmware/vcloud/event/vapp/create",
        entity: "urn:vcloud:vapp:3f2e0000-0000-4000-8000-000000000001",
      }),
    );
    await cell.publishNotification(
      exchange,
      jsonNotificationExample({
        eventId: "ev-bt-good",
        entity: "urn:vcloud:blockingTask:bt-good",
        taskName: "vdcComposeVapp",
      }),
    );
    await cell.publishNotification(
      exchange,
      xmlNotificationExample({
        eventId: "ev-bt-bad",
        entity: "urn:vcloud:blockingTask:bt-bad",
        taskName: "vdcInstantiateVapp",
      }),
    );
    await cell.publishNotification(
      exchange,
      jsonNotificationExample({
        ...vapp,
        eventId: "ev-vm-bad",
        type: "com/vmware/vcloud/event/vm/create",
        entity: "urn:vcloud:vm:bad",
      }),
    );
    await cell.publishNotification(
      exchange,
      jsonNotificationExample({
        ...vapp,
        eventId: "ev-vm-good",
        type: "com/vmware/vcloud/event/vm/create",
        entity: "urn:vcloud:vm:good",
      }),
    );
    // Not subscribed: must be acked and ignored, not block anything.
    await cell.publishNotification(
      exchange,
      jsonNotificationExample({
        ...vapp,
        eventId: "ev-login",
        type: "com/vmware/vcloud/event/session/login",
        entity: "urn:vcloud:user:u1",
      }),
    );

    await eventually(() => vcd.taskActions.length >= 2 && vmEvents >= 4, 30_000);
    await eventually(async () => (await admin.queueInfo(queue))?.messages === 0);
    await new Promise((r) => setTimeout(r, 300)); // a second decision would show by now

    assert.deepEqual(
      vcd.taskActions.map((a) => [a.id, a.action]).sort(),
      [["bt-bad", "abort"], ["bt-good", "resume"]],
    );
    const posts = vcd.calls.filter((c) => c.method === "POST" && c.path.includes("/action/"));
    for (const post of posts) {
      assert.equal(
        post.headers["content-type"],
        "application/vnd.vmware.admin.blockingTaskOperationParams+xml",
      );
      assert.match(post.body, /<vmext:Message>.+<\/vmext:Message>/);
    }
    assert.equal(
      posts.filter((p) => p.status === 204).length,
      2,
      "not exactly one accepted POST per task",
    );
    assert.match(
      vcd.taskActions.find((a) => a.id === "bt-bad")!.message,
      /breaks the naming policy/,
    );
    // The 401 made the client log in again; the 503 was retried.
    assert.equal(vcd.calls.filter((c) => c.path === "/api/sessions").length, 2);
    assert.ok(vcd.calls.some((c) => c.status === 503), "the fake never answered 503");
    // The audit line, the failing handler (3 attempts) and the next event still handled.
    assert.ok(logs.some((l) => l.includes('"audit":"vapp"') && l.includes("ev-vapp-create")));
    assert.equal(
      vmEvents,
      4,
      "the failing vm handler was not retried exactly twice, or the next event was lost",
    );
    assert.ok(
      logs.some((l) =>
        l.includes("notification handler failed 3 times") && l.includes("ev-vm-bad")
      ),
    );
    const all = logs.join("\n");
    assert.ok(!all.includes(vcd.password), "the vCD password reached the log");
    for (const token of vcd.issuedTokens) {
      assert.ok(!all.includes(token), "a vCD session token reached the log");
    }
  } finally {
    await cell.close();
    await service.stop(1_000);
    client.close();
    await admin.delete({ queues: [queue], exchanges: [exchange] });
    await admin.close();
    await vcd.close();
  }
});

Deno.test("a notification exchange that vCD creates after vcdext started is bound when it appears", async () => {
  const exchange = uniqueName("vcdext.test.late");
  const queue = `${exchange}.q`;
  const logs: string[] = [];
  const seen: string[] = [];
  const ext = defineExtension({
    name: "late",
    namespace: "com.example.late",
    routingKey: "late",
    routes: [],
    notifications: [{ type: "vapp/*", handle: (e) => void seen.push(e.id) }],
  });
  const events = eventProcessor([ext], { log: silentLogger, sleep: () => Promise.resolve() });
  const admin = await BrokerAdmin.connect(AMQP_URL);
  const service = await startService({
    urls: [AMQP_URL],
    prefetch: 4,
    log: createLogger("info", { write: (line) => logs.push(line) }),
    missingExchangeCheckMs: 100,
    consumers: [{
      label: "notifications",
      queue,
      bindings: [{ exchange, type: "topic", keys: events.bindingKeys, declare: false }],
      handle: events.handle,
    }],
  });
  const cell = await CellClient.connect(AMQP_URL);
  try {
    assert.ok(logs.some((l) => l.includes("exchange does not exist (yet)")));
    await cell.declareNotificationExchange(exchange); // vCD enables notifications now
    await eventually(() => logs.some((l) => l.includes("exchange appeared; bound")), 30_000);
    await cell.publishNotification(
      exchange,
      jsonNotificationExample({
        eventId: "late-1",
        type: "com/vmware/vcloud/event/vapp/create",
        entity: "urn:vcloud:vapp:late",
        task: undefined,
        taskOwner: undefined,
        taskName: undefined,
      }),
    );
    await eventually(() => seen.length === 1, 30_000);
    assert.deepEqual(seen, ["late-1"]);
  } finally {
    await cell.close();
    await service.stop(1_000);
    await admin.delete({ queues: [queue], exchanges: [exchange] });
    await admin.close();
  }
});
