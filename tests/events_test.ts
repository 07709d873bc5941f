/** eventProcessor() without a broker: matching, filters, retries, blocking-task decisions. */

import assert from "node:assert/strict";
import type { BlockingTask, Decision as BlockingDecision } from "../lib/core/blocking.ts";
import { type BlockingTaskGateway, eventProcessor } from "../lib/core/events.ts";
import { defineExtension, type Subscription } from "../lib/core/extension.ts";
import { silentLogger } from "../lib/observability/log.ts";
import { jsonNotificationExample, type NotificationMessage } from "../lib/sim/notifications.ts";
import type { Delivery } from "../lib/core/seam.ts";
import vappPolicy, { VAPP_NAME } from "../handlers/vapp_policy.ts";

const signal = new AbortController().signal;
const noTask = { task: undefined, taskOwner: undefined, taskName: undefined } as const;

function delivery(m: NotificationMessage): Delivery {
  return { content: m.body, topic: m.routingKey, headers: m.headers };
}

function ext(notifications: Subscription[]) {
  return defineExtension({ name: "t", namespace: "t", routingKey: "t", routes: [], notifications });
}

function fakeGateway(task: Partial<BlockingTask>, fail = 0) {
  const acted: BlockingDecision[] = [];
  let failures = fail;
  const gateway: BlockingTaskGateway = {
    fetch: (id) => Promise.resolve({ id, links: [], raw: undefined as never, ...task }),
    act: (_t, d) => {
      if (failures-- > 0) return Promise.reject(new Error("vCD 503"));
      acted.push(d);
      return Promise.resolve();
    },
  };
  return { gateway, acted };
}

Deno.test("eventProcessor() filters by type pattern, operationSuccess and entity kind", async () => {
  const seen: string[] = [];
  const p = eventProcessor([ext([
    { type: "vapp/*", operationSuccess: true, handle: (e) => void seen.push(`ok ${e.type}`) },
    { type: "**/delete", entityKind: "vm", handle: (e) => void seen.push(`vm ${e.type}`) },
  ])], { log: silentLogger, sleep: () => Promise.resolve() });
  const send = (o: Parameters<typeof jsonNotificationExample>[0]) =>
    p.handle(delivery(jsonNotificationExample({ ...noTask, ...o })), signal);
  assert.equal(
    (await send({ type: "com/vmware/vcloud/event/vapp/create", entity: "urn:vcloud:vapp:a" })).kind,
    "ack",
  );
  await send({
    type: "com/vmware/vcloud/event/vapp/create",
    entity: "urn:vcloud:vapp:a",
    operationSuccess: false,
  });
  await send({ type: "com/vmware/vcloud/event/vm/delete", entity: "urn:vcloud:vm:b" });
  await send({ type: "com/vmware/vcloud/event/vapp/delete", entity: "urn:vcloud:vapp:c" });
  assert.deepEqual(seen, [
    "ok com/vmware/vcloud/event/vapp/create",
    "vm com/vmware/vcloud/event/vm/delete",
    "ok com/vmware/vcloud/event/vapp/delete",
  ]);
  assert.deepEqual(
    [...p.bindingKeys].sort(),
    ["*.*.*.*.#.delete.#", "*.*.*.*.com.vmware.vcloud.event.vapp.*.#"].sort(),
  );
});

Deno.test("eventProcessor() retries a throwing handler, then rejects the event", async () => {
  let calls = 0;
  const waits: number[] = [];
  const p = eventProcessor([ext([{
    type: "vm/create",
    handle: () => {
      calls++;
      throw new Error("down");
    },
  }])], { log: silentLogger, retries: 2, sleep: (ms) => (waits.push(ms), Promise.resolve()) });
  const d = await p.handle(
    delivery(
      jsonNotificationExample({
        ...noTask,
        type: "com/vmware/vcloud/event/vm/create",
        entity: "urn:vcloud:vm:x",
      }),
    ),
    signal,
  );
  assert.equal(d.kind, "reject");
  assert.equal(calls, 3);
  assert.deepEqual(waits, [100, 200]);
});

Deno.test("eventProcessor() rejects an undecodable notification and acks an unmatched one", async () => {
  const outcomes: string[] = [];
  const p = eventProcessor([ext([{ type: "vapp/*", handle: () => {} }])], {
    log: silentLogger,
    sleep: () => Promise.resolve(),
    onEvent: (_t, o) => void outcomes.push(o),
  });
  const junk = await p.handle({
    content: new TextEncoder().encode("{}"),
    topic: "x",
    headers: {},
  }, signal);
  assert.equal(junk.kind, "reject");
  const other = await p.handle(
    delivery(
      jsonNotificationExample({
        ...noTask,
        type: "com/vmware/vcloud/event/user/import",
        entity: "urn:vcloud:user:u",
      }),
    ),
    signal,
  );
  assert.equal(other.kind, "ack");
  assert.deepEqual(outcomes, ["undecodable", "ignored"]);
});

Deno.test("the vApp policy resumes a well-named vApp's composition and aborts a badly named one", async () => {
  for (
    const [name, action] of [["prod-billing-api", "resume"], ["Billing API", "abort"], [
      "",
      "abort",
    ]] as const
  ) {
    const { gateway, acted } = fakeGateway({ operation: "vdcComposeVapp", owner: { name } });
    const p = eventProcessor([vappPolicy], {
      log: silentLogger,
      gateway,
      sleep: () => Promise.resolve(),
    });
    const d = await p.handle(delivery(jsonNotificationExample()), signal);
    assert.equal(d.kind, "ack");
    assert.equal(acted.length, 1, `one decision for ${JSON.stringify(name)}`);
    assert.equal(acted[0]!.action, action);
    assert.ok(acted[0]!.message.length > 0);
  }
  assert.ok(VAPP_NAME.test("dev-x1") && !VAPP_NAME.test("qa-x1"));
});

Deno.test("a blocking task is left alone when no rule covers its operation, and rejected without a gateway", async () => {
  const { gateway, acted } = fakeGateway({ operation: "vdcDeleteVapp" });
  const p = eventProcessor([vappPolicy], {
    log: silentLogger,
    gateway,
    sleep: () => Promise.resolve(),
  });
  const other = await p.handle(
    delivery(jsonNotificationExample({ taskName: "vdcDeleteVapp" })),
    signal,
  );
  assert.equal(other.kind, "ack");
  assert.equal(acted.length, 0);
  const blind = eventProcessor([vappPolicy], { log: silentLogger, sleep: () => Promise.resolve() });
  assert.equal((await blind.handle(delivery(jsonNotificationExample()), signal)).kind, "reject");
});

Deno.test("a failing decision post is retried and then succeeds once", async () => {
  const { gateway, acted } = fakeGateway({
    operation: "vdcComposeVapp",
    owner: { name: "test-app" },
  }, 1);
  const p = eventProcessor([vappPolicy], {
    log: silentLogger,
    gateway,
    sleep: () => Promise.resolve(),
  });
  assert.equal((await p.handle(delivery(jsonNotificationExample()), signal)).kind, "ack");
  assert.deepEqual(acted.map((a) => a.action), ["resume"]);
});
