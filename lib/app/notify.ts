/**
 * @module `vcdext notify`: play a vCD cell for one notification, so a subscription can be tried
 * live without vCD. Encodes the event exactly as a cell does ({@linkcode encodeNotification}:
 * routing key, `notification.*` headers, JSON or legacy XML body) and publishes it with a
 * {@linkcode CellClient} on the notifications exchange (declared durable, topic, as vCD does).
 */

import { type Command, Option } from "@commander-js/extra-typings";
import { DEFAULT_NOTIFICATIONS_EXCHANGE } from "../core/vcloud.ts";
import { SAMPLE } from "../sim/cell.ts";
import { encodeNotification, type NotificationMessage } from "../sim/notifications.ts";
import { CellClient } from "../transport/amqp/mod.ts";
import { UsageError } from "./config.ts";
import { amqpUrlOption } from "./flags.ts";

/** The flags of `vcdext notify` besides the event type. */
export interface NotifyOptions {
  amqpUrl: readonly string[];
  notificationsExchange: string;
  entity: string;
  org: string;
  user: string;
  operationSuccess: "true" | "false";
  xml?: true | undefined;
}

/**
 * The notification the flags describe, as a cell encodes it; a malformed URN or type is a
 * usage error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notificationFrom } from "./notify.ts";
 * const m = notificationFrom("com/vmware/vcloud/event/vm/create", {
 *   amqpUrl: ["amqp://x"],
 *   notificationsExchange: "vcd.notifications20",
 *   entity: "urn:vcloud:vm:3f2e",
 *   org: "urn:vcloud:org:1a2b",
 *   user: "urn:vcloud:user:8b7a",
 *   operationSuccess: "true",
 * });
 * assert.equal(m.routingKey, "true.3f2e.1a2b.8b7a.com.vmware.vcloud.event.vm.create");
 * ```
 */
export function notificationFrom(type: string, options: NotifyOptions): NotificationMessage {
  try {
    return encodeNotification({
      eventId: crypto.randomUUID(),
      type,
      entity: options.entity,
      org: options.org,
      user: options.user,
      operationSuccess: options.operationSuccess === "true",
      timestamp: new Date().toISOString(),
    }, options.xml ? "xml" : "json");
  } catch (e) {
    throw e instanceof TypeError ? new UsageError(e.message) : e;
  }
}

/** Publishes the notification and resolves with what was sent, described for a terminal. */
export async function sendNotification(type: string, options: NotifyOptions): Promise<string> {
  const message = notificationFrom(type, options);
  const cell = await CellClient.connect(options.amqpUrl);
  try {
    await cell.publishNotification(options.notificationsExchange, message);
  } finally {
    await cell.close();
  }
  const headers = Object.entries(message.headers).map(([k, v]) => `${k}: ${v}`);
  return [
    `→ ${options.notificationsExchange} ${message.routingKey}`,
    ...headers,
    "",
    new TextDecoder().decode(message.body),
  ].join("\n");
}

/** `notify`: publish one notification as a vCD cell does. */
export function notifyCommand(program: Command) {
  return program
    .command("notify")
    .description("play a vCD cell: publish one notification (JSON, or legacy XML with --xml)")
    .argument("<type>", "event type, e.g. com/vmware/vcloud/event/vm/create")
    .addOption(amqpUrlOption())
    .addOption(
      new Option("--notifications-exchange <name>", "as given to serve (its legacy one with --xml)")
        .default(DEFAULT_NOTIFICATIONS_EXCHANGE),
    )
    .addOption(
      new Option("--entity <urn>", "the entity, urn:vcloud:<kind>:<id>").makeOptionMandatory(),
    )
    .addOption(new Option("--org <urn>", "the entity's org").default(SAMPLE.org))
    .addOption(new Option("--user <urn>", "who did it").default(SAMPLE.user))
    .addOption(
      new Option("--operation-success <bool>", "whether the operation succeeded")
        .choices(["true", "false"] as const).default("true" as const),
    )
    .addOption(new Option("--xml", "the legacy XML body instead of JSON"));
}
