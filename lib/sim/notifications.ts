/**
 * @module Notifications as a vCD cell publishes them (wire-format doc, section 6): encodes an
 * event exactly as a cell does (routing key, `notification.*` headers, JSON or legacy XML
 * body) and builds sample ones, for the simulator, the demo and tests. Strict in what it
 * sends. The decoder, what vcdext reads, is lib/core/notification.ts.
 */

import { el, renderXml } from "../core/xml.ts";
import { VMEXT_NS } from "../core/vcloud.ts";

const encoder = new TextEncoder();

/**
 * A notification to encode with {@linkcode encodeNotification}. Ids are URNs; the routing key
 * and headers get their bare ids.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeNotification, type NotificationInput } from "./notifications.ts";
 * const input: NotificationInput = {
 *   eventId: "e1",
 *   type: "com/vmware/vcloud/event/vm/delete",
 *   entity: "urn:vcloud:vm:3f2e",
 *   org: "urn:vcloud:org:1a2b",
 *   user: "urn:vcloud:user:8b7a",
 *   operationSuccess: false,
 *   timestamp: "2024-05-14T09:30:12.345+02:00",
 * };
 * assert.equal(encodeNotification(input, "json").routingKey, "false.3f2e.1a2b.8b7a.com.vmware.vcloud.event.vm.delete");
 * ```
 */
export interface NotificationInput {
  /** Unique event id. */
  readonly eventId: string;
  /** Slash form, e.g. `com/vmware/vcloud/event/vapp/create`. */
  readonly type: string;
  /** `urn:vcloud:<kind>:<id>`. */
  readonly entity: string;
  /** `urn:vcloud:org:<id>`. */
  readonly org: string;
  /** `urn:vcloud:user:<id>`. */
  readonly user: string;
  readonly operationSuccess: boolean;
  /** ISO-8601 with offset. */
  readonly timestamp: string;
  /** `urn:vcloud:task:<id>`, for task and blocking-task events. */
  readonly task?: string;
  /** URN of the object the task works on. */
  readonly taskOwner?: string;
  /** The task's operation name, appended to the routing key. */
  readonly taskName?: string;
  /** XML only: the cell's entity resolver, e.g. `https://vcd.example.com/api/entity/`. */
  readonly entityResolver?: string;
}

/**
 * A notification ready to publish; a core `NotificationDelivery` (what the decoder reads).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type NotificationMessage, xmlNotificationExample } from "./notifications.ts";
 * const message: NotificationMessage = xmlNotificationExample();
 * assert.equal(message.headers["notification.entityType"], "blockingTask");
 * ```
 */
export interface NotificationMessage {
  readonly routingKey: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

const STRICT_URN = /^urn:vcloud:([A-Za-z][A-Za-z0-9]*):([A-Za-z0-9][A-Za-z0-9_-]*)$/;

function encodeUrn(value: unknown, what: string): { kind: string; id: string } {
  const m = typeof value === "string" ? STRICT_URN.exec(value) : null;
  if (m === null || m[1] === undefined || m[2] === undefined) {
    throw new TypeError(
      `Cannot encode notification: ${what} must be a urn:vcloud:<kind>:<id> URN, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return { kind: m[1], id: m[2] };
}

function checkText(value: unknown, what: string, word = false): string {
  if (typeof value !== "string" || value === "" || (word && /[.*#\s]/.test(value))) {
    throw new TypeError(
      `Cannot encode notification: ${what} must be a non-empty string` +
        (word ? ' without ".", "*", "#" or spaces' : ""),
    );
  }
  return value;
}

/**
 * Encodes a notification exactly as a cell publishes it: routing key
 * `operationSuccess.entity.org.user.type…[.taskName]` with bare ids (§6.2), the
 * `notification.*` headers with bare ids (§6.3), and the body (§6.4): a JSON object with URNs,
 * or the legacy XML `vmext:Notification` with `EntityLink`s. Strict: throws `TypeError` when
 * an id is not a `urn:vcloud:<kind>:<id>` URN, or the type or task name could not travel in a
 * routing key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeNotification } from "../core/notification.ts";
 * import { encodeNotification } from "./notifications.ts";
 * const input = {
 *   eventId: "e1",
 *   type: "com/vmware/vcloud/event/vapp/create",
 *   entity: "urn:vcloud:vapp:3f2e",
 *   org: "urn:vcloud:org:1a2b",
 *   user: "urn:vcloud:user:8b7a",
 *   operationSuccess: true,
 *   timestamp: "2024-05-14T09:30:12.345+02:00",
 * };
 * const message = encodeNotification(input, "xml");
 * assert.equal(message.headers["notification.entityUUID"], "3f2e");
 * assert.equal(decodeNotification(message).entity, "urn:vcloud:vapp:3f2e");
 * ```
 */
export function encodeNotification(
  event: NotificationInput,
  format: "json" | "xml",
): NotificationMessage {
  if (format !== "json" && format !== "xml") {
    throw new TypeError(`Cannot encode notification: unknown format ${JSON.stringify(format)}`);
  }
  const eventId = checkText(event.eventId, "eventId");
  const type = checkText(event.type, "type");
  const typeWords = type.split("/");
  typeWords.forEach((w) => checkText(w, `every segment of type ${JSON.stringify(type)}`, true));
  if (typeof event.operationSuccess !== "boolean") {
    throw new TypeError("Cannot encode notification: operationSuccess must be a boolean");
  }
  const timestamp = checkText(event.timestamp, "timestamp");
  const entity = encodeUrn(event.entity, "entity");
  const org = encodeUrn(event.org, "org");
  const user = encodeUrn(event.user, "user");
  const task = event.task === undefined ? undefined : encodeUrn(event.task, "task");
  const owner = event.taskOwner === undefined ? undefined : encodeUrn(event.taskOwner, "taskOwner");
  const taskName = event.taskName === undefined
    ? undefined
    : checkText(event.taskName, "taskName", true);

  const success = String(event.operationSuccess);
  const routingKey = [success, entity.id, org.id, user.id, ...typeWords, taskName]
    .filter((w) => w !== undefined).join(".");
  const headers: Record<string, string> = {
    "notification.type": type,
    "notification.entityType": entity.kind,
    "notification.entityUUID": entity.id,
    "notification.orgUUID": org.id,
    "notification.userUUID": user.id,
    "notification.operationSuccess": success,
  };
  if (task !== undefined) headers["notification.taskUUID"] = task.id;

  let body: string;
  if (format === "json") {
    body = JSON.stringify({
      eventId,
      type,
      operationSuccess: event.operationSuccess,
      timestamp,
      user: event.user,
      org: event.org,
      entity: event.entity,
      ...(task === undefined ? {} : { task: event.task }),
      ...(owner === undefined ? {} : { taskOwner: event.taskOwner }),
    });
  } else {
    const isTask = /^(?:task|blockingTask)$/.test(entity.kind);
    const link = (rel: string, urn: string | undefined, kind: string, name?: string) =>
      urn === undefined
        ? null
        : el("vmext:EntityLink", { rel, type: `vcloud:${kind}`, name, id: urn });
    body = renderXml(el(
      "vmext:Notification",
      { "xmlns:vmext": VMEXT_NS, type, eventId },
      event.entityResolver === undefined
        ? null
        : el("vmext:Link", { rel: "entityResolver", href: event.entityResolver }),
      link("entity", event.entity, entity.kind, isTask ? taskName : undefined),
      link("down", event.user, user.kind),
      link("up", event.org, org.kind),
      link("task", event.task, task?.kind ?? "task", taskName),
      link("task:owner", event.taskOwner, owner?.kind ?? ""),
      el("vmext:Timestamp", {}, timestamp),
      el("vmext:OperationSuccess", {}, success),
    ));
  }
  return { routingKey, headers, body: encoder.encode(body) };
}

/** The sample blocking-task event behind the example builders. */
const SAMPLE_EVENT: NotificationInput = {
  eventId: "55aba16e-427c-431a-9949-00db6aa78e5a",
  type: "com/vmware/vcloud/event/blockingtask/create",
  entity: "urn:vcloud:blockingTask:41aaf964-7452-42e6-9b8d-772e5f8421d8",
  org: "urn:vcloud:org:1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
  user: "urn:vcloud:user:8b7a6c5d-0000-4e3f-9a1b-2c3d4e5f6a7b",
  operationSuccess: true,
  timestamp: "2024-05-14T09:30:12.345+02:00",
  task: "urn:vcloud:task:a56be2f7-2cb4-4561-a7ef-ee2fdd2d3a15",
  taskOwner: "urn:vcloud:vapp:26839d04-5050-4702-a602-0667be86dad6",
  taskName: "vdcComposeVapp",
  entityResolver: "https://vcd.example.com/api/entity/",
};

/**
 * Overrides for the example builders; `undefined` removes an optional field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonNotificationExample, type NotificationOverrides } from "./notifications.ts";
 * const noTask: NotificationOverrides = { task: undefined, taskName: undefined };
 * assert.equal(jsonNotificationExample(noTask).headers["notification.taskUUID"], undefined);
 * ```
 */
export type NotificationOverrides = {
  readonly [K in keyof NotificationInput]?: NotificationInput[K] | undefined;
};

function sample(overrides: NotificationOverrides): NotificationInput {
  const merged: Record<string, unknown> = { ...SAMPLE_EVENT };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return merged as unknown as NotificationInput;
}

/**
 * A JSON notification as a cell publishes it: by default a blocking task created for a
 * `vdcComposeVapp` task; `overrides` change fields (`undefined` removes an optional one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeNotification } from "../core/notification.ts";
 * import { jsonNotificationExample } from "./notifications.ts";
 * const event = decodeNotification(jsonNotificationExample({ operationSuccess: false }));
 * assert.equal(event.type, "com/vmware/vcloud/event/blockingtask/create");
 * assert.equal(event.taskName, "vdcComposeVapp");
 * assert.equal(event.operationSuccess, false);
 * ```
 */
export function jsonNotificationExample(
  overrides: NotificationOverrides = {},
): NotificationMessage {
  return encodeNotification(sample(overrides), "json");
}

/**
 * The legacy XML form of {@linkcode jsonNotificationExample}, with the same defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeNotification } from "../core/notification.ts";
 * import { xmlNotificationExample } from "./notifications.ts";
 * const message = xmlNotificationExample({
 *   type: "com/vmware/vcloud/event/vapp/create",
 *   entity: "urn:vcloud:vapp:3f2e",
 *   task: undefined,
 *   taskOwner: undefined,
 *   taskName: undefined,
 * });
 * const event = decodeNotification(message);
 * assert.equal(event.format, "xml");
 * assert.equal(event.entityKind, "vapp");
 * assert.equal(event.task, undefined);
 * ```
 */
export function xmlNotificationExample(overrides: NotificationOverrides = {}): NotificationMessage {
  return encodeNotification(sample(overrides), "xml");
}
