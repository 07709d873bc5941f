/**
 * @module `vcdext demo`: the service and a fake vCD REST API started in-process, then a cell
 * played against them through the real broker: API requests in XML and JSON, a vApp
 * notification (its audit line shown), two blocking tasks (one resumed, one aborted); each
 * exchange printed. Every exchange and queue is named for this run and deleted at the end.
 */

import { serve } from "../app/serve.ts";
import { DEFAULT_API_VERSION } from "../core/vcloud.ts";
import type { Extension } from "../core/extension.ts";
import { jsonNotificationExample } from "./notifications.ts";
import { createLogger, type LogSink } from "../observability/log.ts";
import { BrokerAdmin, CellClient } from "../transport/amqp/mod.ts";
import { buildRequest, decodeReply, demoRequests, describeExchange } from "./cell.ts";
import { FAKE_USER, type FakeVcd, startFakeVcd } from "./fake_vcd.ts";

/** What {@linkcode runDemo} needs from its caller. */
export interface DemoOptions {
  readonly amqpUrl: readonly string[];
  /** The registry holding `gcp-ticketing` and `vapp-policy`. */
  readonly registry: readonly Extension[];
  /** Where the service's warnings and errors go (its other log lines are not shown). */
  readonly warnings: LogSink;
  /** Where the exchanges are printed. */
  readonly print: (text: string) => void;
}

/** Runs the demo once; resolves when everything it created is deleted again. */
export async function runDemo(options: DemoOptions): Promise<void> {
  const { print } = options;
  // Names of this run only, all deleted at the end: two demos on one broker do not meet, and
  // the demo leaves nothing behind on it.
  const id = crypto.randomUUID().slice(0, 8);
  const exchange = `vcdext.demo.${id}`;
  const queue = `${exchange}.q`;
  const notifications = `${exchange}.notifications`;
  // Warnings go to stderr; the audit line the vApp policy logs is shown as part of the demo.
  const audit: string[] = [];
  const demoSink = {
    write(line: string) {
      if (line.includes('"audit":"vapp"')) audit.push(line.trim());
      else if (/"level":"(warn|error)"/.test(line)) options.warnings.write(line);
    },
  };
  const log = createLogger("info", demoSink);
  // A password made up per run and handed to both sides: nothing secret-looking is built
  // into the binary, and the service logs in as it would to a real cell.
  const vcd = await startFakeVcd({ password: crypto.randomUUID() });
  const cell = await CellClient.connect(options.amqpUrl);
  await cell.declareNotificationExchange(notifications); // vCD creates it, not vcdext
  const service = await serve(
    {
      amqpUrl: options.amqpUrl,
      exchange,
      queue,
      extension: ["gcp-ticketing", "vapp-policy"],
      prefetch: 16,
      drainMs: 2000,
      maxEnvelopeBytes: 1_048_576,
      maxBodyBytes: 524_288,
      handlerTimeoutMs: 8000,
      vcdTimeoutMs: 10_000,
      maxInFlight: 100,
      queueType: "classic",
      notificationsExchange: notifications,
      notificationsQueue: `${queue}.notifications`,
      vcdUrl: vcd.url,
      vcdUser: FAKE_USER,
      vcdPassword: vcd.password,
      // The fake listens on loopback over plain HTTP.
      vcdAllowHttp: true,
      vcdApiVersion: DEFAULT_API_VERSION,
    },
    { registry: options.registry, log, sink: demoSink },
    { queueArguments: { "x-expires": 60_000 } },
  );
  try {
    print(`vcdext demo: gcp-ticketing on exchange ${exchange}, queue ${queue}\n`);
    for (const step of demoRequests()) {
      const started = performance.now();
      const raw = await cell.send(exchange, "gcp-ticketing", buildRequest(step), {
        timeoutMs: 5000,
      });
      print(describeExchange(step, decodeReply(raw), performance.now() - started) + "\n");
    }

    print(`vapp-policy on ${notifications}, queue ${queue}.notifications, vCD at ${vcd.url}\n`);
    await playNotifications({ cell, vcd, notifications, id, audit, print });
    print("demo done: every exchange above went through the broker and back.");
  } finally {
    await cell.close();
    await service.stop(2000);
    await vcd.close();
    const admin = await BrokerAdmin.connect(options.amqpUrl);
    await admin.delete({
      queues: [queue, `${queue}.notifications`],
      exchanges: [exchange, notifications],
    });
    await admin.close();
  }
}

/** What {@linkcode playNotifications} plays against. */
interface Stage {
  readonly cell: CellClient;
  readonly vcd: FakeVcd;
  /** The run's notification exchange. */
  readonly notifications: string;
  /** The run's id, in the event ids. */
  readonly id: string;
  /** The audit lines the vApp policy logged so far. */
  readonly audit: readonly string[];
  readonly print: (text: string) => void;
}

/** The notification part: a vApp created (its audit line), then two blocking tasks decided. */
async function playNotifications({ cell, vcd, notifications, id, audit, print }: Stage) {
  const vappCreated = jsonNotificationExample({
    eventId: `demo-${id}-1`,
    type: "com/vmware/vcloud/event/vapp/create",
    entity: "urn:vcloud:vapp:3f2e0000-0000-4000-8000-000000000001",
    task: undefined,
    taskOwner: undefined,
    taskName: undefined,
  });
  await cell.publishNotification(notifications, vappCreated);
  print(`→ notification ${vappCreated.routingKey}`);
  await waitUntil(() => audit.length > 0, 5000);
  print(`← audit line: ${audit[0]}\n`);

  for (const [task, name] of [["bt-1", "prod-billing-api"], ["bt-2", "My Test vApp"]]) {
    vcd.addBlockingTask(task!, {
      operation: "vdcComposeVapp",
      target: { name: name!, href: `${vcd.url}/api/vApp/vapp-${task}` },
    });
    const blocked = jsonNotificationExample({
      eventId: `demo-${id}-${task}`,
      entity: `urn:vcloud:blockingTask:${task}`,
    });
    await cell.publishNotification(notifications, blocked);
    print(`→ notification ${blocked.routingKey}  (vApp "${name}" is being composed)`);
    await waitUntil(() => vcd.taskActions.some((a) => a.id === task), 5000);
    const action = vcd.taskActions.find((a) => a.id === task)!;
    print(
      `← vCD received POST /api/admin/extension/blockingTask/${task}/action/${action.action}: ` +
        `"${action.message}"\n`,
    );
  }
}

/** Polls `predicate` every 20 ms; throws after `ms`. */
async function waitUntil(predicate: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`the demo waited ${ms} ms in vain`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
